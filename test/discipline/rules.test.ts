/**
 * Every rule holds at the moment of the call, with several worker processes
 * at a low rate (many contacts in hand, each waiting seconds for its slot):
 * a number put on a DNC list, a pause or a cancel, a calling window that
 * closes, a campaign that expires and a frequency cap all take effect for
 * the contacts already in hand, not only for those picked up afterwards.
 * Arrival times are the simulator's (same machine, same clock).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, tally, type Cluster } from './fixtures/cluster.js';

/** Slack between "the call left" and "the simulator received it" on loopback. */
const ARRIVAL_SLACK_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stored E.164 key of some contacts (what DNC lists and caps hold). */
async function e164Of(cl: Cluster, id: string, from: number, count: number): Promise<{ e164: string; number: string }[]> {
  const rows = await cl.h.container.contacts.range(id, from, count);
  return rows.map((r) => ({ e164: r.row?.e ?? '', number: r.row?.v[1] ?? '' }));
}

describe('rules at the moment of the call, across worker processes', () => {
  let cl: Cluster;

  beforeAll(async () => {
    cl = await startCluster('disc-rules', { mix: { answered: 1 } });
    await Promise.all([cl.spawn({ concurrency: 10 }).ready, cl.spawn({ concurrency: 10 }).ready]);
  }, 60_000);
  afterAll(async () => cl?.close(), 60_000);

  it('a number whose dnc add has returned is never dialed afterwards; nothing leaves after cancel returned', async () => {
    const list = `mid-${Date.now()}`;
    const { id } = await cl.campaign({ contacts: 30, cps: 2, definition: { dnc: [list] } });
    await cl.untilRequests(id, 3);
    // Five contacts further down the list: in hand in one of the workers, waiting for their slots.
    const listed = await e164Of(cl, id, 8, 5);
    await cl.h.container.dnc.add(list, listed.map((c) => c.e164));
    const addedAt = Date.now();
    // The campaign runs on past them: each is refused when its turn comes.
    const until = Date.now() + 60_000;
    while ((await cl.contacts(id, 30)).slice(8, 13).some((c) => c.status === 'pending') && Date.now() < until) await sleep(200);
    await cl.untilRequests(id, cl.ledgerOf(id).length + 2);
    await cl.h.container.control.cancel(id);
    const cancelledAt = Date.now();
    const final = await cl.untilAllFinal(id, 30, 60_000);

    const ledger = cl.ledgerOf(id);
    const onList = new Set(listed.map((c) => c.number));
    const afterAdd = ledger.filter((e) => e.number !== null && onList.has(e.number) && e.at > addedAt);
    expect(afterAdd).toEqual([]);
    expect(ledger.filter((e) => e.at > cancelledAt + ARRIVAL_SLACK_MS)).toEqual([]);
    const dialed = new Set(ledger.map((e) => e.number));
    for (const c of final) {
      if (dialed.has(c.number)) expect(c.status).toBe('answered');
      else expect(c.status).toBe(onList.has(c.number) ? 'dnc' : 'cancelled');
    }
    expect(final.filter((c) => c.status === 'dnc').length).toBe([...onList].filter((n) => !dialed.has(n)).length);
    expect(final.filter((c) => c.status === 'dnc').length).toBeGreaterThan(0);
  }, 120_000);

  it('nothing leaves after pause returned, and the campaign resumes where it was', async () => {
    const { id } = await cl.campaign({ contacts: 16, cps: 2 });
    await cl.untilRequests(id, 3);
    await cl.h.container.control.pause(id);
    const pausedAt = Date.now();
    await sleep(3_000);
    expect(cl.ledgerOf(id).filter((e) => e.at > pausedAt + ARRIVAL_SLACK_MS)).toEqual([]);
    await cl.h.container.control.resume(id);
    const final = await cl.untilAllFinal(id, 16, 60_000);
    expect(final.every((c) => c.status === 'answered')).toBe(true);
    const ledger = cl.ledgerOf(id);
    expect(ledger.length).toBe(16);
    expect([...tally(ledger.map((e) => e.number)).values()].every((n) => n === 1)).toBe(true);
  }, 120_000);

  it('nothing leaves after the campaign expires; what is left ends expired and the campaign completes', async () => {
    const expiresAt = Date.now() + 5_000;
    const { id } = await cl.campaign({ contacts: 30, cps: 1, definition: { window: { expires: new Date(expiresAt).toISOString() } } });
    const final = await cl.untilAllFinal(id, 30, 60_000);
    const ledger = cl.ledgerOf(id);
    expect(ledger.length).toBeGreaterThan(0);
    expect(ledger.filter((e) => e.at > expiresAt + ARRIVAL_SLACK_MS)).toEqual([]);
    const dialed = new Set(ledger.map((e) => e.number));
    for (const c of final) expect(c.status).toBe(dialed.has(c.number) ? 'answered' : 'expired');
    expect(final.filter((c) => c.status === 'expired').length).toBe(30 - ledger.length);
    expect((await cl.h.container.campaigns.get(id))?.state).toBe('completed');
  }, 120_000);

  it('no request leaves after its contact’s calling window closed (hours in the contact’s zone)', async () => {
    // A window that closes at the next whole minute (UTC): wait for a minute with at least 8 s left.
    if (60 - new Date().getUTCSeconds() < 8) await sleep((61 - new Date().getUTCSeconds()) * 1000);
    const now = new Date();
    const closesAt = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours(), now.getUTCMinutes() + 1);
    const hhmm = (t: number): string => new Date(t).toISOString().slice(11, 16);
    const open = hhmm(closesAt - 10 * 60_000);
    const close = hhmm(closesAt) === '00:00' ? '24:00' : hhmm(closesAt);
    const hours = open < close ? `${open}-${close}` : `00:00-${close}`;
    const { id } = await cl.campaign({ contacts: 100, cps: 1, definition: { window: { hours, timezone: 'UTC' } } });
    await cl.untilRequests(id, 2);
    // Wait until the window has closed and every worker has had time to try what it holds.
    await sleep(Math.max(0, closesAt - Date.now()) + 3_000);
    const ledger = cl.ledgerOf(id);
    expect(ledger.length).toBeGreaterThan(1);
    expect(ledger.length).toBeLessThan(100);
    expect(ledger.filter((e) => e.at > closesAt + ARRIVAL_SLACK_MS)).toEqual([]);
    // The others wait for tomorrow's window, none dialed, none lost: cancel ends them.
    const contacts = await cl.contacts(id, 100);
    expect(contacts.filter((c) => c.status === 'pending').length).toBe(100 - ledger.length);
    await cl.h.container.control.cancel(id);
    const final = await cl.untilAllFinal(id, 100, 30_000);
    expect(final.filter((c) => c.status === 'cancelled').length).toBe(100 - ledger.length);
  }, 180_000);
});

