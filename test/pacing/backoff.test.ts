import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisPacer, DEFAULT_TUNING, PacingError, type RedisPacer } from '../../src/pacing/index.js';
import { accountKeys } from '../../src/pacing/keys.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { FAR, manualClock, type ManualClock } from './helpers.js';

const redis = connectRedis();
const prefixes: string[] = [];

/**
 * factor 0.5; back to 90 % of the ceiling at 10 % of it per second; then +1 % per second (a constant creep: its
 * ramp is tested on its own); one pass for a sporadic 429 per 50 sends, at most 2; a pace proven over 2 s.
 */
const POLICY = {
  factor: 0.5,
  minCps: 0.5,
  recoverPerSecond: 0.1,
  settle: 0.9,
  creepPerSecond: 0.01,
  creepRampMs: 0,
  cooldownMs: 1000,
  defaultBlockMs: 700,
  memoryMs: 60_000,
  sporadicShare: 0.02,
  sporadicPasses: 2,
  provenMs: 2000,
};

function setup(policy: Partial<typeof POLICY> = {}): { pacer: RedisPacer; clock: ManualClock; prefix: string } {
  const prefix = testPrefix('pace-backoff');
  prefixes.push(prefix);
  const clock = manualClock();
  const pacer = createRedisPacer({ redis, prefix, clock, horizonMs: 5000, backoff: { ...POLICY, ...policy } });
  return { pacer, clock, prefix };
}

let n = 0;
const ask = (pacer: RedisPacer, clock: ManualClock, campaignId = 'c1') =>
  pacer.acquire({ account: 'acct', campaignId, attemptId: `att-${++n}`, holdUntilMs: clock.now() + FAR });

async function waits(pacer: RedisPacer, clock: ManualClock, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = await ask(pacer, clock);
    if (!r.ok) throw new Error(`refused: ${r.reason}`);
    out.push(r.waitMs);
  }
  return out;
}

/** Sends admitted `everyMs` apart and landed at once, as a campaign's calls at its own rate. */
async function sends(pacer: RedisPacer, clock: ManualClock, count: number, everyMs: number, campaignId = 'c1'): Promise<void> {
  for (let i = 0; i < count; i++) {
    const id = `send-${++n}`;
    expect(await pacer.admit('acct', campaignId, id)).toEqual({ ok: true });
    await pacer.landed('acct', campaignId, id);
    clock.advance(everyMs);
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;

afterEach(async () => {
  for (const p of prefixes.splice(0)) await cleanPrefix(redis, p);
});
afterAll(() => redis.disconnect());

describe('penalize: the rate at which the 429 came becomes the ceiling', () => {
  it('with nothing measured, cuts under the configured cps, and acquire spaces by the cut rate', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    expect(await waits(pacer, clock, 2)).toEqual([0, 100]);
    await pacer.penalize('acct', null);
    expect(await pacer.effectiveRate('acct')).toEqual({ configuredCps: 10, effectiveCps: 5, blockedForMs: 0, backingOff: true, ceilingCps: 10, settledCps: 9 });
    expect(await pacer.getAccountLimits('acct')).toEqual({ cps: 10, maxConcurrent: 0 });
    expect(await waits(pacer, clock, 2)).toEqual([300, 500]);
  });

  it('measures the sends of the last second: the provider took all but the refused one', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 25, maxConcurrent: 0 });
    // No account cps: nothing stands between the campaign's 25 cps and the provider, which took 8.
    await sends(pacer, clock, 9, 40);
    await pacer.penalize('acct', null);
    // A ceiling is known: no block without a Retry-After, the admission holds the rate.
    expect(await pacer.effectiveRate('acct')).toEqual({ configuredCps: 0, effectiveCps: 4, blockedForMs: 0, backingOff: true, ceilingCps: 8, settledCps: 7.2 });
  });

  it('each further 429 of the burst refused one more of the sends counted at the cut', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 25, maxConcurrent: 0 });
    // 12 sends left before the cut took effect; the provider refused the last 4 of them.
    await sends(pacer, clock, 12, 40);
    const ceilings: number[] = [];
    for (let i = 0; i < 4; i++) {
      await pacer.penalize('acct', 1000);
      ceilings.push((await pacer.effectiveRate('acct')).ceilingCps);
      clock.advance(10);
    }
    expect(ceilings).toEqual([11, 10, 9, 8]);
    expect((await pacer.effectiveRate('acct')).effectiveCps).toBeCloseTo(4 + 8 * 0.1 * 0.04, 9);
  });

  it('never takes a ceiling above the rate in force', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 6, maxConcurrent: 0 });
    await sends(pacer, clock, 6, 10);
    clock.advance(100);
    await pacer.penalize('acct', null);
    // 5 measured (6 logged less the refused one), under the 6 in force.
    expect((await pacer.effectiveRate('acct')).ceilingCps).toBe(5);
    clock.advance(30_000);
    // A second 429 with nothing logged in the last second: the rate in force (settled 4.5, crept to about 5.8) is the ceiling.
    const { effectiveCps } = await pacer.effectiveRate('acct');
    await pacer.penalize('acct', null);
    expect((await pacer.effectiveRate('acct')).ceilingCps).toBeCloseTo(effectiveCps, 9);
  });
});

