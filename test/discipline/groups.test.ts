/**
 * A campaign with no cps and no channel cap is enqueued as jobs of
 * DIAL_GROUP contacts: the same promises hold for every contact of a group
 * (dialed once, paused within a second, cancelled, handed back on SIGTERM).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIAL_GROUP, makeFeeder } from '../../src/dispatch/feeder.js';
import { readJobData } from '../../src/dispatch/processor.js';
import type { Container } from '../../src/app/container.js';
import { startCluster, tally, type Cluster } from './fixtures/cluster.js';

/** A feeder on the test's own container: it enqueues a campaign's contacts before any worker runs. */
function feederOf(c: Container) {
  return makeFeeder({ campaigns: c.campaigns, cache: c.cache, contacts: c.contacts, queues: c.queues, service: c.service, pacer: c.pacer, now: Date.now, log: c.log });
}

/** Longer than the campaign cache (1 s) plus a request in flight: after it, no worker may still dial. */
const GRACE_MS = 2_500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dial job data', () => {
  it('reads one contact or a group, and refuses anything else', () => {
    expect(readJobData({ idx: 3, n: 1 })).toEqual({ contacts: [{ idx: 3, n: 1 }], grouped: false });
    expect(
      readJobData({
        group: [
          [0, 1],
          [7, 2],
        ],
      }),
    ).toEqual({
      contacts: [
        { idx: 0, n: 1 },
        { idx: 7, n: 2 },
      ],
      grouped: true,
    });
    // With the row and state the feeder took: carried to the dial.
    expect(readJobData({ idx: 3, n: 1, row: '[1]', st: '{}' })).toEqual({ contacts: [{ idx: 3, n: 1, carried: { row: '[1]', st: '{}' } }], grouped: false });
    expect(readJobData({ group: [[4, 2, '[1]', '{}'], [5, 1]] })).toEqual({
      contacts: [{ idx: 4, n: 2, carried: { row: '[1]', st: '{}' } }, { idx: 5, n: 1 }],
      grouped: true,
    });
    const refused = [
      ...[null, 'x', {}, { idx: -1, n: 1 }, { idx: 1, n: 0 }, { idx: 1.5, n: 1 }, { idx: 1, n: 1, row: '[1]' }, { idx: 1, n: 1, row: 3, st: '{}' }],
      ...[{ group: [] }, { group: [[1]] }, { group: [[1, 0]] }, { group: [[1, 1], 'x'] }, { group: {} }, { group: [[1, 1, '[1]']] }, { group: [[1, 1, '[1]', null]] }],
    ];
    for (const bad of refused) {
      expect(readJobData(bad)).toBeNull();
    }
  });
});

