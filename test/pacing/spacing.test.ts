import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisPacer, maxInSlidingWindow, PacingError, type RedisPacer } from '../../src/pacing/index.js';
import { luaScript, runScript } from '../../src/infra/lua.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { FAR, manualClock, type ManualClock } from './helpers.js';

const redis = connectRedis();
const prefixes: string[] = [];

function setup(opts: { horizonMs?: number } = {}): { pacer: RedisPacer; clock: ManualClock; prefix: string } {
  const prefix = testPrefix('pace-spacing');
  prefixes.push(prefix);
  const clock = manualClock();
  return { pacer: createRedisPacer({ redis, prefix, clock, ...opts }), clock, prefix };
}

let n = 0;
const req = (campaignId = 'c1', account = 'acct', holdUntilMs = manualClock().now() + FAR) => ({
  account,
  campaignId,
  attemptId: `att-${++n}`,
  holdUntilMs,
});

afterEach(async () => {
  for (const p of prefixes.splice(0)) await cleanPrefix(redis, p);
});
afterAll(() => redis.disconnect());

describe('rate spacing on an injected clock', () => {
  it('spaces slots 1/cps apart and reserves only within the horizon', async () => {
    const { pacer } = setup();
    await pacer.setCampaignLimits('c1', { cps: 10, maxConcurrent: 0 });
    const results = [];
    for (let i = 0; i < 13; i++) results.push(await pacer.acquire(req()));
    const granted = results.filter((r) => r.ok);
    expect(granted.map((r) => r.waitMs)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(results.slice(11)).toEqual([
      { ok: false, retryInMs: 100, reason: 'campaign_rate' },
      { ok: false, retryInMs: 100, reason: 'campaign_rate' },
    ]);
  });

  it('a refusal reserves nothing', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 10, maxConcurrent: 0 });
    for (let i = 0; i < 11; i++) expect((await pacer.acquire(req())).ok).toBe(true);
    for (let i = 0; i < 5; i++) expect((await pacer.acquire(req())).ok).toBe(false);
    clock.advance(100);
    expect(await pacer.acquire(req())).toMatchObject({ ok: true, waitMs: 1000 });
  });

  it('the slower of campaign and account limits paces, and names the one that blocks', async () => {
    const { pacer } = setup({ horizonMs: 0 });
    await pacer.setCampaignLimits('c1', { cps: 10, maxConcurrent: 0 });
    await pacer.setAccountLimits('acct', { cps: 4, maxConcurrent: 0 });
    expect(await pacer.acquire(req())).toMatchObject({ ok: true, waitMs: 0 });
    expect(await pacer.acquire(req())).toEqual({ ok: false, retryInMs: 250, reason: 'account_rate' });
    await pacer.setAccountLimits('acct', { cps: 40, maxConcurrent: 0 });
    expect(await pacer.acquire(req())).toEqual({ ok: false, retryInMs: 100, reason: 'campaign_rate' });
  });

  it('cps 0 means no limit', async () => {
    const { pacer } = setup();
    const waits = [];
    for (let i = 0; i < 50; i++) {
      const r = await pacer.acquire(req());
      expect(r.ok).toBe(true);
      if (r.ok) waits.push(r.waitMs);
    }
    expect(new Set(waits)).toEqual(new Set([0]));
  });

  it('fractional cps: 0.5 gives one slot every two seconds', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 0.5, maxConcurrent: 0 });
    expect(await pacer.acquire(req())).toMatchObject({ ok: true, waitMs: 0 });
    expect(await pacer.acquire(req())).toEqual({ ok: false, retryInMs: 1000, reason: 'campaign_rate' });
    clock.advance(1000);
    expect(await pacer.acquire(req())).toMatchObject({ ok: true, waitMs: 1000 });
  });

  it.each([0.5, 3, 7, 33.3, 200, 1000 / 3])(
    'never more than cps slots (ceil(cps) when fractional) in any one-second window at cps %s',
    async (cps) => {
      const { pacer, clock } = setup();
      clock.advance(0.123); // a fractional start, so microsecond rounding is exercised
      await pacer.setCampaignLimits('c1', { cps, maxConcurrent: 0 });
      const slots: number[] = [];
      const simulatedMs = 6000;
      const start = clock.now();
      while (clock.now() - start < simulatedMs) {
        const r = await pacer.acquire(req());
        if (r.ok) slots.push(r.atMs);
        else clock.advance(r.retryInMs + 0.37);
      }
      expect(maxInSlidingWindow(slots)).toBeLessThanOrEqual(Math.ceil(cps));
      // nothing lost either: the whole simulated span plus the horizon is used
      expect(slots.length).toBeGreaterThanOrEqual(Math.floor(((simulatedMs + 1000) * cps) / 1000) - 1);
    },
  );

  it('limit changes made through another connection apply to the next reservation', async () => {
    const { pacer, clock, prefix } = setup({ horizonMs: 10_000 });
    const other = connectRedis();
    try {
      const admin = createRedisPacer({ redis: other, prefix, clock });
      await admin.setCampaignLimits('c1', { cps: 10, maxConcurrent: 0 });
      const at = async (): Promise<number> => {
        const r = await pacer.acquire(req());
        if (!r.ok) throw new Error(`refused: ${r.reason}`);
        return r.waitMs;
      };
      expect([await at(), await at()]).toEqual([0, 100]);
      await admin.setCampaignLimits('c1', { cps: 2, maxConcurrent: 0 });
      expect([await at(), await at()]).toEqual([600, 1100]);
      await admin.setCampaignLimits('c1', { cps: 20, maxConcurrent: 0 });
      expect([await at(), await at()]).toEqual([1150, 1200]);
      await admin.setCampaignLimits('c1', { cps: 0, maxConcurrent: 0 });
      expect(await at()).toBe(0);
      expect(await pacer.getCampaignLimits('c1')).toEqual({ cps: 0, maxConcurrent: 0 });
    } finally {
      other.disconnect();
    }
  });
});