describe('recovery', () => {
  it('recovers quickly to just under the ceiling, then creeps up slowly, back to the configured cps', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    await pacer.penalize('acct', null);
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) {
      seen.push(round((await pacer.effectiveRate('acct')).effectiveCps));
      clock.advance(1000);
    }
    // + 1 cps per second (10 % of the ceiling) up to 9 (90 %), then + 1 % per second.
    expect(seen).toEqual([5, 6, 7, 8, 9, round(9 * 1.01), round(9 * 1.01 ** 2)]);
    // ln(10/9) / ln(1.01) ≈ 10.6 s after settling, it is back at the configured cps: the back-off is over.
    clock.advance(4000);
    expect((await pacer.effectiveRate('acct')).backingOff).toBe(true);
    clock.advance(6000);
    expect(await pacer.effectiveRate('acct')).toMatchObject({ effectiveCps: 10, backingOff: false, ceilingCps: 10 });
    const later = await waits(pacer, clock, 3);
    expect(later.slice(1).map((w, i) => w - later[i]!)).toEqual([100, 100]);
  });

  it('an account without cps keeps its ceiling for the memory, its rate creeping above it', async () => {
    const { pacer, clock, prefix } = setup();
    await pacer.setCampaignLimits('c1', { cps: 25, maxConcurrent: 0 });
    await sends(pacer, clock, 9, 40);
    await pacer.penalize('acct', null);
    const ttl = await redis.pttl(accountKeys(prefix, 'acct').backoff);
    expect(ttl).toBeGreaterThan(POLICY.memoryMs - 5000);
    expect(ttl).toBeLessThanOrEqual(POLICY.memoryMs);
    clock.advance(60_000);
    const r = await pacer.effectiveRate('acct');
    expect(r).toMatchObject({ configuredCps: 0, backingOff: true, ceilingCps: 8 });
    expect(r.effectiveCps).toBeGreaterThan(8);
  });

  it('never cuts below the floor', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 4, maxConcurrent: 0 });
    for (let i = 0; i < 10; i++) {
      await pacer.penalize('acct', null);
      clock.advance(1000);
    }
    const { effectiveCps } = await pacer.effectiveRate('acct');
    expect(effectiveCps).toBeGreaterThanOrEqual(0.5);
    expect(effectiveCps).toBeLessThan(1.5);
  });

  it('a burst of 429s within the cooldown cuts once; a later one cuts again', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    for (let i = 0; i < 5; i++) await pacer.penalize('acct', null);
    expect((await pacer.effectiveRate('acct')).effectiveCps).toBe(5);
    clock.advance(1000);
    // recovered by 10 × 0.1 × 1 s = 1 cps to 6, then cut to 3
    await pacer.penalize('acct', null);
    expect(await pacer.effectiveRate('acct')).toMatchObject({ ceilingCps: 6, effectiveCps: 3 });
  });
});

