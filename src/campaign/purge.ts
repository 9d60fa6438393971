/**
 * Deleting a campaign for good: its record, contacts, states, attempts,
 * report sums, callback counters, notification records, pacing keys and
 * dial queue. Redis holds everything in memory, so a deployment that runs
 * campaign after campaign must be able to let the old ones go (export their
 * results first). Only a campaign whose every contact is final can go: a
 * call still in flight would lose its result. Stored raw callbacks stay in
 * the log until its retention; a result arriving afterwards is an orphan.
 *
 * With a history store, a finished campaign's contacts and attempts leave
 * Redis once archived (`shrink`: its summary stays), and a deletion first
 * waits for the archiver to have moved them (`history`).
 */
import { dropCampaignSeries } from '../reports/metrics-tally.js';
import { scanTargets } from '../infra/redis.js';
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

/** What a campaign keeps once its contacts and attempts are in the history store: its summary (suffixes of its hash key). */
export const SUMMARY_SUFFIXES = [':counts', ':cb', ':stats', ':notify', ':notify:dead', ':hist'] as const;

/** A deletion with a history store: the campaign is archived first, then forgotten by the archiver. */
export interface PurgeHistory {
  beforeDelete(cid: string): Promise<void>;
  afterDelete(cid: string): Promise<void>;
}

export function makeCampaignPurge(deps: {
  redis: Redis;
  keys: Keys;
  prefix: string;
  campaigns: CampaignStore;
  cache: CampaignCache;
  queues: QueueRegistry;
  history?: PurgeHistory | null;
}) {
  const { redis, keys: k, campaigns } = deps;

  /** Unlinks every key matching `pattern` (SCAN, so Redis is never held long) that `keep` does not keep; returns how many. */
  async function unlinkMatching(pattern: string, keep: (key: string) => boolean = () => false): Promise<number> {
    let removed = 0;
    // On a cluster each master holds its own part of the keyspace: every one is scanned.
    for (const node of scanTargets(redis)) {
      let cursor = '0';
      do {
        const [next, scanned] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        const found = scanned.filter((key) => !keep(key));
        for (let i = 0; i < found.length; i += CHUNK) removed += await redis.unlink(...found.slice(i, i + CHUNK));
      } while (cursor !== '0');
    }
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
    await deps.history?.beforeDelete(cid);
    await redis.multi().zrem(k.campaigns, cid).srem(k.active, cid).exec();
    await deps.queues.get(cid).obliterate({ force: true });
    await deps.queues.release(cid);
    let removed = await dropRetries(cid);
    removed += await unlinkMatching(`${k.attempt(`${cid}-`)}*`);
    removed += await unlinkMatching(`${k.campaign(cid)}:*`);
    removed += await unlinkMatching(campaignKeysPattern(deps.prefix, cid));
    removed += await redis.unlink(k.campaign(cid));
    // Its series in the deployment's metrics tally go too (the hash would otherwise grow with every campaign).
    await dropCampaignSeries(redis, deps.prefix, cid);
    deps.cache.invalidate(cid);
    await deps.history?.afterDelete(cid);
    return { keys: removed };
  }

  /**
   * Once a finished campaign's contacts and attempts are in the history
   * store (and have left Redis): its other keys go, its dial queue with
   * them; its record and summary stay (status, listings, dashboard).
   * Returns how many keys went.
   */
  async function shrink(cid: string): Promise<number> {
    await deps.queues.get(cid).obliterate({ force: true });
    await deps.queues.release(cid);
    const base = k.campaign(cid);
    const kept = new Set<string>(SUMMARY_SUFFIXES.map((s) => `${base}${s}`));
    let removed = await unlinkMatching(`${k.attempt(`${cid}-`)}*`);
    removed += await unlinkMatching(`${base}:*`, (key) => kept.has(key));
    deps.cache.invalidate(cid);
    return removed;
  }

  return { purge, shrink };
}

export type CampaignPurge = ReturnType<typeof makeCampaignPurge>;
