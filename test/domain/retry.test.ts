import { describe, expect, it } from 'vitest';
import {
  buildRetryPolicy,
  decideRetry,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_DELAY_MS,
  formatRetrySchedule,
  parseRetryOption,
  RETRY_OUTCOMES,
  RetryPolicyError,
  type RetryContext,
  type RetryPolicy,
} from '../../src/domain/retry.js';
import type { AttemptOutcome } from '../../src/domain/types.js';

const MIN = 60_000;
const NOW = Date.parse('2026-06-01T10:00:00Z');

function policyError(fn: () => unknown): RetryPolicyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RetryPolicyError) return err;
    throw err;
  }
  throw new Error('expected a RetryPolicyError');
}

function ctx(outcome: AttemptOutcome, over: Partial<RetryContext> = {}): RetryContext {
  return {
    outcome,
    attemptsTotal: 1,
    attemptsByOutcome: { [outcome]: 1 },
    lastDialAt: null,
    now: NOW,
    random: () => 0.5,
    ...over,
  };
}

describe('parseRetryOption', () => {
  it.each([
    ['busy=5m,30m', 'busy', { kind: 'delays', delaysMs: [5 * MIN, 30 * MIN] }],
    ['no_answer=5m,30m,2h', 'no_answer', { kind: 'delays', delaysMs: [5 * MIN, 30 * MIN, 120 * MIN] }],
    ['no-answer=90', 'no_answer', { kind: 'delays', delaysMs: [90_000] }],
    ['in_doubt=10m', 'in_doubt', { kind: 'delays', delaysMs: [10 * MIN] }],
    ['rejected=never', 'rejected', { kind: 'delays', delaysMs: [] }],
    ['failed=exp:1m..2h x4', 'failed', { kind: 'exponential', baseMs: MIN, capMs: 120 * MIN, count: 4 }],
    ['no_result=EXP:30s..10m x2', 'no_result', { kind: 'exponential', baseMs: 30_000, capMs: 10 * MIN, count: 2 }],
    ['busy=exp:1m..1m x1', 'busy', { kind: 'exponential', baseMs: MIN, capMs: MIN, count: 1 }],
  ])('%j', (text, outcome, schedule) => {
    expect(parseRetryOption(text)).toEqual({ outcome, schedule });
  });

  it.each([
    ['busy', 'has no "="'],
    ['answered=5m', 'is not a retryable outcome'],
    ['bussy=5m', 'is not a retryable outcome'],
    ['busy=', 'the schedule is missing'],
    ['busy=5m,,30m', 'a delay is missing'],
    ['busy=5x', 'invalid duration "5x"'],
    ['busy=exp:1m..2h', 'exp:BASE..CAP xCOUNT'],
    ['busy=exp:2h..1m x3', 'must not be below the base'],
    ['busy=exp:0s..1m x3', 'more than 0'],
    ['busy=exp:1m..2h x0', 'from 1 to 100'],
  ])('rejects %j, naming the option', (text, what) => {
    const err = policyError(() => parseRetryOption(text));
    expect(err.code).toBe('ERR_RETRY_POLICY');
    expect(err.option).toBe('--retry');
    expect(err.message).toContain('--retry');
    expect(err.message).toContain(what);
  });

  it('formats schedules back', () => {
    expect(formatRetrySchedule(parseRetryOption('busy=5m,1h30m').schedule)).toBe('5m,1h30m');
    expect(formatRetrySchedule(parseRetryOption('busy=exp:1m..2h x4').schedule)).toBe('exp:1m..2h x4');
    expect(formatRetrySchedule(parseRetryOption('busy=never').schedule)).toBe('never');
    expect(formatRetrySchedule(undefined)).toBe('never');
  });
});

