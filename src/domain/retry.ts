/**
 * Retry policy: which attempt outcomes are dialed again, after how long, and
 * how many times. Policies are data, parsed once from options such as
 * `--retry busy=5m,30m --retry no_answer=exp:1m..2h x4`; the decision is a
 * pure function of the policy, the counts so far and the clock. Calling
 * windows are applied by the caller afterwards (nextCallableTime).
 */
import type { AttemptOutcome } from './types.js';
import { formatDuration, parseDuration } from './duration.js';

export const RETRY_OUTCOMES = ['busy', 'no_answer', 'failed', 'no_result', 'rejected', 'in_doubt'] as const;
export type RetryOutcome = (typeof RETRY_OUTCOMES)[number];

/**
 * - `delays`: one retry per listed delay, in order (`5m,30m,2h`); an empty
 *   list is an explicit "never".
 * - `exponential`: `count` retries; retry n (from 0) waits a uniformly random
 *   time in [0, min(cap, base × 2ⁿ)) (full jitter).
 */
export type RetrySchedule =
  | { kind: 'delays'; delaysMs: readonly number[] }
  | { kind: 'exponential'; baseMs: number; capMs: number; count: number };

export interface RetryPolicy {
  perOutcome: Partial<Record<RetryOutcome, RetrySchedule>>;
  /** Dials of one contact at most, the first included. */
  maxAttempts: number;
  /** Least time between two dials of the same number. */
  minGapMs: number;
}

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_RETRY_DELAY_MS = 300_000;
export const DEFAULT_MIN_GAP_MS = 0;
export const MAX_ATTEMPTS_LIMIT = 100;
const MAX_COUNT = 100;

export class RetryPolicyError extends Error {
  readonly code = 'ERR_RETRY_POLICY';
  constructor(
    message: string,
    /** The option at fault, as a user writes it (`--retry`, `--max-attempts`, …). */
    readonly option: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetryPolicyError';
  }
}

const RETRY_HELP =
  `write OUTCOME=DELAYS, e.g. busy=5m,30m, no_answer=exp:1m..2h x4 or in_doubt=never ` +
  `(outcomes: ${RETRY_OUTCOMES.join(', ')})`;
const EXPONENTIAL = /^exp:\s*(\S+?)\s*\.\.\s*(\S+?)\s*x\s*(\d+)$/i;

function optionDuration(option: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new RetryPolicyError(`${option}: ${(err as Error).message}`, option, { cause: err });
  }
}

function parseSchedule(option: string, raw: string, text: string): RetrySchedule {
  const s = text.trim();
  if (/^(never|none)$/i.test(s)) return { kind: 'delays', delaysMs: [] };
  if (/^exp:/i.test(s)) {
    const m = EXPONENTIAL.exec(s);
    if (!m) {
      throw new RetryPolicyError(
        `${option} ${JSON.stringify(raw)}: an exponential schedule reads exp:BASE..CAP xCOUNT, e.g. exp:1m..2h x4`,
        option,
      );
    }
    const baseMs = optionDuration(option, m[1]!);
    const capMs = optionDuration(option, m[2]!);
    const count = Number(m[3]);
    if (baseMs <= 0) throw new RetryPolicyError(`${option} ${JSON.stringify(raw)}: the base delay must be more than 0`, option);
    if (capMs < baseMs) {
      throw new RetryPolicyError(`${option} ${JSON.stringify(raw)}: the cap (${formatDuration(capMs)}) must not be below the base (${formatDuration(baseMs)})`, option);
    }
    if (count < 1 || count > MAX_COUNT) {
      throw new RetryPolicyError(`${option} ${JSON.stringify(raw)}: the count must be from 1 to ${MAX_COUNT}, got ${count}`, option);
    }
    return { kind: 'exponential', baseMs, capMs, count };
  }
  const parts = s.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) {
    throw new RetryPolicyError(`${option} ${JSON.stringify(raw)}: a delay is missing; ${RETRY_HELP}`, option);
  }
  if (parts.length > MAX_COUNT) {
    throw new RetryPolicyError(`${option} ${JSON.stringify(raw)}: at most ${MAX_COUNT} delays`, option);
  }
  return { kind: 'delays', delaysMs: parts.map((p) => optionDuration(option, p)) };
}

