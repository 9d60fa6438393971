/**
 * Every ordering of {ring, answer, hangup, CDR, duplicate CDR, deadline,
 * late CDR} after the dial, checked against the state machine's invariants.
 */
import { describe, expect, it } from 'vitest';
import { applyAttemptEvent, isTerminal, newAttempt, stateRank, type AttemptEvent, type AttemptRecord } from '../../src/domain/attempt.js';
import type { DialOutcomeKind } from '../../src/providers/types.js';
import type { CallResult } from '../../src/domain/types.js';

type Step = 'ring' | 'answer' | 'hangup' | 'cdr' | 'dup_cdr' | 'deadline' | 'late_cdr';
const STEPS: readonly Step[] = ['ring', 'answer', 'hangup', 'cdr', 'dup_cdr', 'deadline', 'late_cdr'];
const CDR_STEPS: ReadonlySet<Step> = new Set(['cdr', 'dup_cdr', 'late_cdr']);

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  const out: T[][] = [];
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest]);
  });
  return out;
}

interface Variant {
  name: string;
  dial: DialOutcomeKind;
  /** Outcome of the CDR and its duplicate. */
  cdr: CallResult['outcome'];
  /** Outcome carried by the late CDR. */
  late: CallResult['outcome'];
}

const VARIANTS: Variant[] = [
  { name: 'accepted; the late CDR repeats the CDR', dial: 'accepted', cdr: 'answered', late: 'answered' },
  { name: 'accepted; the late CDR disagrees', dial: 'accepted', cdr: 'answered', late: 'no_answer' },
  { name: 'in doubt; the late CDR repeats the CDR', dial: 'in_doubt', cdr: 'busy', late: 'busy' },
  { name: 'in doubt; the late CDR disagrees', dial: 'in_doubt', cdr: 'no_answer', late: 'failed' },
];

function eventOf(step: Step, v: Variant): AttemptEvent {
  switch (step) {
    case 'ring':
    case 'answer':
    case 'hangup':
      return { type: 'progress', status: step };
    case 'cdr':
    case 'dup_cdr':
      return { type: 'result', outcome: v.cdr };
    case 'late_cdr':
      return { type: 'result', outcome: v.late };
    case 'deadline':
      return { type: 'deadline' };
  }
}

/** Returns the invariants broken by one ordering (empty when all hold). */
function check(order: Step[], v: Variant): string[] {
  const broken: string[] = [];
  const where = `${v.name}: ${order.join(' → ')}`;
  let record: AttemptRecord = newAttempt(0);
  record = applyAttemptEvent(record, { type: 'dial_sent' }, 1).record;
  record = applyAttemptEvent(record, { type: 'dial_result', kind: v.dial }, 2).record;

  let lateCorrections = 0;
  let kept: CallResult['outcome'] | null = null;
  order.forEach((step, i) => {
    const before = record;
    const { record: after, effect } = applyAttemptEvent(before, eventOf(step, v), 10 + i);
    const at = `${where} at ${step}`;

    if (stateRank(after.state) < stateRank(before.state)) broken.push(`${at}: went backwards ${before.state} → ${after.state}`);
    if (!isTerminal(before.state) && isTerminal(after.state) && step !== 'deadline' && !CDR_STEPS.has(step)) {
      broken.push(`${at}: became final on progress`);
    }
    if (effect === 'final' && !(step === 'deadline' || CDR_STEPS.has(step))) broken.push(`${at}: effect final on progress`);
    if ((effect === 'ignored' || effect === 'ignored_backwards') && after !== before) broken.push(`${at}: ignored but changed`);
    if (kept !== null && after.outcome !== kept) broken.push(`${at}: a CDR outcome ${kept} was replaced by ${after.outcome}`);
    if (effect === 'duplicate' && (after.outcome !== before.outcome || after.duplicates !== before.duplicates + 1)) {
      broken.push(`${at}: a duplicate changed the outcome or was not counted`);
    }
    if (effect === 'late_correction') {
      lateCorrections++;
      if (!after.late || after.correctedFrom !== before.outcome) broken.push(`${at}: late correction not flagged`);
    }
    if (after.late && !before.late && effect !== 'late_correction') broken.push(`${at}: flagged late without a correction`);
    if (after.resultSource === 'callback' && kept === null) kept = after.outcome as CallResult['outcome'];
    record = after;
  });

  // Whole-run expectations, computed from the ordering alone.
  const firstCdr = order.findIndex((s) => CDR_STEPS.has(s));
  const deadlineAt = order.indexOf('deadline');
  const firstOutcome = order[firstCdr] === 'late_cdr' ? v.late : v.cdr;
  const expectLate = deadlineAt < firstCdr;
  const laterCdrs = order.filter((s, i) => CDR_STEPS.has(s) && i > firstCdr).map((s) => (s === 'late_cdr' ? v.late : v.cdr));

  if (record.state !== 'final') broken.push(`${where}: ended ${record.state}, not final`);
  if (record.outcome !== firstOutcome) broken.push(`${where}: outcome ${record.outcome}, expected the first CDR's ${firstOutcome}`);
  if (record.resultSource !== 'callback') broken.push(`${where}: result source ${record.resultSource}`);
  if (lateCorrections !== (expectLate ? 1 : 0)) broken.push(`${where}: ${lateCorrections} late corrections`);
  if (record.late !== expectLate) broken.push(`${where}: late flag ${record.late}`);
  if (expectLate) {
    const progressBeforeDeadline = order.slice(0, deadlineAt).some((s) => s === 'ring' || s === 'answer' || s === 'hangup');
    const timedOutAs = v.dial === 'in_doubt' && !progressBeforeDeadline ? 'in_doubt' : 'no_result';
    if (record.correctedFrom !== timedOutAs) broken.push(`${where}: corrected from ${record.correctedFrom}, expected ${timedOutAs}`);
  }
  const dups = laterCdrs.filter((o) => o === firstOutcome).length;
  if (record.duplicates !== dups || record.conflicts !== laterCdrs.length - dups) {
    broken.push(`${where}: ${record.duplicates} duplicates / ${record.conflicts} conflicts, expected ${dups} / ${laterCdrs.length - dups}`);
  }
  return broken;
}

describe('every ordering of progress, CDRs and the deadline', () => {
  const orders = permutations(STEPS);

  it('generates all 5040 orderings', () => {
    expect(orders.length).toBe(5040);
    expect(new Set(orders.map((o) => o.join())).size).toBe(5040);
  });

  it.each(VARIANTS)('$name', (v) => {
    const broken = orders.flatMap((o) => check(o, v));
    expect(broken.slice(0, 10)).toEqual([]);
  });

  it('sees each effect the invariants are about', () => {
    const v = VARIANTS[1]!;
    const seen = new Set<string>();
    for (const order of orders) {
      let record: AttemptRecord = applyAttemptEvent(newAttempt(0), { type: 'dial_sent' }, 1).record;
      record = applyAttemptEvent(record, { type: 'dial_result', kind: v.dial }, 2).record;
      order.forEach((s, i) => {
        const r = applyAttemptEvent(record, eventOf(s, v), 10 + i);
        seen.add(r.effect);
        record = r.record;
      });
    }
    expect([...seen].sort()).toEqual(['advanced', 'conflict', 'duplicate', 'final', 'ignored', 'ignored_backwards', 'late_correction']);
  });
});