describe('blocks and the send-time admission', () => {
  it('blocks the account until Retry-After has passed, for every campaign on it', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    await pacer.penalize('acct', 3000);
    expect(await pacer.effectiveRate('acct')).toEqual({ configuredCps: 10, effectiveCps: 5, blockedForMs: 3000, backingOff: true, ceilingCps: 10, settledCps: 9 });
    expect(await ask(pacer, clock, 'c1')).toEqual({ ok: false, retryInMs: 3000, reason: 'backoff' });
    clock.advance(2000);
    expect(await ask(pacer, clock, 'c2')).toEqual({ ok: false, retryInMs: 1000, reason: 'backoff' });
    clock.advance(1000);
    expect(await ask(pacer, clock, 'c1')).toMatchObject({ ok: true, waitMs: 0 });
  });

  it('a shorter Retry-After never shortens a block', async () => {
    const { pacer, clock } = setup();
    await pacer.penalize('acct', 5000);
    await pacer.penalize('acct', 10);
    expect(await ask(pacer, clock)).toEqual({ ok: false, retryInMs: 5000, reason: 'backoff' });
  });

  it('an account with no cps and nothing measured is blocked for the default time, and its sends are logged from then on', async () => {
    const { pacer, clock } = setup();
    await pacer.penalize('acct', null);
    expect(await pacer.effectiveRate('acct')).toEqual({ configuredCps: 0, effectiveCps: 0, blockedForMs: 700, backingOff: true, ceilingCps: 0, settledCps: 0 });
    expect(await ask(pacer, clock)).toEqual({ ok: false, retryInMs: 700, reason: 'backoff' });
    clock.advance(700);
    // No rate anywhere, yet the slot is "rated": its send goes through the admission, which logs it.
    expect(await ask(pacer, clock)).toMatchObject({ ok: true, rated: true });
    clock.advance(300);
    await sends(pacer, clock, 6, 50);
    await pacer.penalize('acct', null);
    expect((await pacer.effectiveRate('acct')).ceilingCps).toBe(5);
  });

  it('holds every send while blocked, then lets them through at the cut rate', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 25, maxConcurrent: 0 });
    await sends(pacer, clock, 9, 40);
    await pacer.penalize('acct', 1000);
    // Sends reserved before the cut (at 25 cps) wait: first the block, then the cut rate.
    expect(await pacer.admit('acct', 'c1', 'late-1')).toEqual({ ok: false, retryInMs: 1000 });
    clock.advance(1000);
    // 1 s after the cut: 4 + 8 × 0.1 = 4.8 cps, so 4 in any second.
    for (let i = 2; i <= 5; i++) expect(await pacer.admit('acct', 'c1', `late-${i}`)).toEqual({ ok: true });
    expect(await pacer.admit('acct', 'c1', 'late-6')).toEqual({ ok: false, retryInMs: 1000 + DEFAULT_TUNING.admitGranularityMs });
  });

  it('reserves no new slot while the sends of the last second fill the back-off rate', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 25, maxConcurrent: 0 });
    await sends(pacer, clock, 9, 40);
    await pacer.penalize('acct', null);
    // The 9 sends of the last second fill the cut rate (4): sends already reserved leave first.
    const r = await ask(pacer, clock);
    expect(r).toMatchObject({ ok: false, reason: 'backoff' });
    // Once the sends of that second have left it, slots are spaced by the back-off rate again.
    clock.advance(1000 + DEFAULT_TUNING.admitGranularityMs);
    const granted = await waits(pacer, clock, 2);
    const rate = (await pacer.effectiveRate('acct')).effectiveCps;
    expect(granted[1]! - granted[0]!).toBeGreaterThanOrEqual(Math.floor(1000 / rate));
  });

  it('is shared by every connection on the same prefix', async () => {
    const { pacer, clock, prefix } = setup();
    const other = connectRedis();
    try {
      const elsewhere = createRedisPacer({ redis: other, prefix, clock });
      await pacer.setAccountLimits('acct', { cps: 20, maxConcurrent: 0 });
      await elsewhere.penalize('acct', null);
      expect((await pacer.effectiveRate('acct')).effectiveCps).toBe(10);
      expect(await waits(pacer, clock, 3)).toEqual([0, 100, 200]);
    } finally {
      other.disconnect();
    }
  });
});