describe('buildRetryPolicy', () => {
  it('defaults: busy, no_answer, failed, no_result after the retry delay until max attempts; rejected and in_doubt never', () => {
    const p = buildRetryPolicy({});
    expect(p.maxAttempts).toBe(DEFAULT_MAX_ATTEMPTS);
    const untilMax = { kind: 'delays', delaysMs: [DEFAULT_RETRY_DELAY_MS, DEFAULT_RETRY_DELAY_MS] };
    expect(p.perOutcome).toEqual({ busy: untilMax, no_answer: untilMax, failed: untilMax, no_result: untilMax });
    expect(p.perOutcome.in_doubt).toBeUndefined();
    expect(p.perOutcome.rejected).toBeUndefined();
  });

  it('takes the retry delay and min gap as text or milliseconds', () => {
    expect(buildRetryPolicy({ retryDelay: '2m', minGap: '30s' })).toMatchObject({
      perOutcome: { busy: { delaysMs: [2 * MIN, 2 * MIN] } },
      minGapMs: 30_000,
    });
    expect(buildRetryPolicy({ retryDelayMs: 7_000, minGapMs: 1_000, maxAttempts: '5' })).toMatchObject({
      perOutcome: { no_answer: { delaysMs: [7_000, 7_000, 7_000, 7_000] } },
      minGapMs: 1_000,
      maxAttempts: 5,
    });
  });

  it('overrides the named outcomes and keeps the other defaults', () => {
    const p = buildRetryPolicy({ retry: ['busy=1m,2m', 'in_doubt=10m', 'no_answer=never'], retryDelay: '3m' });
    expect(formatRetrySchedule(p.perOutcome.busy)).toBe('1m,2m');
    expect(formatRetrySchedule(p.perOutcome.in_doubt)).toBe('10m');
    expect(formatRetrySchedule(p.perOutcome.no_answer)).toBe('never');
    expect(formatRetrySchedule(p.perOutcome.failed)).toBe('3m,3m');
    expect(formatRetrySchedule(p.perOutcome.rejected)).toBe('never');
  });

  it.each([
    [{ maxAttempts: 0 }, '--max-attempts'],
    [{ maxAttempts: 1.5 }, '--max-attempts'],
    [{ maxAttempts: 'three' }, '--max-attempts'],
    [{ maxAttempts: 101 }, '--max-attempts'],
    [{ retryDelay: 'soon' }, '--retry-delay'],
    [{ retryDelayMs: -1 }, '--retry-delay'],
    [{ minGap: '5 minutes' }, '--min-gap'],
    [{ retry: ['busy=5m', 'busy=10m'] }, '--retry'],
    [{ retry: ['ringing=5m'] }, '--retry'],
  ])('%j fails naming %s', (input, option) => {
    const err = policyError(() => buildRetryPolicy(input));
    expect(err.option).toBe(option);
    expect(err.message).toContain(option);
  });
});

/** Dials a contact whose calls end in `outcomes`, in order, gets under `policy` (one dial per retry granted). */
function dialsFor(policy: RetryPolicy, outcomes: readonly AttemptOutcome[]): AttemptOutcome[] {
  const dialed: AttemptOutcome[] = [];
  const byOutcome: Partial<Record<AttemptOutcome, number>> = {};
  for (const outcome of outcomes) {
    dialed.push(outcome);
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
    const d = decideRetry(policy, { outcome, attemptsTotal: dialed.length, attemptsByOutcome: { ...byOutcome }, lastDialAt: NOW, now: NOW, random: () => 0.5 });
    if (!d.retry) break;
    expect(d.at).toBe(NOW + 1_000);
  }
  return dialed;
}