describe('contacts dialed in groups across worker processes', () => {
  let cl: Cluster;

  beforeAll(async () => {
    // Every answer takes 400 ms: groups are in hand when the campaign is paused or a worker stops.
    cl = await startCluster('disc-grp', { slowResponseMs: 400, mix: { answered: 1 } }, { SIPCALL_MAX_CPS: '0' });
  }, 60_000);
  afterAll(async () => {
    await cl?.h.container.pacer.setAccountLimits('sipcall', { cps: 0, maxConcurrent: 0 });
    await cl?.close();
  }, 60_000);

  it('a contact whose state changed after it was fed is not dialed: the state carried in the job is only a first guess', async () => {
    const contacts = 30;
    const { id, numbers } = await cl.campaign({ contacts, cps: 0, maxConcurrent: 0 });
    const c = cl.h.container;
    const feeder = feederOf(c);
    expect(await feeder.tick()).toBe(contacts);
    // Two contacts already in group jobs are ended behind the jobs' backs (as a cancel of one contact would).
    const ended = [3, 17];
    for (const idx of ended) expect(await c.service.endContact(id, idx, 'cancelled', 'ended after it was fed')).toBe(true);

    const w = cl.spawn({ concurrency: 20 });
    await w.ready;
    const final = await cl.untilAllFinal(id, contacts, 60_000);
    const ledger = cl.ledgerOf(id);
    expect(new Set(ledger.map((e) => e.number))).toEqual(new Set(numbers.filter((_, i) => !ended.includes(i))));
    expect(ledger.length).toBe(contacts - ended.length);
    for (const k of final) expect(k.status).toBe(ended.includes(k.idx) ? 'cancelled' : 'answered');
    w.kill('SIGTERM');
    await w.exited;
  }, 120_000);

  it('enqueues groups, and pause, resume and cancel hold for every contact of a group', async () => {
    const contacts = 400;
    const { id, numbers } = await cl.campaign({ contacts, cps: 0, maxConcurrent: 0 });
    // Before any worker runs: the feeder's jobs hold DIAL_GROUP contacts each.
    const c = cl.h.container;
    const feeder = feederOf(c);
    expect(await feeder.tick()).toBeGreaterThan(0);
    const waiting = await cl.h.container.queues.get(id).getJobs(['waiting'], 0, 1000);
    expect(waiting.length).toBeGreaterThan(0);
    const fed = waiting.map((j) => readJobData(j.data));
    expect(fed.every((d) => d?.grouped === true && d.contacts.length <= DIAL_GROUP)).toBe(true);
    expect(fed.filter((d) => d?.contacts.length === DIAL_GROUP).length).toBeGreaterThanOrEqual(fed.length - 1);
    expect(new Set(fed.flatMap((d) => d?.contacts.map((k) => k.idx) ?? [])).size).toBe(fed.reduce((a, d) => a + (d?.contacts.length ?? 0), 0));
    // Each carries its row and its state as the take wrote them: the dial reads neither.
    for (const d of fed) for (const k of d?.contacts ?? []) expect(k.carried?.st).toBe((await c.contacts.state(id, k.idx)).raw);

    const workers = [cl.spawn({ concurrency: 20 }), cl.spawn({ concurrency: 20 })];
    await Promise.all(workers.map((w) => w.ready));
    await cl.untilRequests(id, 30);
    await cl.h.container.control.pause(id);
    await sleep(GRACE_MS);
    const atPause = cl.ledgerOf(id).length;
    expect(atPause).toBeLessThan(contacts);
    await sleep(2 * GRACE_MS);
    // While paused the ledger does not grow: no contact of any group in hand was dialed.
    expect(cl.ledgerOf(id).length).toBe(atPause);

    await cl.h.container.control.resume(id);
    await cl.untilRequests(id, atPause + 30);
    await cl.h.container.control.cancel(id);
    const final = await cl.untilAllFinal(id, contacts, 60_000);
    const ledger = cl.ledgerOf(id);
    expect(ledger.length).toBeLessThan(contacts);
    expect(new Set(ledger.map((e) => e.customuuid)).size).toBe(ledger.length);
    expect([...tally(ledger.map((e) => e.number)).values()].every((n) => n === 1)).toBe(true);
    const dialed = new Set(ledger.map((e) => e.number));
    for (const c of final) expect(c.status).toBe(dialed.has(c.number) ? 'answered' : 'cancelled');
    expect(final.filter((c) => c.status === 'cancelled').length).toBe(numbers.length - dialed.size);
    await Promise.all(workers.map((w) => w.stop(10_000)));
  }, 180_000);

  it('SIGTERM hands back the contacts of a group still waiting for a slot; each is dialed once by the next worker', async () => {
    // The account's pace keeps most of each group waiting for a slot when the signal lands.
    await cl.h.container.pacer.setAccountLimits('sipcall', { cps: 8, maxConcurrent: 0 });
    const contacts = 40;
    const first = cl.spawn({ concurrency: 20, graceMs: 8_000 });
    await first.ready;
    const { id, numbers } = await cl.campaign({ contacts, cps: 0, maxConcurrent: 0 });
    await cl.untilRequests(id, 3);
    first.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null, stopped: true });
    const sentByFirst = cl.ledgerOf(id).length;
    expect(sentByFirst).toBeLessThan(contacts);

    await cl.spawn({ concurrency: 20, graceMs: 8_000 }).ready;
    const final = await cl.untilAllFinal(id, contacts, 120_000);
    const ledger = cl.ledgerOf(id);
    expect(new Set(ledger.map((e) => e.customuuid)).size).toBe(ledger.length);
    // Every number dialed exactly once, all answered: nothing handed back was lost or dialed twice.
    expect([...tally(ledger.map((e) => e.number)).entries()].sort()).toEqual(numbers.map((n) => [n, 1]).sort());
    expect(final.every((c) => c.status === 'answered')).toBe(true);
  }, 180_000);
});