function outcomeNamed(name: string): RetryOutcome | null {
  const n = name.trim().toLowerCase().replace(/-/g, '_');
  const alias = n === 'noanswer' ? 'no_answer' : n === 'noresult' ? 'no_result' : n === 'indoubt' ? 'in_doubt' : n;
  return (RETRY_OUTCOMES as readonly string[]).includes(alias) ? (alias as RetryOutcome) : null;
}

/** Parses one `--retry` option: `busy=5m,30m`, `no_answer=exp:1m..2h x4`, `in_doubt=never`. */
export function parseRetryOption(text: string, option = '--retry'): { outcome: RetryOutcome; schedule: RetrySchedule } {
  const eq = text.indexOf('=');
  if (eq < 0) throw new RetryPolicyError(`${option} ${JSON.stringify(text)} has no "="; ${RETRY_HELP}`, option);
  const name = text.slice(0, eq);
  const outcome = outcomeNamed(name);
  if (outcome === null) {
    throw new RetryPolicyError(
      `${option} ${JSON.stringify(text)}: ${JSON.stringify(name.trim())} is not a retryable outcome; use one of ${RETRY_OUTCOMES.join(', ')}`,
      option,
    );
  }
  const rest = text.slice(eq + 1);
  if (rest.trim() === '') throw new RetryPolicyError(`${option} ${JSON.stringify(text)}: the schedule is missing; ${RETRY_HELP}`, option);
  return { outcome, schedule: parseSchedule(option, text, rest) };
}

export interface RetryPolicyInput {
  /** `--retry` options, each `OUTCOME=SCHEDULE`; an outcome not named keeps its default. */
  retry?: readonly string[];
  maxAttempts?: number | string;
  /** `--retry-delay` text: the delay of the default schedules. */
  retryDelay?: string;
  /** The same, already in milliseconds (used when `retryDelay` is absent). */
  retryDelayMs?: number;
  /** `--min-gap` text: least time between two dials of one number. */
  minGap?: string;
  /** The same, already in milliseconds (used when `minGap` is absent). */
  minGapMs?: number;
}

function msOption(option: string, text: string | undefined, ms: number | undefined, fallback: number): number {
  if (text !== undefined) return optionDuration(option, text);
  if (ms === undefined) return fallback;
  if (!Number.isFinite(ms) || ms < 0) throw new RetryPolicyError(`${option} must be 0 or more milliseconds, got ${String(ms)}`, option);
  return Math.round(ms);
}

function maxAttemptsOf(value: number | string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_ATTEMPTS;
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_ATTEMPTS_LIMIT) {
    throw new RetryPolicyError(
      `--max-attempts must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT} (dials per contact, the first included), got ${JSON.stringify(value)}`,
      '--max-attempts',
    );
  }
  return n;
}

/**
 * Builds a policy. Defaults: busy, no_answer, failed and no_result are
 * retried after the retry delay, again and again, until the contact has had
 * maxAttempts dials in all (`--max-attempts 3`: up to two retries, whatever
 * the outcomes); rejected and in_doubt are never retried unless a `--retry`
 * option names them (a call that may have been placed is never redialed
 * blindly). A `--retry` option replaces one outcome's schedule; maxAttempts
 * caps every schedule.
 */
