import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, csvSource, type Harness } from '../support/harness.js';
import { createSipcallAdapter } from '../../src/providers/index.js';

const params = { voicetype: '2', voicefile: 'http://x.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' };

async function completed(h: Harness, id: string): Promise<void> {
  const done = h.container.events.waitFor('campaign:completed', (e) => e.campaignId === id, 60_000);
  if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
}

describe('provider faults during a campaign', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      'e2e-faults',
      {
        script: {
          '13900000001': ['reset'],
          '13900000002': ['error500', 'answered'],
          '13900000003': ['timeout'],
          '13900000004': ['toofast', 'answered:3'],
        },
        mix: { answered: 1 },
      },
      { SIPCALL_RESPONSE_TIMEOUT_MS: '800' },
    );
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  });
  afterAll(async () => h?.close());

  it('never redials a request in doubt, retries what never left without counting it, and ties late answers back', async () => {
    const def = h.container.definition({ action: 'playvoice', params, cps: 20, maxConcurrent: 10, maxAttempts: 1, resultTimeout: '3s' });
    const csv = 'phone\n13900000001\n13900000002\n13900000003\n13900000004\n';
    const { id } = await h.container.createCampaign(def, csvSource(csv), 'faults.csv');
    await completed(h, id);
    const ledger = h.sim.ledger().filter((e) => e.family === 'sipcall');
    const count = (n: string) => ledger.filter((e) => e.number === n).length;
    // Reset and timeout: the call may have been placed — one request each, never a second.
    expect(count('13900000001')).toBe(1);
    expect(count('13900000003')).toBe(1);
    // 500 and "too fast": the provider said it did not place the call — tried again, the attempt not counted.
    expect(count('13900000002')).toBe(2);
    expect(count('13900000004')).toBe(2);
    const rows = new Map<number, { status: string; attempts: number }>();
    for (const p of await h.container.contacts.range(id, 0, 4)) rows.set(p.idx, { status: p.state.s, attempts: p.state.p });
    // The simulator placed the reset and timed-out calls and sent their CDRs: the in-doubt attempts take their results.
    expect(rows.get(0)).toEqual({ status: 'answered', attempts: 1 });
    expect(rows.get(2)).toEqual({ status: 'answered', attempts: 1 });
    expect(rows.get(1)).toEqual({ status: 'answered', attempts: 1 });
    expect(rows.get(3)).toEqual({ status: 'answered', attempts: 1 });
    const reset = await h.container.attempts.get(`${id}-0-1`);
    expect(reset).toMatchObject({ dialKind: 'in_doubt', inDoubt: true, outcome: 'answered', resultSource: 'callback' });
  });

  it('pauses the campaign on bad credentials without burning any contact', async () => {
    h.container.providers.set(
      'sipcall',
      createSipcallAdapter({ ...h.config.providers.sipcall!, apiUrl: h.sim.url, token: 'ffffffffffffffffffffffffffffffff' }),
    );
    const def = h.container.definition({ action: 'playvoice', params, cps: 5, maxConcurrent: 1, maxAttempts: 1 });
    const { id } = await h.container.createCampaign(def, csvSource('phone\n13900000011\n13900000012\n13900000013\n'), 'fatal.csv');
    await h.container.events.waitFor('campaign:state', (e) => e.campaignId === id && e.state === 'paused', 30_000);
    const s = await h.container.status(id);
    expect(s?.state).toBe('paused');
    expect(s?.pausedReason).toMatch(/credentials/);
    expect(s?.counts.pending).toBe(3);
    const states = await h.container.contacts.range(id, 0, 3);
    expect(states.every((p) => p.state.s === 'pending' && p.state.p === 0)).toBe(true);
  });
});
