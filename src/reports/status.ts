/**
 * A campaign's status: state, counts by contact status, what is in flight
 * and waiting, its pace and what holds it, answer rate, talk time,
 * keypresses, what its callbacks turned out to be, and an estimate of when
 * it ends.
 */
import type { CampaignStore, StatusCounts } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { CallbackCounter, CallbackLog } from '../store/callback-log.js';
import type { PaceLimits } from '../pacing/types.js';
import type { DialRate } from '../store/dial-rate.js';
import { explainPace, type HoldKind, type PaceChannels } from './pace.js';
import { makePaceGatherer, type PaceReader } from './pace-facts.js';
import type { CapWaits } from '../store/cap-waits.js';
import type { CampaignState } from '../domain/types.js';
import type { NotificationCounts } from '../notify/deliveries.js';

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
  /** Contacts stored (rejected rows included: they are final at once). */
  total: number;
  final: number;
  counts: StatusCounts;
  /** Calls placed and not yet final (holding a channel). */
  inFlight: number;
  /** Contacts due now, not yet handed to a worker. */
  ready: number;
  /** Contacts scheduled later: retries and contacts waiting for their calling window. */
  scheduled: number;
  nextDueAt: string | null;
  retriesScheduled: number;
  pace: PaceLimits;
  /** Calls begun per second over the last 10 s; null when not measured. */
  rateNow: number | null;
  /** The rate the campaign is meant to reach; null when nothing limits its rate. */
  targetRate: number | null;
  /** Channels in use against the cap with the least room (the campaign's or its account's). */
  channels: PaceChannels;
  /** The limit that holds the campaign now, in words (docs/pacing.md, "Why is my campaign slow?"). */
  heldBy: { kind: HoldKind; text: string };
  /** answered / contacts that reached a final status through a call. */
  answerRate: number | null;
  /** Mean billed seconds of answered calls. */
  avgTalkSeconds: number | null;
  /** PlayVoice keypresses of answered calls ('none' = no key). */
  keypresses: Record<string, number>;
  callbacks: Record<CallbackCounter, number>;
  /** Outbound notifications to the campaign's webhook (all zero without one). */
  notifications: NotificationCounts;
  /** Rough end time at the campaign's pace (calling windows aside); null when unknown. */
  eta: string | null;
  import: Record<string, unknown> | null;
  /** The schedule and tick that launched a scheduled run (null for other campaigns). */
  schedule: { name: string; tick: string } | null;
}

export function makeStatusReport(deps: {
  campaigns: Pick<CampaignStore, 'get' | 'counts'>;
  contacts: Pick<ContactStore, 'stats' | 'dueCount'>;
  callbackLog: Pick<CallbackLog, 'counters'>;
  pacer: PaceReader;
  /** The recent rate (rateNow); without it the rate is not measured. */
  dialRate?: DialRate;
  capWaits?: CapWaits;
  notifications: (campaignId: string) => Promise<NotificationCounts>;
  now?: () => number;
  /** A campaign Redis no longer holds, as the history store has it (null: not there either). */
  archived?: (id: string) => Promise<CampaignStatus | null>;
}) {
  const now = deps.now ?? (() => Date.now());
  const gatherPace = makePaceGatherer(deps);
  return async function campaignStatus(id: string): Promise<CampaignStatus | null> {
    const c = await deps.campaigns.get(id);
    if (!c) return deps.archived ? deps.archived(id) : null;
    const t = now();
    const [{ facts, reads }, callbacks, sums, notifications] = await Promise.all([
      gatherPace(c, t),
      deps.callbackLog.counters(id),
      deps.contacts.stats(id),
      deps.notifications(id),
    ]);
    const { byStatus, final } = reads.counts;
    const { due, inFlight, campaignLimits: pace } = reads;
    const { rateNow, targetRate, channels, heldBy } = explainPace(facts);
    const reached = byStatus.answered + byStatus.no_answer + byStatus.busy + byStatus.failed + byStatus.no_result + byStatus.in_doubt;
    const keypresses: Record<string, number> = {};
    for (const [f, v] of Object.entries(sums)) if (f.startsWith('key:') && v > 0) keypresses[f.slice(4)] = v;
    const answered = sums.answered ?? 0;
    const active = c.state === 'running' || c.state === 'importing';
    const pendingNow = due.ready + due.feeding;
    let eta: string | null = null;
    // At the pace that holds it: the campaign's own rate or its account's (as slowed by a back-off), the tighter.
    const rates = [pace.cps, facts.account.effectiveCps].filter((r) => r > 0);
    const cps = rates.length > 0 ? Math.min(...rates) : 0;
    if (c.state === 'completed' || c.state === 'cancelled') eta = c.finishedAt;
    else if (active && cps > 0) {
      const lastStart = Math.max(t + (pendingNow / cps) * 1000, due.nextDueAt ?? 0);
      eta = new Date(lastStart + c.definition.resultTimeoutMs).toISOString();
    }
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
      ready: pendingNow,
      scheduled: due.due - due.ready,
      nextDueAt: due.nextDueAt !== null ? new Date(due.nextDueAt).toISOString() : null,
      retriesScheduled: sums.retries ?? 0,
      pace,
      rateNow,
      targetRate,
      channels,
      heldBy,
      answerRate: reached > 0 ? Math.round((byStatus.answered / reached) * 1000) / 1000 : null,
      avgTalkSeconds: answered > 0 ? Math.round(((sums.billsec ?? 0) / answered) * 10) / 10 : null,
      keypresses,
      callbacks,
      notifications,
      eta,
      import: c.importSummary,
      schedule: c.schedule ?? null,
    };
  };
}

export type StatusReport = ReturnType<typeof makeStatusReport>;
