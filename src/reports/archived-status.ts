/**
 * The status of a campaign Redis no longer holds (deleted once archived),
 * from its row in the history store: the same report, its counts, sums and
 * counters as they were when it left Redis, its pace limits as they were
 * then, nothing in flight or waiting.
 */
import type { HistoryReads } from '../history/reads.js';
import { makeStatusReport, type CampaignStatus } from './status.js';
import type { PaceReader } from './pace-facts.js';

export function makeArchivedStatus(deps: { history: Pick<HistoryReads, 'campaign'>; pacer: PaceReader; now?: () => number }) {
  const { pacer } = deps;
  return async function archivedStatus(id: string): Promise<CampaignStatus | null> {
    const archived = await deps.history.campaign(id);
    if (!archived) return null;
    const { record, summary: s } = archived;
    const report = makeStatusReport({
      campaigns: { get: async () => record, counts: async () => ({ byStatus: s.counts, final: s.final }) },
      contacts: { stats: async () => s.stats, dueCount: async () => ({ due: 0, ready: 0, feeding: 0, nextDueAt: null }) },
      callbackLog: { counters: async () => s.callbacks },
      pacer: {
        getCampaignLimits: async () => s.limits,
        getAccountLimits: (account) => pacer.getAccountLimits(account),
        inFlight: async (account, campaignId) => ({ account: (await pacer.inFlight(account, campaignId)).account, campaign: 0 }),
        effectiveRate: (account) => pacer.effectiveRate(account),
        accountCampaigns: (account) => pacer.accountCampaigns(account),
      },
      notifications: async () => s.notifications,
      ...(deps.now ? { now: deps.now } : {}),
    });
    return report(id);
  };
}
