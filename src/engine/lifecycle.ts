/**
 * The bridge between a stored attempt (one Redis value) and the pure attempt state
 * machine of src/domain/attempt.ts.
 */
import { applyAttemptEvent, type AttemptEvent, type AttemptRecord, type AttemptTransition, type ResultSource } from '../domain/attempt.js';
import type { AttemptFields, StoredAttempt } from '../store/attempts.js';

export type LifecycleEvent = AttemptEvent;

const SOURCES: readonly ResultSource[] = ['callback', 'deadline', 'dial'];

export function toRecord(a: StoredAttempt): AttemptRecord {
  const source = SOURCES.find((s) => s === a.resultSource) ?? null;
  return {
    state: a.state,
    outcome: a.outcome,
    late: a.late,
    resultSource: source,
    dialResult: a.dialKind,
    queuedAt: a.dialingAt ?? 0,
    dialingAt: a.dialingAt,
    acceptedAt: a.acceptedAt,
    ringingAt: a.ringingAt,
    answeredAt: a.answerSeenAt,
    hangupAt: a.hangupAt,
    finalAt: a.finalAt,
    correctedAt: a.correctedAt,
    correctedFrom: a.correctedFrom,
    duplicates: a.duplicates ?? 0,
    conflicts: a.conflicts ?? 0,
  };
}

/** The stored fields that persist a record (unset values are left as they are). */
export function recordFields(r: AttemptRecord): AttemptFields {
  return {
    state: r.state,
    outcome: r.outcome,
    late: r.late,
    resultSource: r.resultSource,
    dialKind: r.dialResult,
    dialingAt: r.dialingAt,
    acceptedAt: r.acceptedAt,
    ringingAt: r.ringingAt,
    answerSeenAt: r.answeredAt,
    hangupAt: r.hangupAt,
    finalAt: r.finalAt,
    correctedAt: r.correctedAt,
    correctedFrom: r.correctedFrom,
    duplicates: r.duplicates,
    conflicts: r.conflicts,
  };
}

export function applyEvent(a: StoredAttempt, event: AttemptEvent, now: number): AttemptTransition {
  return applyAttemptEvent(toRecord(a), event, now);
}

/** Only the fields that changed from the stored attempt (smaller commits on the hot paths). */
export function changedFields(a: StoredAttempt, r: AttemptRecord): AttemptFields {
  const before = recordFields(toRecord(a));
  const after = recordFields(r);
  const out: AttemptFields = {};
  for (const [k, v] of Object.entries(after)) if (v !== before[k]) out[k] = v;
  return out;
}
