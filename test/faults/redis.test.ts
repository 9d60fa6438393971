/**
 * The fault matrix, Redis rows: every connection of the dialer to Redis is
 * cut (and refused for a moment) while a dial is out with the provider, and
 * while a contact list is being imported. What was recorded, and what was
 * (not) dialed again.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvSource } from '../support/harness.js';
import { routedAdapter, startFaultRig, startHoldingRelay, type FaultRig } from './support.js';

const PARAMS = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('fault matrix: Redis connection dropped', () => {
  let rig: FaultRig;
  let held: Awaited<ReturnType<typeof startHoldingRelay>>;
  const MID_DIAL = '13600000001';
  let cutsMidDial = 0;

  beforeAll(async () => {
    rig = await startFaultRig('faults-redis');
    // The provider has placed the call; before its answer goes back, every Redis connection is cut and refused 1.5 s.
    held = await startHoldingRelay(rig.sim.url, async () => {
      cutsMidDial++;
      await rig.relay.away(1500);
    });
    const sim = rig.adapter(rig.sim.url);
    rig.c.providers.set('sipcall', routedAdapter(new Map([[MID_DIAL, [rig.adapter(held.url)]]]), sim));
    rig.c.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  }, 60_000);

  afterAll(async () => {
    await rig?.close();
    await held?.close();
  });

  const definition = (extra: Record<string, unknown> = {}) =>
    rig.c.definition({ action: 'playvoice', params: PARAMS, cps: 50, maxAttempts: 2, retryDelay: '1s', resultTimeout: '5s', ingest: { numberFormat: 'as_written' }, ...extra });

  it('mid-dial: the answer and the CDR are recorded once Redis is back; the contact is called once', async () => {
    const c = rig.c;
    const { id } = await c.createCampaign(definition(), csvSource(`phone\n${MID_DIAL}\n`), 'mid-dial.csv');
    await until(async () => (await c.campaigns.get(id))?.state === 'completed', 'the campaign completed');
    expect(cutsMidDial).toBe(1);
    expect(rig.relay.dropped).toBeGreaterThan(0);
    const calls = rig.sim.ledger().filter((e) => e.number === MID_DIAL);
    expect(calls.map((e) => [e.customuuid, e.answer])).toEqual([[`${id}-0-1`, 'accepted']]);
    const { state } = await c.contacts.state(id, 0);
    expect(state).toMatchObject({ s: 'answered', p: 1, n: 1 });
    expect(await c.attempts.get(`${id}-0-1`)).toMatchObject({ dialKind: 'accepted', state: 'final', outcome: 'answered', resultSource: 'callback' });
    expect(await c.attempts.get(`${id}-0-2`)).toBeNull();
    // The CDR posted while Redis was away was refused (503) and posted again.
    expect(rig.sim.stats().callbackRetries).toBeGreaterThan(0);
  }, 90_000);

  it('mid-import: every row imported once, the summary right, each number called once', async () => {
    const c = rig.c;
    const rows = 6000;
    const numbers = Array.from({ length: rows }, (_, i) => `135${String(i).padStart(8, '0')}`);
    const lines = ['phone', ...numbers];
    let cuts = 0;
    // The list comes in pieces; every 1,500 rows every Redis connection is cut (batches of rows are on their way).
    const source = Readable.from(
      (async function* () {
        for (let i = 0; i < lines.length; i += 500) {
          yield Buffer.from(`${lines.slice(i, i + 500).join('\n')}\n`);
          if (i > 0 && i % 1500 === 0) {
            cuts++;
            rig.relay.cut();
          }
          await new Promise((r) => setImmediate(r));
        }
      })(),
    );
    const before = rig.relay.dropped;
    // No rate: the contacts are dialed as fast as the workers go.
    const { id, summary } = await c.createCampaign(definition({ cps: 0 }), source, 'mid-import.csv');
    expect(cuts).toBe(4);
    expect(rig.relay.dropped).toBeGreaterThan(before);
    expect({ rowsRead: summary.rowsRead, added: summary.added, duplicate: summary.duplicate, alreadyInCampaign: summary.alreadyInCampaign }).toEqual({
      rowsRead: rows,
      added: rows,
      duplicate: 0,
      alreadyInCampaign: 0,
    });
    await until(async () => (await c.campaigns.get(id))?.state === 'completed', 'the campaign completed', 180_000);
    const counts = await c.campaigns.counts(id);
    expect(counts.byStatus.answered).toBe(rows);
    const called = new Map<string, number>();
    for (const e of rig.sim.ledger()) if (e.customuuid?.startsWith(`${id}-`)) called.set(e.number ?? '', (called.get(e.number ?? '') ?? 0) + 1);
    expect(called.size).toBe(rows);
    expect([...called.values()].every((n) => n === 1)).toBe(true);
  }, 240_000);
});
