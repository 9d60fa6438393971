/**
 * Campaigns on real Redis for the pace tests: stores, a pacer and a status
 * report sharing one key prefix, contacts imported from a generated list,
 * and begin counts written as the begin script writes them.
 */
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Keys } from '../../src/store/keys.js';
import { makeCampaignStore } from '../../src/store/campaigns.js';
import { makeContactStore } from '../../src/store/contacts.js';
import { makeCallbackLog } from '../../src/store/callback-log.js';
import { makeDialRate } from '../../src/store/dial-rate.js';
import { createRedisPacer } from '../../src/pacing/index.js';
import { parseCampaignDefinition } from '../../src/campaign/definition.js';
import { importContactList } from '../../src/campaign/import.js';
import { makeStatusReport, type CampaignStatus } from '../../src/reports/status.js';

/**
 * `now` is the status report's clock: a whole second and a bit, so the
 * buckets `begun` writes are exactly the last ten whole seconds.
 */
export function paceWorld(redis: Redis, keys: Keys, prefix: string, now: number) {
  // Campaigns start a minute before the report looks: their recent rate spans the whole ten seconds.
  const campaigns = makeCampaignStore({ redis, keys, now: () => now - 60_000 });
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
    now: () => now,
  });

  const csv = (n: number): Readable =>
    Readable.from([Buffer.from(`phone\n${Array.from({ length: n }, (_, i) => `1380000${String(i).padStart(4, '0')}`).join('\n')}\n`)]);

  /** A running campaign of `contactsN` contacts, its pace limits set as the container sets them. */
  async function campaign(raw: Record<string, unknown>, contactsN = 30): Promise<string> {
    const def = parseCampaignDefinition(
      { provider: 'sipcall', action: 'playvoice', params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' }, ...raw },
      { timezone: 'Asia/Shanghai', region: 'CN' },
    );
    const id = await campaigns.create(def);
    await pacer.setCampaignLimits(id, { cps: def.cps, maxConcurrent: def.maxConcurrent });
    await importContactList({ redis, keys, campaigns, contacts, now: () => now, log: pino({ level: 'silent' }) }, id, csv(contactsN), 'list.csv');
    return id;
  }

  /** Begin counts of the last whole seconds before `now`, as the begin script writes them, and two that must not count. */
  async function begun(cid: string, perSecond: number[]): Promise<void> {
    const sec = Math.floor(now / 1000);
    const fields: Record<string, string> = {};
    perSecond.forEach((n, i) => (fields[String(sec - perSecond.length + i)] = String(n)));
    fields[String(sec)] = '50'; // the current second, not over yet
    fields[String(sec - 15)] = '50'; // older than the window
    await redis.hset(keys.sends(cid), fields);
  }

  async function statusOf(id: string): Promise<CampaignStatus> {
    const s = await status(id);
    if (!s) throw new Error(`no status for ${id}`);
    return s;
  }

  return { campaigns, contacts, pacer, status, campaign, begun, statusOf };
}