describe('--max-attempts without --retry', () => {
  // `--max-attempts 3 --retry-delay 1s`: every retryable outcome is dialed again until three dials in all.
  const policy = buildRetryPolicy({ maxAttempts: 3, retryDelay: '1s' });

  it('busy, then no answer, then answered: three calls', () => {
    expect(dialsFor(policy, ['busy', 'no_answer', 'answered'])).toEqual(['busy', 'no_answer', 'answered']);
  });

  it('busy every time: three calls, then max attempts', () => {
    expect(dialsFor(policy, ['busy', 'busy', 'busy', 'busy'])).toEqual(['busy', 'busy', 'busy']);
    expect(decideRetry(policy, ctx('busy', { attemptsTotal: 3, attemptsByOutcome: { busy: 3 } }))).toEqual({ retry: false, reason: 'max_attempts' });
  });

  it('failed and no result are retried the same way', () => {
    expect(dialsFor(policy, ['failed', 'no_result', 'failed', 'answered'])).toEqual(['failed', 'no_result', 'failed']);
  });

  it('--retry sets one outcome\'s schedule, the others keep retrying until the cap', () => {
    const p = buildRetryPolicy({ maxAttempts: 3, retryDelay: '1s', retry: ['busy=never'] });
    expect(dialsFor(p, ['busy', 'answered'])).toEqual(['busy']);
    expect(dialsFor(p, ['no_answer', 'no_answer', 'no_answer'])).toEqual(['no_answer', 'no_answer', 'no_answer']);
  });

  it('--max-attempts caps an explicit schedule too', () => {
    const p = buildRetryPolicy({ maxAttempts: 2, retry: ['busy=1s,1s,1s,1s'] });
    expect(dialsFor(p, ['busy', 'busy', 'busy'])).toEqual(['busy', 'busy']);
  });

  it('one attempt means no retry at all', () => {
    expect(dialsFor(buildRetryPolicy({ maxAttempts: 1, retryDelay: '1s' }), ['busy', 'answered'])).toEqual(['busy']);
  });
});

