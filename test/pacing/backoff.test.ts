import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisPacer, type RedisPacer } from '../../src/pacing/index.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { FAR, manualClock, type ManualClock } from './helpers.js';

const redis = connectRedis();
const prefixes: string[] = [];

function setup(): { pacer: RedisPacer; clock: ManualClock; prefix: string } {
  const prefix = testPrefix('pace-backoff');
  prefixes.push(prefix);
  const clock = manualClock();
  const pacer = createRedisPacer({
    redis,
    prefix,
    clock,
    horizonMs: 5000,
    backoff: { factor: 0.5, minCps: 0.5, recoverPerSecond: 0.1, cooldownMs: 1000, defaultBlockMs: 700 },
  });
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

afterEach(async () => {
  for (const p of prefixes.splice(0)) await cleanPrefix(redis, p);
});
afterAll(() => redis.disconnect());

describe('penalize', () => {
  it('halves the account rate, and acquire spaces by the halved rate', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    expect(await waits(pacer, clock, 2)).toEqual([0, 100]);
    await pacer.penalize('acct', null);
    expect(await pacer.effectiveRate('acct')).toEqual({ configuredCps: 10, effectiveCps: 5, blockedForMs: 0 });
    expect(await pacer.getAccountLimits('acct')).toEqual({ cps: 10, maxConcurrent: 0 });
    expect(await waits(pacer, clock, 2)).toEqual([300, 500]);
  });

  it('a burst of 429s within the cooldown cuts once; a later one cuts again', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    for (let i = 0; i < 5; i++) await pacer.penalize('acct', null);
    expect((await pacer.effectiveRate('acct')).effectiveCps).toBe(5);
    clock.advance(1000);
    // recovered by 10 × 0.1 × 1 s = 1 cps to 6, then cut to 3
    await pacer.penalize('acct', null);
    expect((await pacer.effectiveRate('acct')).effectiveCps).toBeCloseTo(3, 9);
  });

  it('recovers additively back to the configured limit', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    await pacer.penalize('acct', null);
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) {
      seen.push((await pacer.effectiveRate('acct')).effectiveCps);
      clock.advance(1000);
    }
    expect(seen.map((v) => Math.round(v * 1000) / 1000)).toEqual([5, 6, 7, 8, 9, 10, 10]);
    expect(await waits(pacer, clock, 3)).toEqual([0, 100, 200]);
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

  it('blocks the account until Retry-After has passed, for every campaign on it', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    await pacer.penalize('acct', 3000);
    expect(await pacer.effectiveRate('acct')).toEqual({ configuredCps: 10, effectiveCps: 5, blockedForMs: 3000 });
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

  it('an account with no cps to cut is blocked for the default time', async () => {
    const { pacer, clock } = setup();
    await pacer.penalize('acct', null);
    expect(await pacer.effectiveRate('acct')).toEqual({ configuredCps: 0, effectiveCps: 0, blockedForMs: 700 });
    expect(await ask(pacer, clock)).toEqual({ ok: false, retryInMs: 700, reason: 'backoff' });
    clock.advance(700);
    expect((await ask(pacer, clock)).ok).toBe(true);
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
