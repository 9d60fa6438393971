/**
 * The back-off over simulated minutes, on the pacer's injected clock and real
 * Redis: one sender dials as the dispatcher does (acquire, wait for the slot,
 * admit, send, land, penalize on a 429) against a provider that refuses
 * beyond a cap in any sliding second and, besides, a share of requests at
 * random whatever the rate. The random draws are seeded: every run is the same.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisPacer, type RedisPacer } from '../../src/pacing/index.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { manualClock, type ManualClock } from './helpers.js';
import { seeded } from '../ingest/random.js';

const redis = connectRedis();
const prefixes: string[] = [];

afterEach(async () => {
  for (const p of prefixes.splice(0)) await cleanPrefix(redis, p);
});
afterAll(() => redis.disconnect());

interface Provider {
  /** Calls accepted in any sliding second (0: no cap), or that as a function of the seconds since the start. */
  cap: number | ((second: number) => number);
  /** Share of requests refused with 429 whatever the rate. */
  random429: number;
  /** Retry-After of its 429s (null: none). */
  retryAfterMs: number | null;
  seed: number;
}

interface Run {
  /** Arrival of every accepted call, ms since the start. */
  placed: number[];
  /** When each 429 came, seconds since the start. */
  refusedAt: number[];
  /** The account's rate in force, sampled every simulated second. */
  rates: number[];
}

/** The answer comes back this long after the request leaves. */
const RTT_MS = 20;

async function dial(pacer: RedisPacer, clock: ManualClock, provider: Provider, seconds: number): Promise<Run> {
  const rng = seeded(provider.seed);
  const start = clock.now();
  const end = start + seconds * 1000;
  const run: Run = { placed: [], refusedAt: [], rates: [] };
  let nextSample = start;
  let n = 0;
  while (clock.now() < end) {
    while (clock.now() >= nextSample) {
      run.rates.push((await pacer.effectiveRate('acct')).effectiveCps);
      nextSample += 1000;
    }
    const id = `a-${++n}`;
    const r = await pacer.acquire({ account: 'acct', campaignId: 'c1', attemptId: id, holdUntilMs: clock.now() + 60_000 });
    if (!r.ok) {
      clock.advance(r.retryInMs);
      continue;
    }
    clock.advance(r.waitMs);
    for (let a = await pacer.admit('acct', 'c1', id); !a.ok; a = await pacer.admit('acct', 'c1', id)) clock.advance(a.retryInMs);
    const arrival = clock.now() - start + RTT_MS / 2;
    const cap = typeof provider.cap === 'number' ? provider.cap : provider.cap(arrival / 1000);
    let inSecond = 0;
    for (let i = run.placed.length - 1; i >= 0 && run.placed[i]! > arrival - 1000; i--) inSecond++;
    const tooFast = (cap > 0 && inSecond >= cap) || rng() < provider.random429;
    clock.advance(RTT_MS);
    await pacer.landed('acct', 'c1', id);
    await pacer.release('acct', 'c1', id);
    if (tooFast) {
      run.refusedAt.push((clock.now() - start) / 1000);
      await pacer.penalize('acct', provider.retryAfterMs);
    } else {
      run.placed.push(arrival);
    }
  }
  return run;
}

