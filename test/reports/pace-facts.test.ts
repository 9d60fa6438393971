/**
 * A campaign's pace as the status report reads it from real Redis: limits
 * set in the pacer, channels held, other campaigns waiting on the account,
 * a back-off, begin counts written in the per-second buckets, the calling
 * window and the campaign's state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { keys as makeKeys } from '../../src/store/keys.js';
import { formatStatus } from '../../src/cli/campaign.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { paceWorld } from './support.js';

const prefix = testPrefix('pace-facts');
const keys = makeKeys(prefix);
let redis: Redis;
let world: ReturnType<typeof paceWorld>;
const T = Math.floor(Date.now() / 1000) * 1000 + 400;
const FAR = Date.now() + 3_600_000;
beforeAll(() => {
  redis = connectRedis();
  world = paceWorld(redis, keys, prefix, T);
});
afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

const deps = () => world;
const campaign = (raw: Record<string, unknown>, n?: number) => world.campaign(raw, n);
const begun = (cid: string, perSecond: number[]) => world.begun(cid, perSecond);
const statusOf = (id: string) => world.statusOf(id);

describe('pace facts read from Redis', () => {
  it("a campaign held by its channels: the recent rate from the buckets, the campaign's holds against its cap", async () => {
    const { pacer } = deps();
    const id = await campaign({ cps: 20, maxConcurrent: 10 });
    await begun(id, [7, 7, 7, 7, 7, 7, 7, 7, 7, 6]);
    for (let i = 0; i < 10; i++) {
      const r = await pacer.acquire({ account: 'sipcall', campaignId: id, attemptId: `${id}-a${i}`, holdUntilMs: FAR });
      expect(r.ok).toBe(true);
    }
    const s = await statusOf(id);
    expect(s).toMatchObject({
      state: 'running',
      rateNow: 6.9,
      targetRate: 20,
      channels: { inUse: 10, cap: 10, capSource: 'campaign' },
      heldBy: { kind: 'campaign_channels', text: 'held by channels 10/10 (campaign)' },
      // What the status showed before stays as it was.
      inFlight: 10,
      pace: { cps: 20, maxConcurrent: 10 },
    });
    expect(formatStatus(s)).toContain('\npace: rate 6.9/s of 20/s, held by channels 10/10 (campaign)\n');
    for (let i = 0; i < 10; i++) await pacer.release('sipcall', id, `${id}-a${i}`);
  });

  it("an account's rate shared with the campaigns waiting on it", async () => {
    const { pacer } = deps();
    await pacer.setAccountLimits('sipcall', { cps: 50, maxConcurrent: 0 });
    try {
      await sharedAccount();
    } finally {
      await pacer.setAccountLimits('sipcall', { cps: 0, maxConcurrent: 0 });
    }
  });

  async function sharedAccount(): Promise<void> {
    const { pacer } = deps();
    const id = await campaign({ cps: 20, maxConcurrent: 0 });
    const others = [await campaign({ cps: 0, maxConcurrent: 0 }, 1), await campaign({ cps: 0, maxConcurrent: 0 }, 1), await campaign({ cps: 30, maxConcurrent: 0 }, 1)];
    // Each asks the account once: waiting on it for the active window.
    for (const [i, cid] of [id, ...others].entries()) {
      expect((await pacer.acquire({ account: 'sipcall', campaignId: cid, attemptId: `${cid}-s${i}`, holdUntilMs: Date.now() + 60_000 })).ok).toBe(true);
    }
    const sharing = await pacer.accountCampaigns('sipcall');
    expect(sharing.map((c) => [c.campaignId, c.cps]).sort()).toEqual([[id, 20], [others[0], 0], [others[1], 0], [others[2], 30]].sort());
    await begun(id, [12, 12, 13, 12, 12, 13, 12, 12, 13, 12]);
    const s = await statusOf(id);
    expect(s.rateNow).toBe(12.3);
    expect(s.channels).toEqual({ inUse: 1, cap: null, capSource: null });
    expect(s.heldBy).toEqual({ kind: 'account_rate', text: 'held by account sipcall 50/s shared with 3 other campaigns' });
  }

  it('a provider back-off, on an account of its own', async () => {
    const { pacer } = deps();
    const id = await campaign({ provider: 'pbx', action: 'originate', params: { caller: '1000', caller_id: '1000', context: 'from-internal' }, cps: 5, maxConcurrent: 0 });
    await pacer.penalize('pbx', 30_000);
    const s = await statusOf(id);
    expect(s.heldBy.kind).toBe('backoff');
    expect(s.heldBy.text).toMatch(/^held by provider 429 back-off \(account pbx blocked for \d+ s\)$/);
  });

  it("a calling window that has not opened yet, in the campaign's zone; a pause with its reason", async () => {
    const { campaigns } = deps();
    const starts = new Date(T + 2 * 86_400_000).toISOString();
    const id = await campaign({ cps: 20, window: { starts, timezone: 'Asia/Shanghai' } });
    const s = await statusOf(id);
    expect(s).toMatchObject({ ready: 0, scheduled: 30, rateNow: 0 });
    expect(s.heldBy.kind).toBe('calling_window');
    expect(s.heldBy.text).toMatch(/^held by calling window \(opens [A-Z][a-z]{2} \d\d:\d\d Asia\/Shanghai\)$/);

    const other = await campaign({ cps: 20 });
    // Nothing begun while contacts wait and no limit holds them: the workers.
    expect((await statusOf(other)).heldBy.kind).toBe('workers');
    await begun(other, Array.from({ length: 10 }, () => 20));
    expect((await statusOf(other)).heldBy).toEqual({ kind: 'not_held', text: 'not held' });
    await campaigns.setState(other, 'paused', 'provider rejected the credentials');
    expect((await statusOf(other)).heldBy).toEqual({ kind: 'paused', text: 'paused (provider rejected the credentials)' });
  });
});
