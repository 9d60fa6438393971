/**
 * A campaign's status: state, counts by contact status, what is in flight,
 * and what its callbacks turned out to be.
 */
import type { CampaignStore, StatusCounts } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { CallbackCounter, CallbackLog } from '../store/callback-log.js';
import type { Pacer, PaceLimits } from '../pacing/types.js';
import type { CampaignState } from '../domain/types.js';

export interface CampaignStatus {
  id: string;
  name: string;
  state: CampaignState;
  provider: string;
  action: string;
  pausedReason: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  total: number;
  final: number;
  counts: StatusCounts;
  inFlight: number;
  waiting: number;
  nextDueAt: string | null;
  pace: PaceLimits;
  answerRate: number | null;
  callbacks: Record<CallbackCounter, number>;
  import: Record<string, unknown> | null;
}

export function makeStatusReport(deps: { campaigns: CampaignStore; contacts: ContactStore; callbackLog: CallbackLog; pacer: Pacer }) {
  return async function campaignStatus(id: string): Promise<CampaignStatus | null> {
    const c = await deps.campaigns.get(id);
    if (!c) return null;
    const [{ byStatus, final }, due, callbacks, inFlight, pace] = await Promise.all([
      deps.campaigns.counts(id),
      deps.contacts.dueCount(id),
      deps.callbackLog.counters(id),
      deps.pacer.inFlight(c.definition.provider, id),
      deps.pacer.getCampaignLimits(id),
    ]);
    const reached = byStatus.answered + byStatus.no_answer + byStatus.busy + byStatus.failed + byStatus.no_result + byStatus.in_doubt;
    return {
      id,
      name: c.definition.name,
      state: c.state,
      provider: c.definition.provider,
      action: c.definition.action,
      pausedReason: c.pausedReason,
      createdAt: c.createdAt,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      total: c.total,
      final,
      counts: byStatus,
      inFlight: inFlight.campaign,
      waiting: due.due + due.feeding,
      nextDueAt: due.nextDueAt !== null ? new Date(due.nextDueAt).toISOString() : null,
      pace,
      answerRate: reached > 0 ? Math.round((byStatus.answered / reached) * 1000) / 1000 : null,
      callbacks,
      import: c.importSummary,
    };
  };
}

export type StatusReport = ReturnType<typeof makeStatusReport>;
