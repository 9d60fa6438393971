import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, csvSource, type Harness } from '../support/harness.js';

/** What the provider accepts in any sliding second (the simulator answers 429 beyond it). */
const CAP = 8;
const CONTACTS = 200;
const params = { voicetype: '2', voicefile: 'http://x.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' };

async function completed(h: Harness, id: string): Promise<void> {
  const done = h.container.events.waitFor('campaign:completed', (e) => e.campaignId === id, 120_000);
  if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
}

describe('429 back-off against a provider that accepts fewer calls per second than the campaign asks', () => {
  let h: Harness;
  beforeAll(async () => {
    // The account has no rate of its own: nothing stands between the campaign's 25 cps and the provider's cap.
    h = await startHarness('pace-settle', { cpsCap: CAP, mix: { answered: 1 } }, { SIPCALL_MAX_CPS: '0' });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
  });
  afterAll(async () => h?.close());

  it('settles under the cap: few requests refused, every contact dialed once, the refused ones sent again', async () => {
    const def = h.container.definition({ action: 'playvoice', params, cps: 25, maxConcurrent: 0, maxAttempts: 1 });
    const numbers = Array.from({ length: CONTACTS }, (_, i) => String(13700000000 + i));
    const { id } = await h.container.createCampaign(def, csvSource(['phone', ...numbers].join('\n')), 'settle.csv');
    // Meanwhile the campaign's status says what holds it: the provider's 429 back-off (asked for 25/s, gets about 8).
    const held: string[] = [];
    const watch = setInterval(() => {
      void h.container.status(id).then((s) => {
        if (s?.state === 'running') held.push(s.heldBy.kind);
      });
    }, 500);
    await completed(h, id).finally(() => clearInterval(watch));
    expect(held.filter((k) => k === 'backoff').length).toBeGreaterThan(held.length / 2);

    const stats = h.sim.stats();
    const ledger = h.sim.ledger().filter((e) => e.family === 'sipcall');
    const refused = ledger.filter((e) => e.answer === '429');
    const placed = ledger.filter((e) => e.placed);
    // The provider refused few requests: its account is not at risk of being blocked.
    expect(stats.cpsViolations).toBe(refused.length);
    expect(placed).toHaveLength(CONTACTS);
    expect(refused.length).toBeLessThanOrEqual(CONTACTS * 0.1);
    // Each contact placed once, each refusal sent again and placed (a refused request never counts as an attempt).
    expect(new Set(placed.map((e) => e.number)).size).toBe(CONTACTS);
    expect(refused.every((e) => placed.some((p) => p.number === e.number && p.at > e.at))).toBe(true);
    for (const p of await h.container.contacts.range(id, 0, CONTACTS)) expect({ status: p.state.s, attempts: p.state.p }).toEqual({ status: 'answered', attempts: 1 });
    // The account remembers the rate at which the provider refused, and settles just under it.
    const rate = await h.container.pacer.effectiveRate('sipcall');
    expect(rate.backingOff).toBe(true);
    expect(rate.ceilingCps).toBeGreaterThan(0);
    expect(rate.ceilingCps).toBeLessThanOrEqual(CAP + 1);
    expect(rate.settledCps).toBeLessThan(rate.ceilingCps);
    process.stdout.write(`back-off settle: ${refused.length} refused / ${placed.length} placed, ceiling ${rate.ceilingCps} cps, settled ${rate.settledCps.toFixed(2)} cps\n`);
  }, 180_000);
});