function setup(): { pacer: RedisPacer; clock: ManualClock } {
  const prefix = testPrefix('pace-sporadic');
  prefixes.push(prefix);
  const clock = manualClock();
  return { pacer: createRedisPacer({ redis, prefix, clock }), clock };
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
/** Calls placed per second over the last `seconds` of a run of `total` seconds. */
const placedPerSecond = (run: Run, total: number, seconds: number) => run.placed.filter((t) => t >= (total - seconds) * 1000).length / seconds;
const MINUTES_5 = 300;

describe('429s that the rate does not cause', () => {
  it.each([
    { retryAfterMs: 1000, seed: 1 },
    { retryAfterMs: 1000, seed: 2 },
    { retryAfterMs: 1000, seed: 3 },
    { retryAfterMs: null, seed: 1 },
  ])('0.5 % refused at random for 5 minutes at 30/s: the learned rate stays above 70 % of it (Retry-After $retryAfterMs, seed $seed)', async ({ retryAfterMs, seed }) => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 30, maxConcurrent: 0 });
    const run = await dial(pacer, clock, { cap: 0, random429: 0.005, retryAfterMs, seed }, MINUTES_5);
    const rate = await pacer.effectiveRate('acct');
    const lastMinute = mean(run.rates.slice(-60));
    process.stdout.write(
      `sporadic 429s (Retry-After ${String(retryAfterMs)}, seed ${seed}): ${run.refusedAt.length} refused, ` +
        `rate in force over the last minute ${lastMinute.toFixed(2)}/s, ceiling ${rate.ceilingCps.toFixed(2)}, placed ${placedPerSecond(run, MINUTES_5, 60).toFixed(2)}/s\n`,
    );
    // The provider did refuse at random all along (about 0.5 % of some 8,000 requests).
    expect(run.refusedAt.length).toBeGreaterThan(20);
    expect(run.refusedAt.filter((t) => t > MINUTES_5 - 120).length).toBeGreaterThan(0);
    expect(rate.ceilingCps).toBeGreaterThanOrEqual(0.7 * 30);
    expect(lastMinute).toBeGreaterThanOrEqual(0.7 * 30);
    // Never above the account's configured cps.
    expect(Math.max(...run.rates)).toBeLessThanOrEqual(30);
  }, 120_000);

  it('on an account with no cps of its own (the campaign asks 30/s), the learned ceiling stays above 70 % of it', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 30, maxConcurrent: 0 });
    const run = await dial(pacer, clock, { cap: 0, random429: 0.005, retryAfterMs: 1000, seed: 4 }, MINUTES_5);
    const rate = await pacer.effectiveRate('acct');
    expect(run.refusedAt.length).toBeGreaterThan(20);
    expect(rate.ceilingCps).toBeGreaterThanOrEqual(0.7 * 30);
    expect(Math.min(...run.rates.slice(-60))).toBeGreaterThanOrEqual(0.7 * 30 * 0.5);
    expect(placedPerSecond(run, MINUTES_5, 60)).toBeGreaterThanOrEqual(0.7 * 30);
  }, 120_000);
});

describe('429s that the rate causes', () => {
  it.each([
    { random429: 0, retryAfterMs: 1000 },
    { random429: 0, retryAfterMs: null },
    { random429: 0.005, retryAfterMs: 1000 },
  ])('a provider that takes 8 a second, asked 25: the pace settles at or under 8, few refused (random $random429, Retry-After $retryAfterMs)', async ({ random429, retryAfterMs }) => {
    const { pacer, clock } = setup();
    // The account has no rate of its own: nothing stands between the campaign's 25 cps and the provider's cap.
    await pacer.setCampaignLimits('c1', { cps: 25, maxConcurrent: 0 });
    const run = await dial(pacer, clock, { cap: 8, random429, retryAfterMs, seed: 5 }, MINUTES_5);
    const rate = await pacer.effectiveRate('acct');
    const placed = run.placed.length;
    process.stdout.write(
      `cap 8 (random ${random429}, Retry-After ${String(retryAfterMs)}): ${run.refusedAt.length} refused / ${placed} placed, ` +
        `ceiling ${rate.ceilingCps}, placed ${placedPerSecond(run, MINUTES_5, 60).toFixed(2)}/s over the last minute\n`,
    );
    expect(rate.ceilingCps).toBeGreaterThan(0);
    expect(rate.ceilingCps).toBeLessThanOrEqual(8);
    expect(rate.settledCps).toBeLessThanOrEqual(8);
    expect(placedPerSecond(run, MINUTES_5, 60)).toBeLessThanOrEqual(8);
    expect(placedPerSecond(run, MINUTES_5, 60)).toBeGreaterThanOrEqual(6.5);
    expect(run.refusedAt.length).toBeLessThanOrEqual(placed * 0.02);
  }, 120_000);

  it('a provider whose limit falls from none to 12 a second: the ceiling follows it down within seconds', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 30, maxConcurrent: 0 });
    const run = await dial(pacer, clock, { cap: (s) => (s < 120 ? 0 : 12), random429: 0, retryAfterMs: 1000, seed: 6 }, 240);
    const after = run.refusedAt.filter((t) => t >= 120);
    process.stdout.write(`limit down to 12: ${after.length} refused after the fall (${after.filter((t) => t < 140).length} in its first 20 s)\n`);
    expect(run.refusedAt.filter((t) => t < 120)).toEqual([]);
    expect(after.filter((t) => t < 140).length).toBeLessThanOrEqual(10);
    expect(after.length).toBeLessThanOrEqual(20);
    expect((await pacer.effectiveRate('acct')).ceilingCps).toBeLessThanOrEqual(12);
    expect(placedPerSecond(run, 240, 60)).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