describe('decideRetry', () => {
  const defaults = buildRetryPolicy({ maxAttempts: 5, retryDelay: '5m' });

  it.each([
    ['no_answer', true],
    ['busy', true],
    ['failed', true],
    ['no_result', true],
    ['rejected', false],
    ['in_doubt', false],
    ['answered', false],
    ['cancelled', false],
    ['expired', false],
  ] as const)('default policy, first %s: retry %s', (outcome, retry) => {
    const d = decideRetry(defaults, ctx(outcome));
    expect(d.retry).toBe(retry);
    if (d.retry) expect(d.at).toBe(NOW + 5 * MIN);
  });

  it('gives reasons', () => {
    expect(decideRetry(defaults, ctx('answered'))).toEqual({ retry: false, reason: 'not_retryable' });
    expect(decideRetry(defaults, ctx('in_doubt'))).toEqual({ retry: false, reason: 'no_schedule' });
    expect(decideRetry(defaults, ctx('rejected'))).toEqual({ retry: false, reason: 'no_schedule' });
    const busyOnce = buildRetryPolicy({ maxAttempts: 5, retry: ['busy=5m'] });
    expect(decideRetry(busyOnce, ctx('busy', { attemptsTotal: 2, attemptsByOutcome: { busy: 2 } }))).toEqual({
      retry: false,
      reason: 'schedule_exhausted',
    });
    expect(decideRetry(defaults, ctx('busy', { attemptsTotal: 5 }))).toEqual({ retry: false, reason: 'max_attempts' });
  });

  it('never redials an in-doubt call unless the policy says so explicitly', () => {
    for (const p of [buildRetryPolicy({}), buildRetryPolicy({ retry: ['busy=1m', 'no_answer=exp:1m..1h x9'], maxAttempts: 100 })]) {
      expect(decideRetry(p, ctx('in_doubt'))).toEqual({ retry: false, reason: 'no_schedule' });
    }
    const explicit = buildRetryPolicy({ retry: ['in_doubt=15m'] });
    expect(decideRetry(explicit, ctx('in_doubt'))).toEqual({ retry: true, at: NOW + 15 * MIN });
  });

  it('walks a list schedule by the per-outcome count, within max attempts', () => {
    const p = buildRetryPolicy({ retry: ['busy=5m,30m,2h'], maxAttempts: 10 });
    const table: [number, number | null][] = [
      [1, 5 * MIN],
      [2, 30 * MIN],
      [3, 120 * MIN],
      [4, null],
    ];
    for (const [busyCount, delay] of table) {
      const d = decideRetry(p, ctx('busy', { attemptsTotal: busyCount + 2, attemptsByOutcome: { busy: busyCount, no_answer: 2 } }));
      expect(d).toEqual(delay === null ? { retry: false, reason: 'schedule_exhausted' } : { retry: true, at: NOW + delay });
    }
  });

  it('counts outcomes apart: a busy count does not use up no_answer retries', () => {
    const p = buildRetryPolicy({ retry: ['busy=1m', 'no_answer=2m'], maxAttempts: 10 });
    expect(decideRetry(p, ctx('no_answer', { attemptsTotal: 4, attemptsByOutcome: { busy: 3, no_answer: 1 } }))).toEqual({
      retry: true,
      at: NOW + 2 * MIN,
    });
  });

  it.each([
    [1, 3, true],
    [2, 3, true],
    [3, 3, false],
    [4, 3, false],
    [1, 1, false],
  ])('attempt %d of max %d: retry %s', (attemptsTotal, maxAttempts, retry) => {
    const p = buildRetryPolicy({ retry: ['no_answer=1m,1m,1m,1m,1m'], maxAttempts });
    const d = decideRetry(p, ctx('no_answer', { attemptsTotal, attemptsByOutcome: { no_answer: attemptsTotal } }));
    expect(d.retry).toBe(retry);
    if (!d.retry) expect(d.reason).toBe('max_attempts');
  });

  it.each([
    // [last dial, min gap, delay] → at
    [NOW - 1 * MIN, 10 * MIN, 5 * MIN, NOW + 9 * MIN],
    [NOW - 20 * MIN, 10 * MIN, 5 * MIN, NOW + 5 * MIN],
    [NOW, 5 * MIN, 5 * MIN, NOW + 5 * MIN],
    [null, 60 * MIN, 5 * MIN, NOW + 5 * MIN],
  ])('min gap: last dial %d, gap %d, delay %d', (lastDialAt, minGapMs, delay, at) => {
    const p = buildRetryPolicy({ retryDelayMs: delay, minGapMs });
    expect(decideRetry(p, ctx('busy', { lastDialAt }))).toEqual({ retry: true, at });
  });

  describe('exponential schedule with full jitter', () => {
    const p: RetryPolicy = buildRetryPolicy({ retry: ['no_answer=exp:1m..10m x5'], maxAttempts: 100 });
    const ceilings = [1, 2, 4, 8, 10].map((m) => m * MIN);

    it.each(ceilings.map((c, i) => [i, c] as const))('retry %d stays in [0, %d)', (index, ceiling) => {
      const c = (random: () => number): RetryContext =>
        ctx('no_answer', { attemptsTotal: index + 1, attemptsByOutcome: { no_answer: index + 1 }, random });
      const at = (r: number): number => {
        const d = decideRetry(p, c(() => r));
        if (!d.retry) throw new Error(`expected a retry, got ${d.reason}`);
        return d.at - NOW;
      };
      expect(at(0)).toBe(0);
      expect(at(0.5)).toBe(Math.floor(0.5 * ceiling));
      expect(at(0.999999)).toBeLessThan(ceiling);
      expect(at(0.999999)).toBeGreaterThan(ceiling * 0.99);
      // An out-of-range random is clamped into the bounds.
      expect(at(1)).toBeLessThan(ceiling);
      expect(at(-3)).toBe(0);
      // A deterministic spread of randoms stays in bounds.
      let seed = 7;
      const lcg = (): number => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      for (let i = 0; i < 200; i++) {
        const delay = at(lcg());
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceiling);
      }
    });

    it('stops after the count', () => {
      expect(decideRetry(p, ctx('no_answer', { attemptsTotal: 6, attemptsByOutcome: { no_answer: 6 } }))).toEqual({
        retry: false,
        reason: 'schedule_exhausted',
      });
    });

    it('never goes below the min gap however small the jitter', () => {
      const gapped = { ...p, minGapMs: 3 * MIN };
      expect(decideRetry(gapped, ctx('no_answer', { lastDialAt: NOW - MIN, random: () => 0 }))).toEqual({ retry: true, at: NOW + 2 * MIN });
    });
  });

  it('knows every retryable outcome', () => {
    expect([...RETRY_OUTCOMES].sort()).toEqual(['busy', 'failed', 'in_doubt', 'no_answer', 'no_result', 'rejected']);
  });
});
