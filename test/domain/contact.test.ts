import { describe, expect, it } from 'vitest';
import { CONTACT_STATUS_OF_OUTCOME, decideContact } from '../../src/domain/contact.js';
import { buildRetryPolicy, decideRetry, type RetryDecision } from '../../src/domain/retry.js';
import { ATTEMPT_OUTCOMES, CONTACT_STATUSES } from '../../src/domain/types.js';
import { buildCallingWindow } from '../../src/domain/window.js';

const RETRY_AT = Date.parse('2026-06-01T10:05:00+08:00');
const retryAt = (at: number): RetryDecision => ({ retry: true, at });

describe('decideContact', () => {
  it.each([
    ['no_answer', retryAt(RETRY_AT), { status: 'pending', retryAt: RETRY_AT }],
    ['busy', retryAt(RETRY_AT), { status: 'pending', retryAt: RETRY_AT }],
    ['in_doubt', retryAt(RETRY_AT), { status: 'pending', retryAt: RETRY_AT }],
    ['no_answer', { retry: false, reason: 'max_attempts' }, { status: 'no_answer', reason: 'max_attempts' }],
    ['busy', { retry: false, reason: 'schedule_exhausted' }, { status: 'busy', reason: 'schedule_exhausted' }],
    ['in_doubt', { retry: false, reason: 'no_schedule' }, { status: 'in_doubt', reason: 'no_schedule' }],
    ['rejected', { retry: false, reason: 'no_schedule' }, { status: 'rejected', reason: 'no_schedule' }],
    ['no_result', { retry: false, reason: 'max_attempts' }, { status: 'no_result', reason: 'max_attempts' }],
    ['failed', { retry: false, reason: 'max_attempts' }, { status: 'failed', reason: 'max_attempts' }],
    ['answered', { retry: false, reason: 'not_retryable' }, { status: 'answered', reason: 'not_retryable' }],
    // A conclusive outcome ends the contact even if a retry was (wrongly) decided.
    ['answered', retryAt(RETRY_AT), { status: 'answered', reason: 'not_retryable' }],
    ['cancelled', retryAt(RETRY_AT), { status: 'cancelled', reason: 'not_retryable' }],
    ['expired', { retry: false, reason: 'not_retryable' }, { status: 'expired', reason: 'not_retryable' }],
  ] as const)('%s with %j', (outcome, retry, decision) => {
    expect(decideContact(outcome, retry)).toEqual(decision);
  });

  it('maps every attempt outcome onto a final contact status', () => {
    for (const outcome of ATTEMPT_OUTCOMES) {
      const status = CONTACT_STATUS_OF_OUTCOME[outcome];
      expect(CONTACT_STATUSES).toContain(status);
      expect(status).not.toBe('pending');
    }
  });

  describe('with a calling window', () => {
    const zone = 'Asia/Shanghai';

    it('moves the retry to the next callable instant', () => {
      const window = buildCallingWindow({ hours: '09:00-12:00,14:00-20:00' });
      const lunch = Date.parse('2026-06-01T12:10:00+08:00');
      expect(decideContact('busy', retryAt(lunch), { window, zone })).toEqual({
        status: 'pending',
        retryAt: Date.parse('2026-06-01T14:00:00+08:00'),
      });
      expect(decideContact('busy', retryAt(RETRY_AT), { window, zone })).toEqual({ status: 'pending', retryAt: RETRY_AT });
    });

    it('ends the contact with its outcome when the window expires first', () => {
      const window = buildCallingWindow({ hours: '09:00-12:00', expiresAt: Date.parse('2026-06-01T12:00:00+08:00') });
      const afterNoon = Date.parse('2026-06-01T12:05:00+08:00');
      expect(decideContact('no_answer', retryAt(afterNoon), { window, zone })).toEqual({ status: 'no_answer', reason: 'window_closed' });
    });

    it('follows a whole policy: no_answer once, then final', () => {
      const policy = buildRetryPolicy({ retryDelay: '5m', maxAttempts: 2 });
      const window = buildCallingWindow({ hours: '09:00-20:00', days: 'mon-fri' });
      const friday = Date.parse('2026-06-05T19:58:00+08:00');
      const first = decideRetry(policy, { outcome: 'no_answer', attemptsTotal: 1, attemptsByOutcome: { no_answer: 1 }, lastDialAt: friday - 60_000, now: friday, random: () => 0 });
      expect(decideContact('no_answer', first, { window, zone })).toEqual({
        status: 'pending',
        retryAt: Date.parse('2026-06-08T09:00:00+08:00'),
      });
      const monday = Date.parse('2026-06-08T09:01:00+08:00');
      const second = decideRetry(policy, { outcome: 'no_answer', attemptsTotal: 2, attemptsByOutcome: { no_answer: 2 }, lastDialAt: monday, now: monday, random: () => 0 });
      expect(decideContact('no_answer', second, { window, zone })).toEqual({ status: 'no_answer', reason: 'max_attempts' });
    });
  });
});
