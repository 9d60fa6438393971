/**
 * The attempt state machine: one dial of one contact, from queued to final.
 *
 *   queued ──dial_sent──▶ dialing ──dial_result accepted──▶ accepted ──ring──▶ ringing ──answer──▶ answered
 *     │                    │  │                               │                 │                   │
 *     │ cancel / expire    │  │ dial_result not_sent,         └───────┬─────────┴───────────────────┘
 *     ▼                    │  │ transient, fatal                      │ result (CDR)  → final (its outcome)
 *   final                  │  ▼                                       │ deadline      → final no_result
 *   (cancelled / expired)  │ not_sent                                 ▼
 *                          │                                        final
 *                          ├─ dial_result rejected → final rejected
 *                          ├─ dial_result in_doubt → stays dialing (may have been placed)
 *                          ├─ result (CDR)         → final (its outcome)
 *                          └─ deadline             → final in_doubt (no_result once a hangup was seen)
 *
 * States only move forward; progress (ring, answer, hangup) never makes an
 * attempt final. After final:
 * - the same CDR again is a duplicate (counted, nothing else changes);
 * - a CDR after a deadline-made final (no_result / in_doubt) corrects the
 *   outcome once and flags the attempt late; it never causes a call;
 * - a different CDR after a CDR is a conflict: the first is kept, counted;
 * - anything else is ignored and leaves the record as it was.
 *
 * `not_sent` ends an attempt whose call was certainly not placed: the request
 * never reached the provider, or the provider said it did not place it
 * (transient), or refused our credentials (fatal). `dialResult` says which.
 */
import type { DialOutcomeKind } from '../providers/types.js';
import type { AttemptOutcome, AttemptState, CallResult } from './types.js';

export type ResultSource = 'callback' | 'deadline' | 'dial';

/** Plain, serializable data. Times are epoch ms. */
export interface AttemptRecord {
  state: AttemptState;
  outcome: AttemptOutcome | null;
  /** The outcome was corrected by a CDR that came after the result deadline. */
  late: boolean;
  resultSource: ResultSource | null;
  /** How the dial request ended, once known. */
  dialResult: DialOutcomeKind | null;
  queuedAt: number;
  dialingAt: number | null;
  acceptedAt: number | null;
  ringingAt: number | null;
  answeredAt: number | null;
  hangupAt: number | null;
  finalAt: number | null;
  /** When a late CDR corrected the outcome, and the outcome it replaced. */
  correctedAt: number | null;
  correctedFrom: AttemptOutcome | null;
  /** The same CDR received again. */
  duplicates: number;
  /** A CDR that contradicts the one kept, or comes for an attempt it cannot belong to. */
  conflicts: number;
}

export type AttemptEvent =
  | { type: 'dial_sent' }
  | { type: 'dial_result'; kind: DialOutcomeKind }
  | { type: 'progress'; status: 'ring' | 'answer' | 'hangup' }
  | { type: 'result'; outcome: CallResult['outcome'] }
  | { type: 'deadline' }
  | { type: 'cancel' }
  | { type: 'expire' };

export type AttemptEffect =
  /** Moved forward (a state, or a first-seen fact) without becoming final. */
  | 'advanced'
  /** Became final (or not_sent) now. */
  | 'final'
  /** The same CDR again: counted, nothing else changed. */
  | 'duplicate'
  /** A CDR after a deadline-made final: outcome corrected, flagged late. */
  | 'late_correction'
  /** Progress from before the current state: record unchanged. */
  | 'ignored_backwards'
  /** A second, different CDR (or a CDR for an attempt that cannot have one): first kept, counted. */
  | 'conflict'
  /** Nothing to do (stale deadline, repeated dial event, cancel after dialing): record unchanged. */
  | 'ignored';

export interface AttemptTransition {
  record: AttemptRecord;
  effect: AttemptEffect;
}

const RANK: Record<AttemptState, number> = {
  queued: 0,
  dialing: 1,
  accepted: 2,
  ringing: 3,
  answered: 4,
  final: 5,
  not_sent: 5,
};

/** Position of a state in the lifecycle; a record's rank never decreases. */
export function stateRank(state: AttemptState): number {
  return RANK[state];
}

/** final or not_sent: nothing moves the state any more. */
export function isTerminal(state: AttemptState): boolean {
  return state === 'final' || state === 'not_sent';
}