describe('frequency caps across campaigns and worker processes', () => {
  let cl: Cluster;

  beforeAll(async () => {
    // Deployment-wide: at most 2 attempts per number an hour.
    cl = await startCluster('disc-freq', { mix: { busy: 1 } }, { AUTODIALER_FREQUENCY_CAP: '2/1h' });
    await Promise.all([cl.spawn({ concurrency: 10 }).ready, cl.spawn({ concurrency: 10 }).ready]);
  }, 60_000);
  afterAll(async () => cl?.close(), 60_000);

  it('a campaign’s own stricter cap spaces its retries; the deployment’s cap spans campaigns; a contact the cap holds past expiry ends expired', async () => {
    // Busy numbers retried after 1 s, but the campaign allows one call per number every 3 s.
    const first = await cl.campaign({
      contacts: 4,
      cps: 5,
      maxAttempts: 3,
      retry: ['busy=1s,1s'],
      definition: { frequencyCap: '1/3s', window: { expires: new Date(Date.now() + 20_000).toISOString() } },
    });
    const final1 = await cl.untilAllFinal(first.id, 4, 60_000);
    const ledger1 = cl.ledgerOf(first.id);
    // Two calls per number (the deployment's 2/1h), at least 3 s apart (the campaign's 1/3s); the third
    // attempt would be allowed only in an hour, after the campaign expires: expired, never dialed.
    for (const [number, times] of groupTimes(ledger1)) {
      expect(times.length, `calls to ${number}`).toBe(2);
      expect(times[1]! - times[0]!, `gap between the calls to ${number}`).toBeGreaterThanOrEqual(3_000 - ARRIVAL_SLACK_MS);
    }
    expect(final1.map((c) => c.status)).toEqual(['expired', 'expired', 'expired', 'expired']);

    // Another campaign over the same numbers and two new ones: the capped ones are never dialed.
    const expiresAt = Date.now() + 4_000;
    const second = await cl.campaign({ contacts: 6, cps: 5, definition: { window: { expires: new Date(expiresAt).toISOString() } } });
    const final2 = await cl.untilAllFinal(second.id, 6, 60_000);
    const ledger2 = cl.ledgerOf(second.id);
    expect(ledger2.map((e) => e.number).sort()).toEqual(second.numbers.slice(4).sort());
    expect(final2.map((c) => c.status)).toEqual(['expired', 'expired', 'expired', 'expired', 'busy', 'busy']);

    // Without an expiry they wait for the cap, and the status says so; a cancel ends them.
    const third = await cl.campaign({ contacts: 4, cps: 5 });
    const until = Date.now() + 30_000;
    let status = await cl.h.container.status(third.id);
    while (!/^held by frequency cap \(4 /.test(status?.heldBy.text ?? '') && Date.now() < until) {
      await sleep(200);
      status = await cl.h.container.status(third.id);
    }
    expect(status?.heldBy).toMatchObject({ kind: 'frequency_cap', text: expect.stringMatching(/4 contacts wait for their number's cap/) as unknown as string });
    expect(cl.ledgerOf(third.id)).toEqual([]);
    await cl.h.container.control.cancel(third.id);
    const final3 = await cl.untilAllFinal(third.id, 4, 30_000);
    expect(final3.map((c) => c.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
  }, 120_000);
});

function groupTimes(ledger: { number: string | null; at: number }[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of ledger) out.set(e.number ?? '', [...(out.get(e.number ?? '') ?? []), e.at]);
  for (const times of out.values()) times.sort((a, b) => a - b);
  return out;
}
