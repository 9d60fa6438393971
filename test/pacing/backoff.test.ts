import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisPacer, DEFAULT_TUNING, PacingError, type RedisPacer } from '../../src/pacing/index.js';
import { accountKeys } from '../../src/pacing/keys.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { FAR, manualClock, type ManualClock } from './helpers.js';

const redis = connectRedis();
const prefixes: string[] = [];

/** factor 0.5; back to 90 % of the ceiling at 10 % of it per second; then +1 % per second. */
const POLICY = { factor: 0.5, minCps: 0.5, recoverPerSecond: 0.1, settle: 0.9, creepPerSecond: 0.01, cooldownMs: 1000, defaultBlockMs: 700, memoryMs: 60_000 };

function setup(): { pacer: RedisPacer; clock: ManualClock; prefix: string } {
  const prefix = testPrefix('pace-backoff');
  prefixes.push(prefix);
  const clock = manualClock();
  const pacer = createRedisPacer({ redis, prefix, clock, horizonMs: 5000, backoff: POLICY });
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

describe('back-off options', () => {
  it('refuses a settled rate under the cut, naming both options', () => {
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { factor: 0.6, settle: 0.5 } })).toThrow(PacingError);
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { factor: 0.6, settle: 0.5 } })).toThrow(/backoff\.settle \(0\.5\) must be at least backoff\.factor \(0\.6\)/);
  });

  it('refuses a creep that is not a fraction per second', () => {
    expect(() => createRedisPacer({ redis, prefix: 'unused', backoff: { creepPerSecond: 2 } })).toThrow(/backoff\.creepPerSecond must be at most 1/);
  });
});
