/**
 * A campaign's pace as the status report reads it from real Redis: limits
 * set in the pacer, channels held, other campaigns waiting on the account,
 * a back-off, begin counts written in the per-second buckets, the calling
 * window and the campaign's state.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { keys as makeKeys } from '../../src/store/keys.js';
import { makeCampaignStore } from '../../src/store/campaigns.js';
import { makeContactStore } from '../../src/store/contacts.js';
import { makeCallbackLog } from '../../src/store/callback-log.js';
import { makeDialRate } from '../../src/store/dial-rate.js';
import { createRedisPacer } from '../../src/pacing/index.js';
import { parseCampaignDefinition } from '../../src/campaign/definition.js';
import { importContactList } from '../../src/campaign/import.js';
import { makeStatusReport, type CampaignStatus } from '../../src/reports/status.js';
import { formatStatus } from '../../src/cli/campaign.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';

const prefix = testPrefix('pace-facts');
const keys = makeKeys(prefix);
let redis: Redis;
beforeAll(() => {
  redis = connectRedis();
});
afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

/** The status report's clock: a whole second, so the buckets written below are exactly the last ten. */
const T = Math.floor(Date.now() / 1000) * 1000 + 400;
const FAR = Date.now() + 3_600_000;

function deps() {
  // Campaigns start a minute before the report looks: their recent rate spans the whole ten seconds.
  const campaigns = makeCampaignStore({ redis, keys, now: () => T - 60_000 });
  const contacts = makeContactStore({ redis, keys });
  // A campaign counts as waiting on its account for ten minutes after it asked: however slow the machine, the reads see it.
  const pacer = createRedisPacer({ redis, prefix, activeWindowMs: 600_000 });
  const status = makeStatusReport({
    campaigns,
    contacts,
    callbackLog: makeCallbackLog({ redis, keys }),
    pacer,
    dialRate: makeDialRate({ redis, keys }),
    notifications: async () => ({ delivered: 0, retrying: 0, failed: 0 }),
    now: () => T,
  });
  return { campaigns, contacts, pacer, status };
}

const csv = (n: number): Readable => Readable.from([Buffer.from(`phone\n${Array.from({ length: n }, (_, i) => `1380000${String(i).padStart(4, '0')}`).join('\n')}\n`)]);

async function campaign(raw: Record<string, unknown>, contactsN = 30): Promise<string> {
  const d = deps();
  const def = parseCampaignDefinition(
    { provider: 'sipcall', action: 'playvoice', params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' }, ...raw },
    { timezone: 'Asia/Shanghai', region: 'CN' },
  );
  const id = await d.campaigns.create(def);
  await d.pacer.setCampaignLimits(id, { cps: def.cps, maxConcurrent: def.maxConcurrent });
  await importContactList({ redis, keys, campaigns: d.campaigns, contacts: d.contacts, now: () => T, log: pino({ level: 'silent' }) }, id, csv(contactsN), 'list.csv');
  return id;
}

/** Begin counts of the last ten whole seconds before T, as the begin script writes them. */
async function begun(cid: string, perSecond: number[]): Promise<void> {
  const sec = Math.floor(T / 1000);
  const fields: Record<string, string> = {};
  perSecond.forEach((n, i) => (fields[String(sec - perSecond.length + i)] = String(n)));
  // A bucket of the current second and one too old: neither counts.
  fields[String(sec)] = '50';
  fields[String(sec - 15)] = '50';
  await redis.hset(keys.sends(cid), fields);
}

async function statusOf(id: string): Promise<CampaignStatus> {
  const s = await deps().status(id);
  if (!s) throw new Error(`no status for ${id}`);
  return s;
}

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
