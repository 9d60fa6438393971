import { afterAll, describe, expect, it } from 'vitest';
import { createRedisPacer, maxInSlidingWindow } from '../../src/pacing/index.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { manualClock } from './helpers.js';

const redis = connectRedis();
const prefix = testPrefix('admit');
afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

describe('admission at send time (sliding-window log)', () => {
  it('admits at most cps sends in any second, and says how long to wait', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setCampaignLimits('c1', { cps: 3, maxConcurrent: 0 });
    const start = clock.now();
    for (let i = 0; i < 3; i++) {
      expect(await pacer.admit('sipcall', 'c1', `c1-${i}-1`)).toEqual({ ok: true });
      clock.advance(100);
    }
    // Three sends at +0, +100, +200: the fourth may leave when the first leaves the window.
    const refused = await pacer.admit('sipcall', 'c1', 'c1-3-1');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryInMs).toBe(start + 1000 - clock.now() + 1);
    clock.advance(701);
    expect(await pacer.admit('sipcall', 'c1', 'c1-3-1')).toEqual({ ok: true });
  });

  it('holds the account limit across campaigns, and a late sender never bunches calls', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setAccountLimits('acct-b', { cps: 5, maxConcurrent: 0 });
    const sent: number[] = [];
    // Two campaigns try to send in bursts (as stalled workers waking at once would), 10 ms apart.
    for (let step = 0; step < 400; step++) {
      for (const cid of ['ca', 'cb']) {
        const r = await pacer.admit('acct-b', cid, `${cid}-${step}-1`);
        if (r.ok) sent.push(clock.now());
      }
      clock.advance(10);
    }
    expect(sent.length).toBe(20);
    expect(maxInSlidingWindow(sent)).toBeLessThanOrEqual(5);
  });

  it('lets everything through when no rate is set', async () => {
    const pacer = createRedisPacer({ redis, prefix });
    for (let i = 0; i < 50; i++) expect((await pacer.admit('free', 'cfree', `cfree-${i}-1`)).ok).toBe(true);
  });

  it('spaces fractional rates by their period', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setCampaignLimits('chalf', { cps: 0.5, maxConcurrent: 0 });
    expect((await pacer.admit('sipcall', 'chalf', 'chalf-0-1')).ok).toBe(true);
    clock.advance(1500);
    expect((await pacer.admit('sipcall', 'chalf', 'chalf-1-1')).ok).toBe(false);
    clock.advance(501);
    expect((await pacer.admit('sipcall', 'chalf', 'chalf-1-1')).ok).toBe(true);
  });
});