export function newAttempt(now: number): AttemptRecord {
  return {
    state: 'queued',
    outcome: null,
    late: false,
    resultSource: null,
    dialResult: null,
    queuedAt: now,
    dialingAt: null,
    acceptedAt: null,
    ringingAt: null,
    answeredAt: null,
    hangupAt: null,
    finalAt: null,
    correctedAt: null,
    correctedFrom: null,
    duplicates: 0,
    conflicts: 0,
  };
}

function keep(record: AttemptRecord, effect: 'ignored' | 'ignored_backwards'): AttemptTransition {
  return { record, effect };
}

function finish(record: AttemptRecord, outcome: AttemptOutcome, source: ResultSource | null, now: number): AttemptTransition {
  return { record: { ...record, state: 'final', outcome, resultSource: source, finalAt: now }, effect: 'final' };
}

function onDialResult(r: AttemptRecord, kind: DialOutcomeKind, now: number): AttemptTransition {
  if (r.dialResult !== null || stateRank(r.state) > RANK.dialing) {
    // A second response, or callbacks already took the attempt further.
    return keep(r, r.dialResult !== null ? 'ignored' : 'ignored_backwards');
  }
  const base: AttemptRecord = { ...r, dialResult: kind, dialingAt: r.dialingAt ?? now };
  switch (kind) {
    case 'accepted':
      return { record: { ...base, state: 'accepted', acceptedAt: now }, effect: 'advanced' };
    case 'in_doubt':
      return { record: { ...base, state: 'dialing' }, effect: 'advanced' };
    case 'rejected':
      return finish(base, 'rejected', 'dial', now);
    case 'not_sent':
    case 'transient':
    case 'fatal':
      return { record: { ...base, state: 'not_sent', finalAt: now }, effect: 'final' };
  }
}

function onProgress(r: AttemptRecord, status: 'ring' | 'answer' | 'hangup', now: number): AttemptTransition {
  if (isTerminal(r.state)) return keep(r, 'ignored_backwards');
  if (status === 'hangup') {
    return r.hangupAt === null ? { record: { ...r, hangupAt: now }, effect: 'advanced' } : keep(r, 'ignored');
  }
  const target = status === 'ring' ? 'ringing' : 'answered';
  if (stateRank(r.state) >= RANK[target]) return keep(r, 'ignored_backwards');
  const record: AttemptRecord =
    target === 'ringing' ? { ...r, state: 'ringing', ringingAt: now } : { ...r, state: 'answered', answeredAt: now };
  return { record, effect: 'advanced' };
}

function onResult(r: AttemptRecord, outcome: CallResult['outcome'], now: number): AttemptTransition {
  if (!isTerminal(r.state)) return finish(r, outcome, 'callback', now);
  if (r.state === 'final' && r.resultSource === 'deadline') {
    return {
      record: { ...r, outcome, late: true, resultSource: 'callback', correctedAt: now, correctedFrom: r.outcome },
      effect: 'late_correction',
    };
  }
  if (r.state === 'final' && r.outcome === outcome) {
    return { record: { ...r, duplicates: r.duplicates + 1 }, effect: 'duplicate' };
  }
  return { record: { ...r, conflicts: r.conflicts + 1 }, effect: 'conflict' };
}

function onDeadline(r: AttemptRecord, now: number): AttemptTransition {
  if (isTerminal(r.state) || r.state === 'queued') return keep(r, 'ignored');
  const placed = r.state !== 'dialing' || r.hangupAt !== null;
  return finish(r, placed ? 'no_result' : 'in_doubt', 'deadline', now);
}

/**
 * Applies one event to an attempt. Pure: returns a new record (or the same
 * one when nothing changed) and what happened.
 */
export function applyAttemptEvent(record: AttemptRecord, event: AttemptEvent, now: number): AttemptTransition {
  switch (event.type) {
    case 'dial_sent':
      return record.state === 'queued'
        ? { record: { ...record, state: 'dialing', dialingAt: now }, effect: 'advanced' }
        : keep(record, 'ignored');
    case 'dial_result':
      return onDialResult(record, event.kind, now);
    case 'progress':
      return onProgress(record, event.status, now);
    case 'result':
      return onResult(record, event.outcome, now);
    case 'deadline':
      return onDeadline(record, now);
    case 'cancel':
    case 'expire':
      return record.state === 'queued'
        ? finish(record, event.type === 'cancel' ? 'cancelled' : 'expired', null, now)
        : keep(record, 'ignored');
  }
}
