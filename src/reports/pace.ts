/**
 * Why a campaign dials at the pace it does: its recent rate next to its
 * target, its channels against their cap, and the one limit that holds it
 * now, in words. A pure function of facts read elsewhere (pace-facts.ts).
 */
import { DateTime } from 'luxon';
import type { CampaignState } from '../domain/types.js';
import type { PaceLimits } from '../pacing/types.js';
import { DIAL_RATE_WINDOW_S } from '../store/dial-rate.js';

export interface PaceFacts {
  nowMs: number;
  state: CampaignState;
  pausedReason: string | null;
  /** Calls begun per second over the last seconds; null when not measured. */
  rateNow: number | null;
  /** Seconds `rateNow` is a mean over: fewer than the full window right after the start. */
  rateWindowS: number;
  /** The cps the campaign was defined with (0 = no limit); its limits may have been changed since. */
  definedCps: number;
  campaign: { limits: PaceLimits; inUse: number };
  account: {
    /** The provider account (its family name). */
    name: string;
    /** Configured limits (0 = no limit). */
    limits: PaceLimits;
    inUse: number;
    /** The rate in force: the configured cps, or less while recovering from a 429. */
    effectiveCps: number;
    /** How long a Retry-After still blocks the account (0 = not blocked). */
    blockedForMs: number;
    /** The pacer's own word on a back-off in force, when it gives one. */
    backoffActive?: boolean;
    /** Own cps (0 = none) of each other campaign waiting on the account now. */
    others: readonly number[];
  };
  work: {
    /** Contacts due now or handed to workers, not dialed yet. */
    waiting: number;
    /** Contacts due later (retries, calling windows, frequency caps). */
    scheduled: number;
    nextDueAt: number | null;
    /** Contacts rescheduled to wait for their number's frequency cap; null when not known. */
    frequencyCapped: number | null;
  };
  /** The calling window in the campaign's own zone. */
  window: { open: boolean; opensAt: number | null; zone: string };
}

export type HoldKind =
  | 'paused'
  | 'finished'
  | 'calling_window'
  | 'frequency_cap'
  | 'waiting_retries'
  | 'nothing_to_dial'
  | 'backoff'
  | 'campaign_channels'
  | 'account_channels'
  | 'account_rate'
  | 'campaign_rate'
  | 'starting'
  | 'workers'
  | 'not_held';

export interface PaceChannels {
  /** Channels in use, counted against `cap`. */
  inUse: number;
  /** The cap with the least room left; null when neither the campaign nor its account has one. */
  cap: number | null;
  capSource: 'campaign' | 'account' | null;
}

export interface PaceReport {
  /** Calls begun per second over the last seconds (two decimals); null when not measured. */
  rateNow: number | null;
  /** The rate the campaign is meant to reach; null when nothing limits its rate. */
  targetRate: number | null;
  channels: PaceChannels;
  heldBy: { kind: HoldKind; text: string };
}

/** A rate this close to its target counts as reaching it (the recent rate is a 10 s mean). */
const AT_TARGET = 0.9;

const INF = Number.POSITIVE_INFINITY;
const orInf = (cps: number): number => (cps > 0 ? cps : INF);

