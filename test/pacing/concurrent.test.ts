/**
 * Several connections (as several worker processes would have) acquiring at
 * once on Redis time. Assertions are on the slots granted (their Redis-time
 * stamps and their count), never on elapsed time.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { maxInSlidingWindow, type RedisPacer } from '../../src/pacing/index.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { pacerFleet, sleep } from './helpers.js';

const redis = connectRedis();
const prefixes: string[] = [];

afterEach(async () => {
  for (const p of prefixes.splice(0)) await cleanPrefix(redis, p);
});
afterAll(() => redis.disconnect());

interface Slot {
  campaignId: string;
  atMs: number;
  /** Whether the acquire was sent after the marker (a limit change) was set. */
  late: boolean;
}

/**
 * Each pacer runs `loops` concurrent acquire loops (like jobs in a worker)
 * for its campaign; each loop takes a ticket and asks until that ticket is
 * granted, so a pacer ends with exactly `quota` slots. A granted caller
 * sleeps until its slot, a refused one sleeps the suggested retry.
 */
async function drive(
  pacers: RedisPacer[],
  opts: { campaignOf: (w: number) => string; quota: number; loops: number; marker?: { set: boolean } },
): Promise<Slot[]> {
  const slots: Slot[] = [];
  let asks = 0;
  await Promise.all(
    pacers.map(async (pacer, w) => {
      const campaignId = opts.campaignOf(w);
      let tickets = 0;
      await Promise.all(
        Array.from({ length: opts.loops }, async () => {
          while (tickets < opts.quota) {
            const ticket = tickets++;
            for (;;) {
              if (++asks > 100_000) throw new Error('too many refusals: the pacer is not granting');
              const late = opts.marker?.set ?? false;
              const r = await pacer.acquire({
                account: 'acct',
                campaignId,
                attemptId: `w${w}-t${ticket}`,
                holdUntilMs: Date.now() + 60_000,
              });
              await sleep(r.ok ? r.waitMs : r.retryInMs);
              if (r.ok) {
                slots.push({ campaignId, atMs: r.atMs, late });
                break;
              }
            }
          }
        }),
      );
    }),
  );
  return slots;
}

function minGap(ts: number[]): number {
  const s = [...ts].sort((a, b) => a - b);
  let gap = Infinity;
  for (let i = 1; i < s.length; i++) gap = Math.min(gap, (s[i] as number) - (s[i - 1] as number));
  return gap;
}

describe('one campaign, four connections, three loops each', () => {
  it.each([
    [10, 6],
    [50, 25],
    [200, 100],
  ])('at %s cps no one-second window holds more than cps slots', async (cps, quota) => {
    const prefix = testPrefix('pace-conc');
    prefixes.push(prefix);
    const fleet = pacerFleet(4, prefix);
    try {
      await fleet.pacers[0]?.setCampaignLimits('camp', { cps, maxConcurrent: 0 });
      const slots = await drive(fleet.pacers, { campaignOf: () => 'camp', quota, loops: 3 });
      const at = slots.map((s) => s.atMs);
      expect(slots).toHaveLength(4 * quota);
      expect(new Set(at).size).toBe(at.length);
      expect(maxInSlidingWindow(at)).toBeLessThanOrEqual(cps);
      expect(minGap(at)).toBeGreaterThanOrEqual(Math.floor(1000 / cps));
    } finally {
      fleet.close();
    }
  });
});

describe('the account limit across campaigns and connections', () => {
  it('two campaigns on two connections each stay together within the account cps', async () => {
    const prefix = testPrefix('pace-conc-acct');
    prefixes.push(prefix);
    const fleet = pacerFleet(4, prefix);
    try {
      await fleet.pacers[0]?.setAccountLimits('acct', { cps: 50, maxConcurrent: 0 });
      await fleet.pacers[1]?.setCampaignLimits('A', { cps: 40, maxConcurrent: 0 });
      await fleet.pacers[2]?.setCampaignLimits('B', { cps: 40, maxConcurrent: 0 });
      const slots = await drive(fleet.pacers, { campaignOf: (w) => (w % 2 === 0 ? 'A' : 'B'), quota: 30, loops: 3 });
      const a = slots.filter((s) => s.campaignId === 'A').map((s) => s.atMs);
      const b = slots.filter((s) => s.campaignId === 'B').map((s) => s.atMs);
      expect([a.length, b.length]).toEqual([60, 60]);
      expect(maxInSlidingWindow([...a, ...b])).toBeLessThanOrEqual(50);
      expect(maxInSlidingWindow(a)).toBeLessThanOrEqual(40);
      expect(maxInSlidingWindow(b)).toBeLessThanOrEqual(40);
    } finally {
      fleet.close();
    }
  });
});

describe('a limit changed mid-run from another connection', () => {
  it('reservations asked for after the change use the new spacing', async () => {
    const prefix = testPrefix('pace-conc-change');
    prefixes.push(prefix);
    const fleet = pacerFleet(4, prefix);
    const admin = pacerFleet(1, prefix);
    try {
      await admin.pacers[0]?.setCampaignLimits('camp', { cps: 100, maxConcurrent: 0 });
      const marker = { set: false };
      let granted = 0;
      const counting = fleet.pacers.map((p): RedisPacer => ({
        ...p,
        acquire: async (req) => {
          const r = await p.acquire(req);
          if (r.ok && ++granted === 60 && !marker.set) {
            await admin.pacers[0]?.setCampaignLimits('camp', { cps: 10, maxConcurrent: 0 });
            marker.set = true;
          }
          return r;
        },
      }));
      const slots = await drive(counting, { campaignOf: () => 'camp', quota: 20, loops: 2, marker });
      const before = slots.filter((s) => !s.late).map((s) => s.atMs);
      const after = slots.filter((s) => s.late).map((s) => s.atMs);
      expect(before.length + after.length).toBe(80);
      expect(after.length).toBeGreaterThanOrEqual(10);
      expect(maxInSlidingWindow(before)).toBeLessThanOrEqual(100);
      expect(maxInSlidingWindow(after)).toBeLessThanOrEqual(10);
      expect(minGap(after)).toBeGreaterThanOrEqual(100);
      // the run before the change really went at the old pace
      expect(minGap(before)).toBeLessThan(100);
    } finally {
      fleet.close();
      admin.close();
    }
  });
});
