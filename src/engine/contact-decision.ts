/**
 * What a contact becomes after one of its attempts ends: pure functions of
 * the contact's state, the campaign and `now`.
 */
import type { AttemptOutcome, CallResult, ContactStatus } from '../domain/types.js';
import type { ContactState } from '../store/contacts.js';
import type { ResolvedCampaign } from '../campaign/runtime.js';
import { decideRetry, type RetryDecision } from '../domain/retry.js';
import { CONTACT_STATUS_OF_OUTCOME, decideContact } from '../domain/contact.js';

/** Back-off before a call that never left is tried again (not sent, 5xx, 429, too fast). */
const NOT_SENT_BACKOFF_MS = [2_000, 5_000, 15_000, 30_000, 60_000];
/** A contact whose requests keep failing to leave is given up after this many tries. */
const MAX_NOT_SENT = 8;

export interface ContactDecision {
  next: ContactState;
  status: ContactStatus;
  /** When it is due again (pending), else null. */
  dueAt: number | null;
}

/** Maps a final attempt outcome onto the contact's status. */
export function contactStatusOf(outcome: AttemptOutcome): ContactStatus {
  return CONTACT_STATUS_OF_OUTCOME[outcome];
}

/** Report sums a result adds: answered calls, talk time, keypresses (PlayVoice). */
export function resultStats(res: CallResult): Record<string, number> {
  if (res.outcome !== 'answered') return {};
  return { answered: 1, billsec: res.billsec, [`key:${res.userKey ? res.userKey : 'none'}`]: 1 };
}

/** After an attempt that reached the provider is final: a retry (in the contact's window) or a final status. */
export function nextContact(
  c: ResolvedCampaign | null,
  zone: string,
  state: ContactState,
  outcome: AttemptOutcome,
  placed: boolean,
  now: number,
  random: () => number,
): ContactDecision {
  // Object.assign, not spreads: states differ in their fields, and V8 copies such objects faster this way.
  const o: Record<string, number> = Object.assign({}, state.o);
  if (placed) o[outcome] = (o[outcome] ?? 0) + 1;
  const base: ContactState = Object.assign({}, state, { p: state.p + (placed ? 1 : 0), o });
  delete base.ph;
  delete base.ns;
  const ended = !c || c.record.state === 'cancelled' || (c.window.expiresAt !== null && now >= c.window.expiresAt);
  const retry: RetryDecision = ended
    ? { retry: false, reason: 'not_retryable' }
    : decideRetry(c.retry, { outcome, attemptsTotal: base.p, attemptsByOutcome: o, lastDialAt: state.ld ?? null, now, random });
  const decision = decideContact(outcome, retry, c ? { window: c.window, zone } : undefined);
  if (decision.status === 'pending') {
    base.s = 'pending';
    base.ph = 'due';
    return { next: base, status: 'pending', dueAt: decision.retryAt };
  }
  base.s = decision.status;
  return { next: base, status: decision.status, dueAt: null };
}

/**
 * After a request that never reached the provider: due again after a back-off
 * (or the provider's Retry-After), without counting an attempt; given up as
 * `failed` after too many in a row.
 */
export function notSentContact(state: ContactState, reason: string, now: number, dueOverride?: number): ContactDecision {
  const ns = (state.ns ?? 0) + 1;
  if (ns >= MAX_NOT_SENT) {
    const next: ContactState = { ...state, s: 'failed', ns, e: `${ns} requests in a row never reached the provider; last: ${reason}` };
    delete next.ph;
    return { next, status: 'failed', dueAt: null };
  }
  const wait = dueOverride ?? NOT_SENT_BACKOFF_MS[Math.min(ns - 1, NOT_SENT_BACKOFF_MS.length - 1)]!;
  return { next: { ...state, s: 'pending', ph: 'due', ns }, status: 'pending', dueAt: now + wait };
}
