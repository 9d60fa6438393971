import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisPacer, maxInSlidingWindow, type RedisPacer } from '../../src/pacing/index.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { FAR, manualClock, pacerFleet, sleep, type ManualClock } from './helpers.js';

const redis = connectRedis();
const prefixes: string[] = [];

function setup(): { pacer: RedisPacer; clock: ManualClock } {
  const prefix = testPrefix('pace-fair');
  prefixes.push(prefix);
  const clock = manualClock();
  return { pacer: createRedisPacer({ redis, prefix, clock, activeWindowMs: 2000 }), clock };
}

afterEach(async () => {
  for (const p of prefixes.splice(0)) await cleanPrefix(redis, p);
});
afterAll(() => redis.disconnect());

interface Demand {
  campaignId: string;
  /** Acquires per tick (a greedy campaign asks many times). */
  asks: number;
}

/**
 * Simulated time in 20 ms ticks: each campaign asks `asks` times per tick,
 * in the order given (the first is always first in line). Returns the slots
 * granted per campaign whose time falls in [fromMs, toMs) of simulated time.
 */
async function simulate(
  pacer: RedisPacer,
  clock: ManualClock,
  demands: (tickMs: number) => Demand[],
  untilMs: number,
): Promise<Map<string, number[]>> {
  const start = clock.now();
  const slots = new Map<string, number[]>();
  let n = 0;
  while (clock.now() - start < untilMs) {
    for (const d of demands(clock.now() - start)) {
      for (let i = 0; i < d.asks; i++) {
        const r = await pacer.acquire({ account: 'acct', campaignId: d.campaignId, attemptId: `${d.campaignId}-${++n}`, holdUntilMs: clock.now() + FAR });
        if (!r.ok) break;
        const list = slots.get(d.campaignId) ?? [];
        list.push(r.atMs - start);
        slots.set(d.campaignId, list);
      }
    }
    clock.advance(20);
  }
  return slots;
}

const within = (ts: number[] | undefined, from: number, to: number): number => (ts ?? []).filter((t) => t >= from && t < to).length;

describe('fair share between campaigns on one account', () => {
  it('a greedy campaign does not starve a polite one: each gets about half', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    const slots = await simulate(
      pacer,
      clock,
      () => [
        { campaignId: 'greedy', asks: 20 },
        { campaignId: 'polite', asks: 1 },
      ],
      7000,
    );
    // steady state, well after start-up: 4 s of account time hold about 40 slots
    const greedy = within(slots.get('greedy'), 2000, 6000);
    const polite = within(slots.get('polite'), 2000, 6000);
    expect(greedy + polite).toBeGreaterThanOrEqual(38);
    expect(polite).toBeGreaterThanOrEqual(18);
    expect(greedy).toBeGreaterThanOrEqual(18);
    expect(maxInSlidingWindow([...(slots.get('greedy') ?? []), ...(slots.get('polite') ?? [])])).toBeLessThanOrEqual(10);
  });

  it('share a campaign cannot use (its own cps is lower) goes to the others', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    await pacer.setCampaignLimits('slow', { cps: 2, maxConcurrent: 0 });
    const slots = await simulate(
      pacer,
      clock,
      () => [
        { campaignId: 'slow', asks: 20 },
        { campaignId: 'fast', asks: 20 },
      ],
      7000,
    );
    const slow = within(slots.get('slow'), 2000, 6000);
    const fast = within(slots.get('fast'), 2000, 6000);
    expect(slow).toBeGreaterThanOrEqual(7);
    expect(slow).toBeLessThanOrEqual(9);
    // an even split would give fast 20 in 4 s; it gets the slow one's unused share too
    expect(fast).toBeGreaterThanOrEqual(30);
    expect(maxInSlidingWindow([...(slots.get('slow') ?? []), ...(slots.get('fast') ?? [])])).toBeLessThanOrEqual(10);
  });

  it('a campaign that stops asking leaves the whole account to the other after the active window', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    const slots = await simulate(
      pacer,
      clock,
      (t) => (t < 3000 ? [{ campaignId: 'first', asks: 20 }, { campaignId: 'second', asks: 20 }] : [{ campaignId: 'first', asks: 20 }]),
      9000,
    );
    // while both ask, first gets about half
    expect(within(slots.get('first'), 1500, 3000)).toBeLessThanOrEqual(9);
    // second stopped at 3 s; from 3 s + 2 s (active window) + 1 s (horizon) on, first has it all
    expect(within(slots.get('first'), 6000, 9000)).toBeGreaterThanOrEqual(29);
    expect(within(slots.get('second'), 4000, 9000)).toBe(0);
  });

  it('three campaigns share evenly', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 30, maxConcurrent: 0 });
    const slots = await simulate(
      pacer,
      clock,
      () => [
        { campaignId: 'x', asks: 20 },
        { campaignId: 'y', asks: 20 },
        { campaignId: 'z', asks: 20 },
      ],
      6000,
    );
    for (const id of ['x', 'y', 'z']) {
      const got = within(slots.get(id), 2000, 5000);
      expect(got).toBeGreaterThanOrEqual(27);
      expect(got).toBeLessThanOrEqual(32);
    }
  });
});

describe('fair share on Redis time, across connections', () => {
  it('three greedy connections for one campaign and one for another: neither starves', async () => {
    const prefix = testPrefix('pace-fair-live');
    prefixes.push(prefix);
    const fleet = pacerFleet(4, prefix);
    try {
      const [first] = fleet.pacers;
      await first?.setAccountLimits('acct', { cps: 40, maxConcurrent: 0 });
      const target = 120;
      const slots: { campaignId: string; atMs: number }[] = [];
      let asks = 0;
      await Promise.all(
        fleet.pacers.map(async (pacer, w) => {
          const campaignId = w < 3 ? 'many' : 'one';
          while (slots.length < target) {
            if (++asks > 50_000) throw new Error('too many refusals');
            const r = await pacer.acquire({ account: 'acct', campaignId, attemptId: `w${w}-${asks}`, holdUntilMs: Date.now() + 60_000 });
            if (r.ok) slots.push({ campaignId, atMs: r.atMs });
            await sleep(r.ok ? 0 : Math.min(r.retryInMs, 20));
          }
        }),
      );
      const one = slots.filter((s) => s.campaignId === 'one').length;
      const many = slots.length - one;
      expect(one).toBeGreaterThanOrEqual(slots.length / 4);
      expect(many).toBeGreaterThanOrEqual(slots.length / 4);
      expect(maxInSlidingWindow(slots.map((s) => s.atMs))).toBeLessThanOrEqual(40);
    } finally {
      fleet.close();
    }
  });
});