describe('limits and inputs', () => {
  it('limits read back as set; never set means no limit', async () => {
    const { pacer } = setup();
    expect(await pacer.getAccountLimits('nobody')).toEqual({ cps: 0, maxConcurrent: 0 });
    await pacer.setAccountLimits('acct', { cps: 12.5, maxConcurrent: 30 });
    await pacer.setCampaignLimits('c1', { cps: 0.5, maxConcurrent: 2 });
    expect(await pacer.getAccountLimits('acct')).toEqual({ cps: 12.5, maxConcurrent: 30 });
    expect(await pacer.getCampaignLimits('c1')).toEqual({ cps: 0.5, maxConcurrent: 2 });
  });

  it('rejects bad limits and ids with errors that name the field', async () => {
    const { pacer } = setup();
    await expect(pacer.setCampaignLimits('c1', { cps: -1, maxConcurrent: 0 })).rejects.toThrow(/cps must be 0 \(no limit\) or more/);
    await expect(pacer.setAccountLimits('acct', { cps: 1, maxConcurrent: 1.5 })).rejects.toThrow(/maxConcurrent must be a whole number/);
    await expect(pacer.acquire({ account: 'a', campaignId: '', attemptId: 'x', holdUntilMs: 1 })).rejects.toMatchObject({
      code: 'ERR_PACE_INPUT',
      message: expect.stringMatching(/campaignId must not be empty/),
    });
    await expect(pacer.acquire({ account: 'a', campaignId: 'c', attemptId: 'x', holdUntilMs: Number.NaN })).rejects.toThrow(/holdUntilMs/);
    await expect(pacer.penalize('a', -5)).rejects.toThrow(/retryAfterMs/);
    expect(() => createRedisPacer({ redis, prefix: 'p', horizonMs: -1 })).toThrow(/horizonMs must be at least 0/);
    expect(() => createRedisPacer({ redis, prefix: '' })).toThrow(PacingError);
  });

  it('reports corrupt limits in Redis with the key', async () => {
    const { pacer, prefix } = setup();
    await redis.hset(`${prefix}:pace:camp:broken:limits`, 'cps', 'fast');
    await expect(pacer.getCampaignLimits('broken')).rejects.toMatchObject({
      code: 'ERR_PACE_REPLY',
      message: expect.stringContaining(`${prefix}:pace:camp:broken:limits`),
    });
  });

  it('loads a script the server does not know yet (EVALSHA falls back to EVAL)', async () => {
    const marker = testPrefix('script');
    const script = luaScript(`return ARGV[1] .. '${marker}'`, 0);
    expect(await runScript(redis, script, [], ['x'])).toBe(`x${marker}`);
    expect(await redis.script('EXISTS', script.sha)).toEqual([1]);
    expect(await runScript(redis, script, [], ['y'])).toBe(`y${marker}`);
  });
});