export function buildRetryPolicy(input: RetryPolicyInput = {}): RetryPolicy {
  const maxAttempts = maxAttemptsOf(input.maxAttempts);
  const retryDelayMs = msOption('--retry-delay', input.retryDelay, input.retryDelayMs, DEFAULT_RETRY_DELAY_MS);
  const minGapMs = msOption('--min-gap', input.minGap, input.minGapMs, DEFAULT_MIN_GAP_MS);
  // As many retries as maxAttempts leaves room for: the cap, not the schedule, ends them.
  const untilMax: RetrySchedule = { kind: 'delays', delaysMs: Array.from({ length: maxAttempts - 1 }, () => retryDelayMs) };
  const perOutcome: Partial<Record<RetryOutcome, RetrySchedule>> = { busy: untilMax, no_answer: untilMax, failed: untilMax, no_result: untilMax };
  const named = new Set<RetryOutcome>();
  for (const text of input.retry ?? []) {
    const { outcome, schedule } = parseRetryOption(text);
    if (named.has(outcome)) {
      throw new RetryPolicyError(`--retry names ${outcome} twice; give one schedule per outcome`, '--retry');
    }
    named.add(outcome);
    perOutcome[outcome] = schedule;
  }
  return { perOutcome, maxAttempts, minGapMs };
}

/** `5m,30m`, `exp:1m..2h x4`, `never`. */
export function formatRetrySchedule(schedule: RetrySchedule | undefined): string {
  if (schedule === undefined) return 'never';
  if (schedule.kind === 'exponential') {
    return `exp:${formatDuration(schedule.baseMs)}..${formatDuration(schedule.capMs)} x${schedule.count}`;
  }
  return schedule.delaysMs.length === 0 ? 'never' : schedule.delaysMs.map(formatDuration).join(',');
}

export interface RetryContext {
  /** Final outcome of the attempt just finished. */
  outcome: AttemptOutcome;
  /** Dials of this contact so far, the one just finished included. */
  attemptsTotal: number;
  /** Finished attempts of this contact per outcome, the one just finished included. */
  attemptsByOutcome: Partial<Record<AttemptOutcome, number>>;
  /** When this number was last dialed (epoch ms), or null. */
  lastDialAt: number | null;
  now: number;
  /** Uniform in [0, 1): used by exponential schedules only. */
  random: () => number;
}

export type RetryRefusal =
  /** answered, cancelled, expired: never retried. */
  | 'not_retryable'
  | 'max_attempts'
  /** The policy has no schedule, or an explicit "never", for this outcome. */
  | 'no_schedule'
  /** Every retry the schedule allows for this outcome has been made. */
  | 'schedule_exhausted';

export type RetryDecision = { retry: true; at: number } | { retry: false; reason: RetryRefusal };

function isRetryOutcome(outcome: AttemptOutcome): outcome is RetryOutcome {
  return (RETRY_OUTCOMES as readonly string[]).includes(outcome);
}

/** Delay of retry number `index` (from 0), or null when the schedule has no such retry. */
function delayOf(schedule: RetrySchedule, index: number, random: () => number): number | null {
  if (schedule.kind === 'delays') return schedule.delaysMs[index] ?? null;
  if (index >= schedule.count) return null;
  const ceiling = Math.min(schedule.capMs, schedule.baseMs * 2 ** index);
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Math.floor(r * ceiling);
}

/** Whether, and when, to dial a contact again after an attempt ended. */
export function decideRetry(policy: RetryPolicy, ctx: RetryContext): RetryDecision {
  if (!isRetryOutcome(ctx.outcome)) return { retry: false, reason: 'not_retryable' };
  if (ctx.attemptsTotal >= policy.maxAttempts) return { retry: false, reason: 'max_attempts' };
  const schedule = policy.perOutcome[ctx.outcome];
  if (schedule === undefined || (schedule.kind === 'delays' && schedule.delaysMs.length === 0)) {
    return { retry: false, reason: 'no_schedule' };
  }
  const retriesSoFar = Math.max(0, (ctx.attemptsByOutcome[ctx.outcome] ?? 1) - 1);
  const delay = delayOf(schedule, retriesSoFar, ctx.random);
  if (delay === null) return { retry: false, reason: 'schedule_exhausted' };
  const earliest = ctx.lastDialAt === null ? ctx.now : ctx.lastDialAt + policy.minGapMs;
  return { retry: true, at: Math.max(ctx.now + delay, earliest) };
}
