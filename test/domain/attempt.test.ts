import { describe, expect, it } from 'vitest';
import {
  applyAttemptEvent,
  isTerminal,
  newAttempt,
  stateRank,
  type AttemptEffect,
  type AttemptEvent,
  type AttemptRecord,
} from '../../src/domain/attempt.js';
import type { AttemptOutcome, AttemptState } from '../../src/domain/types.js';

/** Applies events at t = 1, 2, 3, … and returns the record and every effect. */
function run(events: AttemptEvent[], start: AttemptRecord = newAttempt(0)): { record: AttemptRecord; effects: AttemptEffect[] } {
  let record = start;
  const effects: AttemptEffect[] = [];
  events.forEach((e, i) => {
    const r = applyAttemptEvent(record, e, i + 1);
    record = r.record;
    effects.push(r.effect);
  });
  return { record, effects };
}

const SENT: AttemptEvent = { type: 'dial_sent' };
const ACCEPTED: AttemptEvent = { type: 'dial_result', kind: 'accepted' };
const RING: AttemptEvent = { type: 'progress', status: 'ring' };
const ANSWER: AttemptEvent = { type: 'progress', status: 'answer' };
const HANGUP: AttemptEvent = { type: 'progress', status: 'hangup' };
const DEADLINE: AttemptEvent = { type: 'deadline' };
const cdr = (outcome: 'answered' | 'no_answer' | 'busy' | 'failed' | 'rejected'): AttemptEvent => ({ type: 'result', outcome });