/** Reserves `count` slots `everyMs` apart: the sends that earn passes. */
async function reserve(pacer: RedisPacer, clock: ManualClock, count: number, everyMs: number, campaignId = 'c1'): Promise<void> {
  for (let i = 0; i < count; i++) {
    const r = await ask(pacer, clock, campaignId);
    if (!r.ok) throw new Error(`refused: ${r.reason}`);
    clock.advance(everyMs);
  }
}

/** An account of 10 cps backing off after a 429, settled, with 60 sends at the settled rate: 60 × 2 % = 1.2 passes earned. */
async function settledWithAPass(): Promise<{ pacer: RedisPacer; clock: ManualClock }> {
  const { pacer, clock } = setup();
  await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
  await pacer.penalize('acct', null);
  clock.advance(5000);
  await reserve(pacer, clock, 60, 120);
  return { pacer, clock };
}

describe('sporadic 429s', () => {
  it('a 429 under the ceiling with a pass in hand moves neither the ceiling nor the rate; its Retry-After still blocks', async () => {
    const { pacer, clock } = await settledWithAPass();
    const before = await pacer.effectiveRate('acct');
    expect(before).toMatchObject({ ceilingCps: 10, backingOff: true });
    expect(before.effectiveCps).toBeLessThan(10);
    await pacer.penalize('acct', null);
    expect(await pacer.effectiveRate('acct')).toEqual(before);
    // The next one has no pass left: it is the rate's.
    clock.advance(1000);
    const inForce = (await pacer.effectiveRate('acct')).effectiveCps;
    await pacer.penalize('acct', 1000);
    expect(await pacer.effectiveRate('acct')).toMatchObject({ ceilingCps: inForce, effectiveCps: inForce / 2, blockedForMs: 1000 });
  });

  it('a sporadic 429 is still obeyed: its Retry-After blocks the account', async () => {
    const { pacer, clock } = await settledWithAPass();
    const before = await pacer.effectiveRate('acct');
    await pacer.penalize('acct', 2000);
    expect(await pacer.effectiveRate('acct')).toEqual({ ...before, blockedForMs: 2000 });
    expect(await ask(pacer, clock)).toEqual({ ok: false, retryInMs: 2000, reason: 'backoff' });
  });

  it('keeps at most sporadicPasses passes, whatever the sends', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 100, maxConcurrent: 0 });
    await pacer.penalize('acct', null);
    clock.advance(5000);
    // 200 sends would earn 4 passes; 2 are kept.
    await reserve(pacer, clock, 200, 12);
    const ceilings: number[] = [];
    for (let i = 0; i < 3; i++) {
      await pacer.penalize('acct', null);
      ceilings.push(round((await pacer.effectiveRate('acct')).ceilingCps));
      clock.advance(1100);
    }
    expect(ceilings.slice(0, 2)).toEqual([100, 100]);
    expect(ceilings[2]).toBeLessThan(100);
  });

  it('a 429 above the ceiling cuts, unless the account had been let send as much a second for the proven span: then the ceiling rises to what the provider took, the rate goes on', async () => {
    // Ceiling 8 (nine sends at 25 cps, the ninth refused); a minute later the rate has crept to about 12.6.
    const scenario = async (provenMs: number) => {
      const { pacer, clock } = setup({ provenMs });
      await pacer.setCampaignLimits('c1', { cps: 25, maxConcurrent: 0 });
      await sends(pacer, clock, 9, 40);
      await pacer.penalize('acct', null);
      clock.advance(60_000);
      await reserve(pacer, clock, 60, 100);
      // Ten sends in the last second, the tenth refused: nine taken, over the ceiling of 8.
      await sends(pacer, clock, 10, 100);
      const before = (await pacer.effectiveRate('acct')).effectiveCps;
      await pacer.penalize('acct', null);
      return { before, after: await pacer.effectiveRate('acct') };
    };
    // For the 2 s before it, the account was let send about 12 a second: a limit of 9 would have answered then.
    const proven = await scenario(2000);
    expect(proven.before).toBeGreaterThan(12);
    expect(proven.after).toMatchObject({ ceilingCps: 9, effectiveCps: proven.before });
    // A minute back, the rate was under 8: nothing shows the provider took ten a second. The rate is cut.
    expect((await scenario(60_000)).after).toMatchObject({ ceilingCps: 9, effectiveCps: 4.5 });
  });

  it('one 429 brings a known ceiling (the first time, the rate in force) down by the factor at most', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 30, maxConcurrent: 0 });
    const ceilings: number[] = [];
    for (let i = 0; i < 2; i++) {
      // Two sends in the second of the 429, the sending having just begun (or resumed).
      await sends(pacer, clock, 2, 10);
      await pacer.penalize('acct', null);
      ceilings.push((await pacer.effectiveRate('acct')).ceilingCps);
      clock.advance(1000);
    }
    expect(ceilings).toEqual([15, 7.5]);
  });
});

