import { afterAll, describe, expect, it } from 'vitest';
import { createRedisPacer, DEFAULT_TUNING, maxInSlidingWindow, PacingError } from '../../src/pacing/index.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { manualClock } from './helpers.js';

const redis = connectRedis();
const prefix = testPrefix('admit');
afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

/** One second plus the granularity margin: how long a landed send keeps counting. */
const SPAN = 1000 + DEFAULT_TUNING.admitGranularityMs;

describe('admission at send time (arrival-bound log)', () => {
  it('counts a send from its admission until one second (plus the granularity) after it landed', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setCampaignLimits('c1', { cps: 3, maxConcurrent: 0 });
    const start = clock.now();
    for (let i = 0; i < 3; i++) {
      expect(await pacer.admit('sipcall', 'c1', `c1-${i}-1`)).toEqual({ ok: true });
      await pacer.landed('sipcall', 'c1', `c1-${i}-1`);
      clock.advance(100);
    }
    // Landed at once, the sends at +0, +100, +200 count until SPAN after each: the fourth waits for the first.
    const refused = await pacer.admit('sipcall', 'c1', 'c1-3-1');
    expect(refused).toEqual({ ok: false, retryInMs: start + SPAN - clock.now() });
    clock.advance(start + SPAN - clock.now() - 1);
    expect(await pacer.admit('sipcall', 'c1', 'c1-3-1')).toEqual({ ok: false, retryInMs: 1 });
    clock.advance(1);
    expect(await pacer.admit('sipcall', 'c1', 'c1-3-1')).toEqual({ ok: true });
  });

  it('counts sends still in flight, however long ago they were admitted, and answers a wait of one window', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setCampaignLimits('c2', { cps: 2, maxConcurrent: 0 });
    expect((await pacer.admit('sipcall', 'c2', 'c2-0-1', 20_000)).ok).toBe(true);
    expect((await pacer.admit('sipcall', 'c2', 'c2-1-1', 20_000)).ok).toBe(true);
    // Neither exchange has ended: each may still arrive at any moment, so both still count.
    for (const later of [1, 1500, 10_000]) {
      clock.advance(later);
      // An entry in flight lands after now and leaves the window a whole span after that: never sooner.
      expect(await pacer.admit('sipcall', 'c2', 'c2-2-1', 20_000)).toEqual({ ok: false, retryInMs: SPAN });
    }
    await pacer.landed('sipcall', 'c2', 'c2-0-1');
    const landedAt = clock.now();
    clock.advance(SPAN - 1);
    expect(await pacer.admit('sipcall', 'c2', 'c2-2-1', 20_000)).toEqual({ ok: false, retryInMs: 1 });
    clock.advance(1);
    expect(clock.now()).toBe(landedAt + SPAN);
    expect(await pacer.admit('sipcall', 'c2', 'c2-2-1', 20_000)).toEqual({ ok: true });
  });

  it('only ever lowers an entry: landing again later, or landing what was never admitted, changes nothing', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setCampaignLimits('c3', { cps: 1, maxConcurrent: 0 });
    expect((await pacer.admit('sipcall', 'c3', 'c3-0-1')).ok).toBe(true);
    clock.advance(40);
    await pacer.landed('sipcall', 'c3', 'c3-0-1');
    const landedAt = clock.now();
    clock.advance(500);
    // A second landing (a retry of the call, a duplicate) would raise the score: LT keeps the first.
    await pacer.landed('sipcall', 'c3', 'c3-0-1');
    await pacer.landed('sipcall', 'c3', 'never-admitted');
    expect(await pacer.admit('sipcall', 'c3', 'c3-1-1')).toEqual({ ok: false, retryInMs: landedAt + SPAN - clock.now() });
    clock.advance(landedAt + SPAN - clock.now());
    expect(await pacer.admit('sipcall', 'c3', 'c3-1-1')).toEqual({ ok: true });
    // Nothing was logged for the attempt that was never admitted.
    expect(await redis.zscore(`${prefix}:pace:camp:c3:sent`, 'never-admitted')).toBeNull();
  });

  it('keeps a dead sender counted until its flight bound, then one window more', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setAccountLimits('acct-dead', { cps: 1, maxConcurrent: 0 });
    const admittedAt = clock.now();
    expect((await pacer.admit('acct-dead', 'cdead', 'cdead-0-1', 5000)).ok).toBe(true);
    // The worker died mid-request: it never lands. Until its flight bound it may still arrive.
    clock.advance(4999);
    expect(await pacer.admit('acct-dead', 'cdead', 'cdead-1-1', 5000)).toEqual({ ok: false, retryInMs: SPAN });
    // Past the bound its arrival is behind us: it counts like a send landed at the bound.
    clock.advance(admittedAt + 5000 + SPAN - 1 - clock.now());
    expect(await pacer.admit('acct-dead', 'cdead', 'cdead-1-1', 5000)).toEqual({ ok: false, retryInMs: 1 });
    clock.advance(1);
    expect(clock.now()).toBe(admittedAt + 5000 + SPAN);
    expect(await pacer.admit('acct-dead', 'cdead', 'cdead-1-1', 5000)).toEqual({ ok: true });
  });

  it('takes the flight bound from the tuning when the caller gives none', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock, flightMs: 3000, admitGranularityMs: 0 });
    await pacer.setCampaignLimits('c4', { cps: 1, maxConcurrent: 0 });
    const admittedAt = clock.now();
    expect((await pacer.admit('sipcall', 'c4', 'c4-0-1')).ok).toBe(true);
    clock.advance(3999);
    expect(await pacer.admit('sipcall', 'c4', 'c4-1-1')).toEqual({ ok: false, retryInMs: 1 });
    clock.advance(1);
    expect(clock.now()).toBe(admittedAt + 3000 + 1000);
    expect(await pacer.admit('sipcall', 'c4', 'c4-1-1')).toEqual({ ok: true });
  });

  it('holds the account limit across campaigns, whenever in its flight each request arrives', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setAccountLimits('acct-b', { cps: 5, maxConcurrent: 0 });
    // Two campaigns try to send in bursts (as stalled workers waking at once would), 10 ms apart;
    // each exchange lasts 30 ms, and its request may arrive at any moment of it.
    const sends: { cid: string; id: string; admitted: number; landed: number }[] = [];
    for (let step = 0; step < 400; step++) {
      for (const s of sends.filter((e) => e.landed === clock.now())) await pacer.landed('acct-b', s.cid, s.id);
      for (const cid of ['ca', 'cb']) {
        const id = `${cid}-${step}-1`;
        if ((await pacer.admit('acct-b', cid, id)).ok) sends.push({ cid, id, admitted: clock.now(), landed: clock.now() + 30 });
      }
      clock.advance(10);
    }
    // Five at once, then five more once the first exchanges have been landed one window: near 0, 1040, 2080, 3120.
    expect(sends.length).toBe(20);
    expect(maxInSlidingWindow(sends.map((s) => s.admitted), SPAN)).toBe(5);
    // Sends whose arrivals could share one second: admitted no later than this one, landed less than 1 s before its admission.
    for (const k of sends) {
      const together = sends.filter((i) => i.admitted <= k.admitted && i.landed > k.admitted - 1000);
      expect(together.length).toBeLessThanOrEqual(5);
    }
  });

  it('lets everything through when no rate is set, and landing then does nothing', async () => {
    const pacer = createRedisPacer({ redis, prefix });
    for (let i = 0; i < 50; i++) {
      expect((await pacer.admit('free', 'cfree', `cfree-${i}-1`)).ok).toBe(true);
      await pacer.landed('free', 'cfree', `cfree-${i}-1`);
    }
    expect(await redis.exists(`${prefix}:pace:camp:cfree:sent`, `${prefix}:pace:acct:free:sent`)).toBe(0);
  });

  it('spaces fractional rates by their period, from the landing', async () => {
    const clock = manualClock();
    const pacer = createRedisPacer({ redis, prefix, clock });
    await pacer.setCampaignLimits('chalf', { cps: 0.5, maxConcurrent: 0 });
    expect((await pacer.admit('sipcall', 'chalf', 'chalf-0-1')).ok).toBe(true);
    clock.advance(20);
    await pacer.landed('sipcall', 'chalf', 'chalf-0-1');
    const landedAt = clock.now();
    clock.advance(1500);
    const period = 2000 + DEFAULT_TUNING.admitGranularityMs;
    expect(await pacer.admit('sipcall', 'chalf', 'chalf-1-1')).toEqual({ ok: false, retryInMs: landedAt + period - clock.now() });
    clock.advance(landedAt + period - clock.now() - 1);
    expect((await pacer.admit('sipcall', 'chalf', 'chalf-1-1')).ok).toBe(false);
    clock.advance(1);
    expect((await pacer.admit('sipcall', 'chalf', 'chalf-1-1')).ok).toBe(true);
  });

  it('refuses a flight bound that is not whole milliseconds within an hour', async () => {
    const pacer = createRedisPacer({ redis, prefix });
    await expect(pacer.admit('sipcall', 'cbad', 'cbad-0-1', -1)).rejects.toBeInstanceOf(PacingError);
    await expect(pacer.admit('sipcall', 'cbad', 'cbad-0-1', 1.5)).rejects.toBeInstanceOf(PacingError);
    await expect(pacer.admit('sipcall', 'cbad', 'cbad-0-1', 3_600_001)).rejects.toBeInstanceOf(PacingError);
  });
});
