/**
 * A campaign's summary as Redis has it now: counts by status, report sums,
 * callback and notification counters and its limits. The archiver writes it
 * with the campaign's row, and it is what stays in Redis once the
 * campaign's contacts have left.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { CallbackLog } from '../store/callback-log.js';
import type { Pacer } from '../pacing/types.js';
import { notificationCounts } from '../notify/index.js';
import type { CampaignSummary } from './records.js';

export function makeCampaignSummary(deps: {
  redis: Redis;
  keys: Keys;
  campaigns: Pick<CampaignStore, 'counts'>;
  contacts: Pick<ContactStore, 'stats'>;
  callbackLog: Pick<CallbackLog, 'counters'>;
  pacer: Pick<Pacer, 'getCampaignLimits'>;
}): (cid: string) => Promise<CampaignSummary> {
  return async (cid) => {
    const [counts, stats, callbacks, notifications, limits] = await Promise.all([
      deps.campaigns.counts(cid),
      deps.contacts.stats(cid),
      deps.callbackLog.counters(cid),
      notificationCounts(deps.redis, deps.keys, cid),
      deps.pacer.getCampaignLimits(cid),
    ]);
    return { counts: counts.byStatus, final: counts.final, stats, callbacks, notifications, limits };
  };
}
