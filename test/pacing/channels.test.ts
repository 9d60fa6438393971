import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisPacer, type RedisPacer } from '../../src/pacing/index.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { FAR, manualClock, type ManualClock } from './helpers.js';

const redis = connectRedis();
const prefixes: string[] = [];

function setup(): { pacer: RedisPacer; clock: ManualClock; prefix: string } {
  const prefix = testPrefix('pace-channels');
  prefixes.push(prefix);
  const clock = manualClock();
  return { pacer: createRedisPacer({ redis, prefix, clock, channelRetryMs: 250 }), clock, prefix };
}

const ask = (pacer: RedisPacer, clock: ManualClock, campaignId: string, attemptId: string, holdMs = FAR) =>
  pacer.acquire({ account: 'acct', campaignId, attemptId, holdUntilMs: clock.now() + holdMs });

afterEach(async () => {
  for (const p of prefixes.splice(0)) await cleanPrefix(redis, p);
});
afterAll(() => redis.disconnect());

describe('channel caps', () => {
  it('maxConcurrent N: the (N+1)th acquire is refused until a release', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 0, maxConcurrent: 2 });
    expect((await ask(pacer, clock, 'c1', 'a1')).ok).toBe(true);
    expect((await ask(pacer, clock, 'c1', 'a2')).ok).toBe(true);
    expect(await ask(pacer, clock, 'c1', 'a3')).toEqual({ ok: false, retryInMs: 250, reason: 'campaign_channels' });
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 2, campaign: 2 });
    await pacer.release('acct', 'c1', 'a1');
    expect((await ask(pacer, clock, 'c1', 'a3')).ok).toBe(true);
    expect(await ask(pacer, clock, 'c1', 'a4')).toMatchObject({ ok: false, reason: 'campaign_channels' });
  });

  it('acquires asked together go as one script call and keep the cap exactly as one by one', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 0, maxConcurrent: 3 });
    await pacer.setCampaignLimits('c2', { cps: 10, maxConcurrent: 0 });
    const evalsha = redis.evalsha.bind(redis);
    let scripts = 0;
    redis.evalsha = ((...args: Parameters<typeof evalsha>) => {
      scripts++;
      return evalsha(...args);
    }) as typeof redis.evalsha;
    try {
      const answers = await Promise.all(['a1', 'a2', 'a3', 'a4', 'a5'].map((id) => ask(pacer, clock, 'c1', id)));
      const spaced = await Promise.all(['b1', 'b2', 'b3'].map((id) => ask(pacer, clock, 'c2', id)));
      expect(scripts).toBe(2);
      // In the order asked: three channels taken, the next two refused.
      expect(answers.map((a) => (a.ok ? 'ok' : a.reason))).toEqual(['ok', 'ok', 'ok', 'campaign_channels', 'campaign_channels']);
      // A rate spaces the slots of one batch as it spaces separate asks: (1000 + margin) / 10 ms apart.
      const waits = spaced.map((a) => (a.ok ? a.waitMs : -1));
      expect(waits[0]).toBe(0);
      expect(waits[1]! - waits[0]!).toBeGreaterThanOrEqual(100);
      expect(waits[2]! - waits[1]!).toBeGreaterThanOrEqual(100);
    } finally {
      redis.evalsha = evalsha;
    }
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 6, campaign: 3 });
  });

  it('a hold that expires frees its channel, and the retry hint points at the expiry', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 0, maxConcurrent: 1 });
    expect((await ask(pacer, clock, 'c1', 'a1', 100)).ok).toBe(true);
    expect(await ask(pacer, clock, 'c1', 'a2')).toEqual({ ok: false, retryInMs: 100, reason: 'campaign_channels' });
    clock.advance(99);
    expect(await ask(pacer, clock, 'c1', 'a2')).toEqual({ ok: false, retryInMs: 1, reason: 'campaign_channels' });
    clock.advance(1);
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 0, campaign: 0 });
    expect((await ask(pacer, clock, 'c1', 'a2')).ok).toBe(true);
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 1, campaign: 1 });
  });

  it('an attempt asking again does not count against itself', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 0, maxConcurrent: 1 });
    expect((await ask(pacer, clock, 'c1', 'a1')).ok).toBe(true);
    expect((await ask(pacer, clock, 'c1', 'a1')).ok).toBe(true);
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 1, campaign: 1 });
  });

  it('a channel refusal reserves no rate slot', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 10, maxConcurrent: 1 });
    expect(await ask(pacer, clock, 'c1', 'a1')).toMatchObject({ ok: true, waitMs: 0 });
    for (let i = 0; i < 3; i++) expect((await ask(pacer, clock, 'c1', 'a2')).ok).toBe(false);
    await pacer.release('acct', 'c1', 'a1');
    expect(await ask(pacer, clock, 'c1', 'a2')).toMatchObject({ ok: true, waitMs: 100 });
  });

  it('the account cap counts every campaign on the account', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 0, maxConcurrent: 3 });
    expect((await ask(pacer, clock, 'A', 'a1')).ok).toBe(true);
    expect((await ask(pacer, clock, 'A', 'a2')).ok).toBe(true);
    expect((await ask(pacer, clock, 'B', 'b1')).ok).toBe(true);
    expect(await ask(pacer, clock, 'B', 'b2')).toMatchObject({ ok: false, reason: 'account_channels' });
    expect(await ask(pacer, clock, 'A', 'a3')).toMatchObject({ ok: false, reason: 'account_channels' });
    expect(await pacer.inFlight('acct', 'A')).toEqual({ account: 3, campaign: 2 });
    expect(await pacer.inFlight('acct', 'B')).toEqual({ account: 3, campaign: 1 });
    await pacer.release('acct', 'A', 'a1');
    expect((await ask(pacer, clock, 'B', 'b2')).ok).toBe(true);
    expect(await pacer.inFlight('acct', 'B')).toEqual({ account: 3, campaign: 2 });
  });

  it('the campaign cap is checked before the account cap', async () => {
    const { pacer, clock } = setup();
    await pacer.setAccountLimits('acct', { cps: 0, maxConcurrent: 1 });
    await pacer.setCampaignLimits('A', { cps: 0, maxConcurrent: 1 });
    expect((await ask(pacer, clock, 'A', 'a1')).ok).toBe(true);
    expect(await ask(pacer, clock, 'A', 'a2')).toMatchObject({ ok: false, reason: 'campaign_channels' });
    expect(await ask(pacer, clock, 'B', 'b1')).toMatchObject({ ok: false, reason: 'account_channels' });
  });

  it('release is idempotent and ignores unknown attempts', async () => {
    const { pacer, clock } = setup();
    expect((await ask(pacer, clock, 'c1', 'a1')).ok).toBe(true);
    expect((await ask(pacer, clock, 'c1', 'a2')).ok).toBe(true);
    await pacer.release('acct', 'c1', 'a1');
    await pacer.release('acct', 'c1', 'a1');
    await pacer.release('acct', 'c1', 'never-acquired');
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 1, campaign: 1 });
  });

  it('extend moves a held channel’s expiry, and does not bring back a released one', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 0, maxConcurrent: 5 });
    expect((await ask(pacer, clock, 'c1', 'a1', 100)).ok).toBe(true);
    expect((await ask(pacer, clock, 'c1', 'a2', 100)).ok).toBe(true);
    await pacer.extend('acct', 'c1', 'a1', clock.now() + 10_000);
    clock.advance(500);
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 1, campaign: 1 });
    await pacer.release('acct', 'c1', 'a1');
    await pacer.extend('acct', 'c1', 'a1', clock.now() + 10_000);
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 0, campaign: 0 });
  });

  it('a channel is held at least until its slot', async () => {
    const { pacer, clock } = setup();
    await pacer.setCampaignLimits('c1', { cps: 2, maxConcurrent: 0 });
    expect((await ask(pacer, clock, 'c1', 'a1', 1)).ok).toBe(true);
    expect(await ask(pacer, clock, 'c1', 'a2', 1)).toMatchObject({ ok: true, waitMs: 500 });
    clock.advance(100);
    expect(await pacer.inFlight('acct', 'c1')).toEqual({ account: 1, campaign: 1 });
  });
});

describe('forgetCampaign', () => {
  it('removes the campaign’s keys and its place in the account’s fair share', async () => {
    const { pacer, clock, prefix } = setup();
    await pacer.setAccountLimits('acct', { cps: 10, maxConcurrent: 0 });
    await pacer.setCampaignLimits('gone', { cps: 5, maxConcurrent: 3 });
    expect((await ask(pacer, clock, 'gone', 'g1')).ok).toBe(true);
    expect((await ask(pacer, clock, 'kept', 'k1')).ok).toBe(true);
    await pacer.forgetCampaign('gone');

    const left: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:pace:camp:gone:*`);
      cursor = next;
      left.push(...keys);
    } while (cursor !== '0');
    expect(left).toEqual([]);
    expect(await pacer.getCampaignLimits('gone')).toEqual({ cps: 0, maxConcurrent: 0 });
    expect(await redis.zrange(`${prefix}:pace:acct:acct:active`, 0, -1)).toEqual(['kept']);
    expect(await redis.hkeys(`${prefix}:pace:acct:acct:campcps`)).toEqual(['kept']);
    await pacer.forgetCampaign('gone');
  });
});