describe('the creep ramp', () => {
  it('quickens the creep the longer it goes on; a 429 above the ceiling keeps its pace, one at or under it starts it slow again', async () => {
    const { pacer, clock } = setup({ creepRampMs: 10_000 });
    await pacer.setCampaignLimits('c1', { cps: 25, maxConcurrent: 0 });
    await sends(pacer, clock, 9, 40);
    await pacer.penalize('acct', null);
    // Ceiling 8: cut to 4, + 0.8 per second to 7.2 in 4 s, then a growth of 1 % a second and 1 % more every 10 s:
    // t seconds of it are worth W(t) = t + t² / 20 seconds of 1 %.
    const W = (t: number) => t + (t * t) / 20;
    clock.advance(4000);
    const rates: number[] = [];
    for (let t = 0; t <= 30; t += 10) {
      rates.push(round((await pacer.effectiveRate('acct')).effectiveCps));
      if (t < 30) clock.advance(10_000);
    }
    expect(rates).toEqual([7.2, 7.2 * 1.01 ** W(10), 7.2 * 1.01 ** W(20), 7.2 * 1.01 ** W(30)].map(round));
    // Twelve sends, the twelfth refused (no pass in hand): eleven taken, above the ceiling. The ceiling rises to 11,
    // and after the cut and the recovery the creep goes on at the pace it had reached (30.96 s in).
    await sends(pacer, clock, 12, 80);
    await pacer.penalize('acct', null);
    expect((await pacer.effectiveRate('acct')).ceilingCps).toBe(11);
    clock.advance(4000 + 10_000);
    expect((await pacer.effectiveRate('acct')).effectiveCps).toBeCloseTo(9.9 * 1.01 ** (W(40.96) - W(30.96)), 6);
    // Refused again with eleven taken: at the ceiling, the provider's limit is near; the creep starts slow again.
    await sends(pacer, clock, 12, 80);
    await pacer.penalize('acct', null);
    expect((await pacer.effectiveRate('acct')).ceilingCps).toBe(11);
    clock.advance(4000 + 10_000);
    expect((await pacer.effectiveRate('acct')).effectiveCps).toBeCloseTo(9.9 * 1.01 ** W(10), 6);
  });
});

describe('back-off options', () => {
  it('refuses a settled rate under the cut, naming both options', () => {
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { factor: 0.6, settle: 0.5 } })).toThrow(PacingError);
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { factor: 0.6, settle: 0.5 } })).toThrow(/backoff\.settle \(0\.5\) must be at least backoff\.factor \(0\.6\)/);
  });

  it('refuses a creep that is not a fraction per second', () => {
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { creepPerSecond: 2 } })).toThrow(/backoff\.creepPerSecond must be at most 1/);
  });

  it('refuses sporadic-429 options out of range, naming them', () => {
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { sporadicShare: 0.5 } })).toThrow(/backoff\.sporadicShare must be at most 0\.1/);
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { sporadicPasses: 1.5 } })).toThrow(/backoff\.sporadicPasses must be a whole number/);
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { provenMs: 10 } })).toThrow(/backoff\.provenMs must be at least 1000 ms/);
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { creepRampMs: -1 } })).toThrow(/backoff\.creepRampMs must be at least 0 ms/);
  });
});
