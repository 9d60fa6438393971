/**
 * Without a history store (no DATABASE_URL), Redis is the history: a
 * finished campaign — completed, or cancelled once its last call ended —
 * stays AUTODIALER_HISTORY_RETENTION after it finished, then goes as
 * `campaign delete` removes it (its record, contacts, attempts and
 * counters). Export what you need to keep before then. With a history
 * store the archiver moves finished campaigns out instead.
 */
import type { Logger } from 'pino';
import type { CampaignStore } from './campaigns.js';

export interface HistoryRetentionPass {
  /** Campaigns deleted in this pass. */
  deleted: string[];
  /** Finished long enough ago but not deletable yet (a cancelled campaign with calls still in flight), with why. */
  kept: { id: string; why: string }[];
}

export function makeHistoryRetention(deps: {
  campaigns: Pick<CampaignStore, 'list' | 'get'>;
  /** Deletes a finished campaign (the container's purge); throws when it may not go yet. */
  purge: (cid: string) => Promise<unknown>;
  now: () => number;
  retentionMs: number;
  log: Logger;
}) {
  /** Deletes every campaign that finished more than the retention ago. */
  async function expire(): Promise<HistoryRetentionPass> {
    const cutoff = deps.now() - deps.retentionMs;
    const pass: HistoryRetentionPass = { deleted: [], kept: [] };
    for (const id of await deps.campaigns.list()) {
      const c = await deps.campaigns.get(id);
      if (!c || (c.state !== 'completed' && c.state !== 'cancelled') || c.finishedAt === null) continue;
      const finished = Date.parse(c.finishedAt);
      if (!Number.isFinite(finished) || finished >= cutoff) continue;
      try {
        await deps.purge(id);
        pass.deleted.push(id);
      } catch (err) {
        pass.kept.push({ id, why: (err as Error).message });
      }
    }
    if (pass.deleted.length > 0) deps.log.info({ deleted: pass.deleted, retentionMs: deps.retentionMs }, 'finished campaigns deleted at the end of their history retention');
    for (const k of pass.kept) deps.log.warn({ campaignId: k.id, why: k.why }, 'a campaign past its history retention could not be deleted yet');
    return pass;
  }

  return { expire };
}

export type HistoryRetention = ReturnType<typeof makeHistoryRetention>;
