/**
 * Deleting a campaign for good: its record, contacts, states, attempts,
 * report sums, callback counters, notification records, pacing keys and
 * dial queue. Redis holds everything in memory, so a deployment that runs
 * campaign after campaign must be able to let the old ones go (export their
 * results first). Only a campaign whose every contact is final can go: a
 * call still in flight would lose its result. Stored raw callbacks stay in
 * the log until its retention; a result arriving afterwards is an orphan.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { QueueRegistry } from '../infra/queues.js';
import { notifyKeys } from '../notify/keys.js';
import { campaignKeysPattern } from '../pacing/keys.js';
import { ControlError } from './control.js';
import type { CampaignCache } from './runtime.js';

/** Keys unlinked per command. */
const CHUNK = 500;

export function makeCampaignPurge(deps: { redis: Redis; keys: Keys; prefix: string; campaigns: CampaignStore; cache: CampaignCache; queues: QueueRegistry }) {
  const { redis, keys: k, campaigns } = deps;

  /** Unlinks every key matching `pattern` (SCAN, so Redis is never held long); returns how many. */
  async function unlinkMatching(pattern: string): Promise<number> {
    let cursor = '0';
    let removed = 0;
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i < found.length; i += CHUNK) removed += await redis.unlink(...found.slice(i, i + CHUNK));
    } while (cursor !== '0');
    return removed;
  }

  /** The campaign's deliveries waiting for a retry (ids `<campaign>-…`), with their records. */
  async function dropRetries(cid: string): Promise<number> {
    const nk = notifyKeys(k);
    let cursor = '0';
    let removed = 0;
    do {
      const [next, flat] = await redis.zscan(nk.retry, cursor, 'MATCH', `${cid}-*`, 'COUNT', 1000);
      cursor = next;
      const ids = flat.filter((_, i) => i % 2 === 0);
      if (ids.length > 0) {
        await redis.zrem(nk.retry, ...ids);
        removed += await redis.unlink(...ids.map((id) => nk.delivery(id)));
      }
    } while (cursor !== '0');
    return removed;
  }

  /**
   * Deletes a completed campaign, or a cancelled one whose calls have all
   * ended. It leaves the listings first, its record last: run again, it
   * finishes what an interrupted run left. Returns how many keys went.
   */
  async function purge(cid: string): Promise<{ keys: number }> {
    const c = await campaigns.require(cid);
    if (c.state !== 'completed' && c.state !== 'cancelled') {
      throw new ControlError(`campaign ${cid} is ${c.state}: only a completed or cancelled campaign can be deleted (cancel it first)`);
    }
    const { byStatus } = await campaigns.counts(cid);
    if (byStatus.pending > 0) {
      throw new ControlError(`campaign ${cid} is cancelled but ${byStatus.pending} of its contacts are not final yet (calls in flight end first): delete it once they are`);
    }
    await redis.multi().zrem(k.campaigns, cid).srem(k.active, cid).exec();
    await deps.queues.get(cid).obliterate({ force: true });
    await deps.queues.release(cid);
    let removed = await dropRetries(cid);
    removed += await unlinkMatching(`${k.attempt(`${cid}-`)}*`);
    removed += await unlinkMatching(`${k.campaign(cid)}:*`);
    removed += await unlinkMatching(campaignKeysPattern(deps.prefix, cid));
    removed += await redis.unlink(k.campaign(cid));
    deps.cache.invalidate(cid);
    return { keys: removed };
  }

  return { purge };
}

export type CampaignPurge = ReturnType<typeof makeCampaignPurge>;