describe('the attempt lifecycle', () => {
  it('runs forward: queued → dialing → accepted → ringing → answered → final', () => {
    const { record, effects } = run([SENT, ACCEPTED, RING, ANSWER, HANGUP, cdr('answered')]);
    expect(effects).toEqual(['advanced', 'advanced', 'advanced', 'advanced', 'advanced', 'final']);
    expect(record).toMatchObject({
      state: 'final',
      outcome: 'answered',
      late: false,
      resultSource: 'callback',
      dialResult: 'accepted',
      dialingAt: 1,
      acceptedAt: 2,
      ringingAt: 3,
      answeredAt: 4,
      hangupAt: 5,
      finalAt: 6,
      duplicates: 0,
      conflicts: 0,
    });
  });

  it.each<[string, AttemptEvent[], AttemptState, AttemptOutcome | null, string | null, AttemptEffect]>([
    ['rejected by the provider', [SENT, { type: 'dial_result', kind: 'rejected' }], 'final', 'rejected', 'dial', 'final'],
    ['never sent', [SENT, { type: 'dial_result', kind: 'not_sent' }], 'not_sent', null, null, 'final'],
    ['provider 5xx: not placed', [SENT, { type: 'dial_result', kind: 'transient' }], 'not_sent', null, null, 'final'],
    ['bad credentials: not placed', [SENT, { type: 'dial_result', kind: 'fatal' }], 'not_sent', null, null, 'final'],
    ['in doubt waits for a CDR', [SENT, { type: 'dial_result', kind: 'in_doubt' }], 'dialing', null, null, 'advanced'],
    ['in doubt, then the deadline', [SENT, { type: 'dial_result', kind: 'in_doubt' }, DEADLINE], 'final', 'in_doubt', 'deadline', 'final'],
    ['crash after sending, then the deadline', [SENT, DEADLINE], 'final', 'in_doubt', 'deadline', 'final'],
    ['in doubt, a hangup seen, then the deadline', [SENT, { type: 'dial_result', kind: 'in_doubt' }, HANGUP, DEADLINE], 'final', 'no_result', 'deadline', 'final'],
    ['in doubt, a ring proves the call', [SENT, { type: 'dial_result', kind: 'in_doubt' }, RING, DEADLINE], 'final', 'no_result', 'deadline', 'final'],
    ['in doubt, then a CDR', [SENT, { type: 'dial_result', kind: 'in_doubt' }, cdr('busy')], 'final', 'busy', 'callback', 'final'],
    ['accepted, then the deadline', [SENT, ACCEPTED, DEADLINE], 'final', 'no_result', 'deadline', 'final'],
    ['answered without a CDR, then the deadline', [SENT, ACCEPTED, RING, ANSWER, DEADLINE], 'final', 'no_result', 'deadline', 'final'],
    ['cancelled before dialing', [{ type: 'cancel' }], 'final', 'cancelled', null, 'final'],
    ['expired before dialing', [{ type: 'expire' }], 'final', 'expired', null, 'final'],
    ['cancel after dialing is ignored', [SENT, { type: 'cancel' }], 'dialing', null, null, 'ignored'],
    ['expire after accepted is ignored', [SENT, ACCEPTED, { type: 'expire' }], 'accepted', null, null, 'ignored'],
    ['a deadline before dialing is ignored', [DEADLINE], 'queued', null, null, 'ignored'],
    ['a second dial_sent is ignored', [SENT, SENT], 'dialing', null, null, 'ignored'],
    ['a second dial result is ignored', [SENT, ACCEPTED, { type: 'dial_result', kind: 'rejected' }], 'accepted', null, null, 'ignored'],
    ['a dial response after the CDR is ignored', [SENT, cdr('no_answer'), ACCEPTED], 'final', 'no_answer', 'callback', 'ignored_backwards'],
    ['a dial response after a ring is ignored', [SENT, RING, { type: 'dial_result', kind: 'in_doubt' }], 'ringing', null, null, 'ignored_backwards'],
    ['a ring after answer is ignored', [SENT, ACCEPTED, ANSWER, RING], 'answered', null, null, 'ignored_backwards'],
    ['a second ring is ignored', [SENT, ACCEPTED, RING, RING], 'ringing', null, null, 'ignored_backwards'],
    ['a second hangup is ignored', [SENT, ACCEPTED, HANGUP, HANGUP], 'accepted', null, null, 'ignored'],
    ['progress after final is ignored', [SENT, ACCEPTED, cdr('busy'), RING], 'final', 'busy', 'callback', 'ignored_backwards'],
    ['a deadline after the CDR is ignored', [SENT, ACCEPTED, cdr('busy'), DEADLINE], 'final', 'busy', 'callback', 'ignored'],
    ['a CDR for a call never placed is a conflict', [SENT, { type: 'dial_result', kind: 'not_sent' }, cdr('answered')], 'not_sent', null, null, 'conflict'],
    ['a CDR after a cancel is a conflict', [{ type: 'cancel' }, cdr('answered')], 'final', 'cancelled', null, 'conflict'],
  ])('%s', (_name, events, state, outcome, source, lastEffect) => {
    const { record, effects } = run(events);
    expect(record.state).toBe(state);
    expect(record.outcome).toBe(outcome);
    expect(record.resultSource).toBe(source);
    expect(effects.at(-1)).toBe(lastEffect);
  });

  it('counts a duplicate CDR and changes nothing else', () => {
    const before = run([SENT, ACCEPTED, cdr('busy')]).record;
    const { record, effect } = applyAttemptEvent(before, cdr('busy'), 99);
    expect(effect).toBe('duplicate');
    expect(record).toEqual({ ...before, duplicates: 1 });
  });

  it('keeps the first of two different CDRs and counts the conflict', () => {
    const before = run([SENT, ACCEPTED, cdr('busy')]).record;
    const { record, effect } = applyAttemptEvent(before, cdr('answered'), 99);
    expect(effect).toBe('conflict');
    expect(record).toEqual({ ...before, conflicts: 1 });
  });

  it('corrects a deadline outcome once with a late CDR and flags it late', () => {
    const timedOut = run([SENT, ACCEPTED, DEADLINE]).record;
    expect(timedOut).toMatchObject({ outcome: 'no_result', finalAt: 3, late: false });
    const late = applyAttemptEvent(timedOut, cdr('no_answer'), 50);
    expect(late.effect).toBe('late_correction');
    expect(late.record).toEqual({
      ...timedOut,
      outcome: 'no_answer',
      late: true,
      resultSource: 'callback',
      correctedAt: 50,
      correctedFrom: 'no_result',
    });
    const again = applyAttemptEvent(late.record, cdr('no_answer'), 60);
    expect(again.effect).toBe('duplicate');
    expect(again.record.outcome).toBe('no_answer');
    expect(again.record.correctedAt).toBe(50);
  });

  it('corrects an in-doubt outcome with a late CDR', () => {
    const { record, effects } = run([SENT, { type: 'dial_result', kind: 'in_doubt' }, DEADLINE, cdr('answered')]);
    expect(effects.at(-1)).toBe('late_correction');
    expect(record).toMatchObject({ outcome: 'answered', correctedFrom: 'in_doubt', late: true });
  });

  it('returns the very same record for ignored events', () => {
    const base = run([SENT, ACCEPTED, ANSWER]).record;
    for (const e of [RING, ACCEPTED, SENT, { type: 'cancel' } as const]) {
      const r = applyAttemptEvent(base, e, 42);
      expect(r.effect).toMatch(/^ignored/);
      expect(r.record).toBe(base);
    }
  });

  it('never mutates the record it is given', () => {
    const base = run([SENT, ACCEPTED]).record;
    const copy = structuredClone(base);
    applyAttemptEvent(base, cdr('answered'), 10);
    applyAttemptEvent(base, DEADLINE, 10);
    applyAttemptEvent(base, RING, 10);
    expect(base).toEqual(copy);
  });

  it('ranks states so that final and not_sent are terminal', () => {
    expect((['queued', 'dialing', 'accepted', 'ringing', 'answered', 'final'] as const).map(stateRank)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(isTerminal('final') && isTerminal('not_sent')).toBe(true);
    expect(isTerminal('answered')).toBe(false);
  });
});