/** 20, 6.9, 0.5, 0.25: enough digits to tell a rate apart, no more. */
export function formatRate(cps: number): string {
  if (Number.isInteger(cps)) return String(cps);
  if (cps < 1) return String(Math.round(cps * 100) / 100);
  return (Math.round(cps * 10) / 10).toString();
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** A local time in `zone`: 09:00 today, Mon 09:00 within the week, else the date. */
function localTime(ms: number, nowMs: number, zone: string): string {
  const at = DateTime.fromMillis(ms, { zone });
  const now = DateTime.fromMillis(nowMs, { zone });
  if (!at.isValid || !now.isValid) return new Date(ms).toISOString();
  const days = at.startOf('day').diff(now.startOf('day'), 'days').days;
  const format = days < 1 ? 'HH:mm' : days < 7 ? 'ccc HH:mm' : 'yyyy-MM-dd HH:mm';
  return `${at.toFormat(format, { locale: 'en' })} ${zone}`;
}

/**
 * The campaign's share of an account's rate `accountCps` when the others
 * wait on it too: max-min fair, as the pacer splits it (each gets an equal
 * share, except that a campaign whose own cps is below its share keeps only
 * that and the rest is split between the others).
 */
export function fairShare(accountCps: number, ownCps: number, others: readonly number[]): number {
  if (accountCps <= 0) return INF;
  const caps = [...others.map(orInf), orInf(ownCps)].sort((a, b) => a - b);
  let left = accountCps;
  let n = caps.length;
  for (const cap of caps) {
    const even = left / n;
    if (cap >= even) return Math.min(orInf(ownCps), even);
    left -= cap;
    n--;
  }
  return orInf(ownCps);
}

/** Target: the campaign's own cps (or the one it was defined with, when lowered since), else its account's, else none. */
function targetOf(f: PaceFacts): number | null {
  const own = f.campaign.limits.cps;
  if (own > 0) return f.definedCps > own ? f.definedCps : own;
  return f.account.limits.cps > 0 ? f.account.limits.cps : null;
}

function channelsOf(f: PaceFacts): PaceChannels {
  const c = f.campaign.limits.maxConcurrent;
  const a = f.account.limits.maxConcurrent;
  const campaignRoom = c > 0 ? c - f.campaign.inUse : INF;
  const accountRoom = a > 0 ? a - f.account.inUse : INF;
  if (campaignRoom === INF && accountRoom === INF) return { inUse: f.campaign.inUse, cap: null, capSource: null };
  if (accountRoom < campaignRoom) return { inUse: f.account.inUse, cap: a, capSource: 'account' };
  return { inUse: f.campaign.inUse, cap: c, capSource: 'campaign' };
}

/**
 * Full, or as good as full while the rate stays under its target: channels
 * freed and taken again between two looks are never all seen free at once.
 */
function channelsHold(inUse: number, cap: number, belowTarget: boolean): boolean {
  if (cap <= 0) return false;
  if (inUse >= cap) return true;
  return belowTarget && cap - inUse <= Math.max(1, Math.floor(cap / 10));
}

function held(kind: HoldKind, text: string): PaceReport['heldBy'] {
  return { kind, text };
}

/** Why nothing is dialed although the campaign runs: nothing is due now. */
function idle(f: PaceFacts): PaceReport['heldBy'] {
  const w = f.work;
  if (!f.window.open && w.scheduled > 0) {
    const opens = f.window.opensAt === null ? 'closed for good' : `opens ${localTime(f.window.opensAt, f.nowMs, f.window.zone)}`;
    return held('calling_window', `held by calling window (${opens})`);
  }
  if (w.frequencyCapped !== null && w.frequencyCapped > 0) {
    return held('frequency_cap', `held by frequency cap (${plural(w.frequencyCapped, "contact waits for its number's cap", "contacts wait for their number's cap")})`);
  }
  if (w.scheduled > 0) {
    const next = w.nextDueAt !== null ? ` (next due ${localTime(w.nextDueAt, f.nowMs, f.window.zone)})` : '';
    return held('waiting_retries', `waiting for retries${next}`);
  }
  if (f.state === 'importing') return held('nothing_to_dial', 'nothing to dial yet (import in progress)');
  const calls = f.campaign.inUse > 0 ? ` (${plural(f.campaign.inUse, 'call', 'calls')} in progress)` : '';
  return held('nothing_to_dial', `nothing left to dial${calls}`);
}

/** Which limit holds the campaign now, given that contacts wait to be dialed. */
function binding(f: PaceFacts): PaceReport['heldBy'] {
  const a = f.account;
  const own = f.campaign.limits.cps;
  const configured = a.limits.cps;
  const rate = f.rateNow;
  if (a.blockedForMs > 0) {
    return held('backoff', `held by provider 429 back-off (account ${a.name} blocked for ${Math.ceil(a.blockedForMs / 1000)} s)`);
  }
  // What the account gives the campaign now, and whether that is less than it asks for.
  const share = fairShare(a.effectiveCps > 0 ? a.effectiveCps : configured, own, a.others);
  const backoff = a.backoffActive ?? (configured > 0 && a.effectiveCps > 0 && a.effectiveCps < configured);
  let account: PaceReport['heldBy'] | null = null;
  if (share < orInf(own)) {
    if (backoff && share < fairShare(configured, own, a.others)) {
      const of = configured > 0 ? ` of ${formatRate(configured)}/s` : '';
      account = held('backoff', `held by provider 429 back-off (account ${a.name} at ${formatRate(a.effectiveCps)}/s${of})`);
    } else if (configured > 0) {
      const shared = a.others.length > 0 ? ` shared with ${plural(a.others.length, 'other campaign', 'other campaigns')}` : '';
      account = held('account_rate', `held by account ${a.name} ${formatRate(configured)}/s${shared}`);
    }
  }
  // A rate that has reached what the account gives is explained by it, whatever the channels look like at this instant.
  if (account && rate !== null && rate >= share * AT_TARGET) return account;
  const reach = Math.min(share, orInf(own));
  const belowReach = rate !== null && reach !== INF && rate < reach * AT_TARGET;
  if (channelsHold(f.campaign.inUse, f.campaign.limits.maxConcurrent, belowReach)) {
    return held('campaign_channels', `held by channels ${f.campaign.inUse}/${f.campaign.limits.maxConcurrent} (campaign)`);
  }
  if (channelsHold(a.inUse, a.limits.maxConcurrent, belowReach)) {
    return held('account_channels', `held by channels ${a.inUse}/${a.limits.maxConcurrent} (account ${a.name})`);
  }
  if (account) return account;
  if (own > 0 && (f.definedCps === 0 || f.definedCps > own) && !belowReach) {
    const from = f.definedCps > 0 ? `${formatRate(f.definedCps)}/s` : 'no limit';
    return held('campaign_rate', `held by its own rate ${formatRate(own)}/s (lowered from ${from})`);
  }
  if (belowReach && f.rateWindowS < DIAL_RATE_WINDOW_S) return held('starting', 'dialing just started');
  if (belowReach) return held('workers', 'below target with no limit holding it (workers busy or too few)');
  return held('not_held', 'not held');
}

export function explainPace(f: PaceFacts): PaceReport {
  const targetRate = targetOf(f);
  const rateNow = f.rateNow === null ? null : Math.round(f.rateNow * 100) / 100;
  const channels = channelsOf(f);
  let heldBy: PaceReport['heldBy'];
  if (f.state === 'paused') heldBy = held('paused', f.pausedReason ? `paused (${f.pausedReason})` : 'paused');
  else if (f.state === 'completed' || f.state === 'cancelled') heldBy = held('finished', f.state);
  else if (f.work.waiting === 0) heldBy = idle(f);
  else heldBy = binding(f);
  return { rateNow, targetRate, channels, heldBy };
}

/** One line: `rate 6.9/s of 20/s, held by channels 10/10 (campaign)` (the channels are told when they do not hold it). */
export function formatPace(p: PaceReport, account: string): string {
  const target = p.targetRate === null ? 'no rate limit' : `${formatRate(p.targetRate)}/s`;
  const rate = p.rateNow === null ? `target ${target}` : p.targetRate === null ? `rate ${formatRate(p.rateNow)}/s (no rate limit)` : `rate ${formatRate(p.rateNow)}/s of ${target}`;
  const ch = p.channels;
  const source = ch.capSource === 'account' ? `account ${account}` : 'campaign';
  const channels = ch.cap === null ? `channels ${ch.inUse} (no cap)` : `channels ${ch.inUse}/${ch.cap} (${source})`;
  const parts = [rate];
  if (p.heldBy.kind !== 'campaign_channels' && p.heldBy.kind !== 'account_channels') parts.push(channels);
  parts.push(p.heldBy.text);
  return parts.join(', ');
}
