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

/** Each stored field that persists a record, with the record key it holds. */
const PERSISTED: readonly (readonly [string, keyof AttemptRecord])[] = Object.entries({
  state: 'state',
  outcome: 'outcome',
  late: 'late',
  resultSource: 'resultSource',
  dialKind: 'dialResult',
  dialingAt: 'dialingAt',
  acceptedAt: 'acceptedAt',
  ringingAt: 'ringingAt',
  answerSeenAt: 'answeredAt',
  hangupAt: 'hangupAt',
  finalAt: 'finalAt',
  correctedAt: 'correctedAt',
  correctedFrom: 'correctedFrom',
  duplicates: 'duplicates',
  conflicts: 'conflicts',
} satisfies Record<string, keyof AttemptRecord>);

/** The stored fields that persist a record (unset values are left as they are). */
export function recordFields(r: AttemptRecord): AttemptFields {
  const out: AttemptFields = {};
  for (const [field, key] of PERSISTED) out[field] = r[key];
  return out;
}

export function applyEvent(a: StoredAttempt, event: AttemptEvent, now: number): AttemptTransition {
  return applyAttemptEvent(toRecord(a), event, now);
}

/**
 * Only the fields that changed from the stored attempt, in a fresh object the
 * caller may write more fields into. Runs for every dial answer and result:
 * one pass over the two records, no intermediate objects.
 */
export function changedFields(a: StoredAttempt, r: AttemptRecord): AttemptFields {
  const before = toRecord(a);
  const out: AttemptFields = {};
  for (const [field, key] of PERSISTED) {
    const v = r[key];
    if (v !== before[key]) out[field] = v;
  }
  return out;
}
