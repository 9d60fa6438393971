/**
 * A contact's next status once one of its attempts is final: pending with
 * the time of the next dial, or its final status.
 */
import type { AttemptOutcome, FinalContactStatus } from './types.js';
import type { RetryDecision, RetryRefusal } from './retry.js';
import { nextCallableTime, type CallingWindow } from './window.js';

export type ContactFinalReason =
  /** The retry policy declined (its reason). */
  | RetryRefusal
  /** A retry was due, but the calling window allows no call before it expires. */
  | 'window_closed';

export type ContactDecision =
  | { status: 'pending'; retryAt: number }
  | { status: FinalContactStatus; reason: ContactFinalReason };

/** The contact's status for each final attempt outcome. */
export const CONTACT_STATUS_OF_OUTCOME: Readonly<Record<AttemptOutcome, FinalContactStatus>> = {
  answered: 'answered',
  no_answer: 'no_answer',
  busy: 'busy',
  failed: 'failed',
  rejected: 'rejected',
  no_result: 'no_result',
  in_doubt: 'in_doubt',
  cancelled: 'cancelled',
  expired: 'expired',
};

/** Outcomes that end a contact whatever the retry decision says. */
const CONCLUSIVE: ReadonlySet<AttemptOutcome> = new Set(['answered', 'cancelled', 'expired']);

/**
 * Decides a contact's next status from its last attempt's outcome and the
 * retry decision. With `window`, the retry time is moved to the window's next
 * callable instant in `zone`, and a retry the window cannot fit ends the
 * contact with the outcome it has.
 */
export function decideContact(
  outcome: AttemptOutcome,
  retry: RetryDecision,
  calling?: { window: CallingWindow; zone: string },
): ContactDecision {
  const status = CONTACT_STATUS_OF_OUTCOME[outcome];
  if (CONCLUSIVE.has(outcome)) return { status, reason: 'not_retryable' };
  if (!retry.retry) return { status, reason: retry.reason };
  if (calling === undefined) return { status: 'pending', retryAt: retry.at };
  const at = nextCallableTime(calling.window, calling.zone, retry.at);
  return at === null ? { status, reason: 'window_closed' } : { status: 'pending', retryAt: at };
}
