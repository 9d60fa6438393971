/**
 * Reads the facts a campaign's pace is explained from (pace.ts): its limits
 * and its account's, channels held, back-off, the campaigns sharing the
 * account, the recent rate, what waits to be dialed and the calling window.
 * Every read leaves at once, so they share one round trip or two.
 */
import type { CampaignRecord, CampaignStore, StatusCounts } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { CapWaits } from '../store/cap-waits.js';
import type { DialRate } from '../store/dial-rate.js';
import { DIAL_RATE_WINDOW_S } from '../store/dial-rate.js';
import type { PaceLimits } from '../pacing/types.js';
import type { RedisPacer } from '../pacing/redis-pacer.js';
import { resolveCampaign } from '../campaign/runtime.js';
import { isCallable, nextCallableTime } from '../domain/window.js';
import type { PaceFacts } from './pace.js';

/** What the pace needs of the pacer: its reads. */
export type PaceReader = Pick<RedisPacer, 'getCampaignLimits' | 'getAccountLimits' | 'inFlight' | 'effectiveRate' | 'accountCampaigns'>;

export interface PaceReads {
  counts: { byStatus: StatusCounts; final: number };
  due: { due: number; ready: number; feeding: number; nextDueAt: number | null };
  campaignLimits: PaceLimits;
  inFlight: { account: number; campaign: number };
}

export interface GatheredPace {
  facts: PaceFacts;
  /** The reads the status report shows as they are. */
  reads: PaceReads;
}

export function makePaceGatherer(deps: {
  campaigns: Pick<CampaignStore, 'counts'>;
  contacts: Pick<ContactStore, 'dueCount'>;
  pacer: PaceReader;
  /** The recent rate; without it the rate is not measured. */
  dialRate?: DialRate | undefined;
  /** Contacts waiting for their number's frequency cap; without it they are not counted. */
  capWaits?: Pick<CapWaits, 'count'> | undefined;
}) {
  const { campaigns, contacts, pacer, dialRate, capWaits } = deps;

  /**
   * Whole seconds the recent rate is taken over: the last ten, or those begun
   * since the campaign started when that was less than ten seconds ago (the
   * second it started in is left out: it was not all spent dialing); 0 when
   * no whole second has passed yet.
   */
  function rateWindowS(record: CampaignRecord, nowMs: number): number {
    const started = record.startedAt ? Date.parse(record.startedAt) : Number.NaN;
    if (!Number.isFinite(started)) return DIAL_RATE_WINDOW_S;
    return Math.max(0, Math.min(DIAL_RATE_WINDOW_S, Math.floor(nowMs / 1000) - Math.ceil(started / 1000)));
  }

  async function recentRate(record: CampaignRecord, nowMs: number, windowS: number): Promise<number | null> {
    return dialRate && windowS > 0 ? dialRate.recent(record.id, nowMs, windowS) : null;
  }

  return async function gatherPace(record: CampaignRecord, nowMs: number): Promise<GatheredPace> {
    const id = record.id;
    const account = record.definition.provider;
    const windowS = rateWindowS(record, nowMs);
    const [counts, due, campaignLimits, accountLimits, inFlight, effective, sharing, rateNow, capped] = await Promise.all([
      campaigns.counts(id),
      contacts.dueCount(id, nowMs),
      pacer.getCampaignLimits(id),
      pacer.getAccountLimits(account),
      pacer.inFlight(account, id),
      pacer.effectiveRate(account),
      pacer.accountCampaigns(account),
      recentRate(record, nowMs, windowS),
      capWaits ? capWaits.count(id, nowMs) : null,
    ]);
    const { window, zone } = resolveCampaign(record);
    const open = isCallable(window, zone, nowMs);

    // Not final, not in the due set, holding no channel: in the dial queue or in a worker's hands.
    const queued = Math.max(0, record.total - counts.final - due.due - due.feeding - inFlight.campaign);
    const facts: PaceFacts = {
      nowMs,
      state: record.state,
      pausedReason: record.pausedReason,
      rateNow,
      rateWindowS: windowS,
      definedCps: record.definition.cps,
      campaign: { limits: campaignLimits, inUse: inFlight.campaign },
      account: {
        name: account,
        limits: { cps: effective.configuredCps, maxConcurrent: accountLimits.maxConcurrent },
        inUse: inFlight.account,
        effectiveCps: effective.effectiveCps,
        blockedForMs: effective.blockedForMs,
        backoffActive: effective.backingOff,
        others: sharing.filter((c) => c.campaignId !== id).map((c) => c.cps),
      },
      work: { waiting: due.ready + due.feeding + queued, scheduled: due.due - due.ready, nextDueAt: due.nextDueAt, frequencyCapped: capped },
      window: { open, opensAt: open ? nowMs : nextCallableTime(window, zone, nowMs), zone },
    };
    return { facts, reads: { counts, due, campaignLimits, inFlight } };
  };
}

export type PaceGatherer = ReturnType<typeof makePaceGatherer>;
