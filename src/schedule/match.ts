/**
 * When a schedule ticks, and what a tick becomes: pure functions of the
 * schedule and of `now`. The same function computes ticks for BullMQ (as its
 * repeat strategy) and for listings, so what is shown is what runs.
 *
 * - cron: 5 fields (minute hour day month weekday) or 6 with seconds first,
 *   read in the schedule's zone by cron-parser, DST included: a time that
 *   does not exist on a spring-forward day runs once, shifted by the gap
 *   (02:30 → 03:30); a time met twice on a fall-back day runs once, at the
 *   first.
 * - every: ticks at `start + k × every` (start: startDate, else the epoch,
 *   so `1h` ticks on the hour UTC).
 * Ticks lie within [startDate, endDate], both included.
 */
import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import { DateTime } from 'luxon';

export type Overlap = 'skip' | 'parallel';

export type Timing = { kind: 'cron'; cron: string } | { kind: 'every'; everyMs: number };

export interface ScheduleSpec {
  timing: Timing;
  /** IANA zone the cron is read in (and tick times are named in). */
  timezone: string;
  startMs: number | null;
  endMs: number | null;
  overlap: Overlap;
}

/** Least interval of `every` (a tick is a whole campaign). */
export const MIN_EVERY_MS = 1000;

/** What is wrong with a cron expression, or null when it is fine. */
export function cronProblem(expr: string): string | null {
  const fields = expr.trim().split(/\s+/).filter((f) => f !== '');
  if (fields.length !== 5 && fields.length !== 6) {
    return `a cron has 5 fields (minute hour day-of-month month day-of-week, e.g. "0 10 * * 1-5") or 6 with seconds first ("*/5 * * * * *"), got ${fields.length}`;
  }
  if (fields.some((f) => /(^|[^a-z])h/i.test(f))) return 'the hashed value H is not supported: write the minute or hour itself';
  try {
    CronExpressionParser.parse(fields.join(' '), { tz: 'UTC' });
    return null;
  } catch (err) {
    const why = (err as Error).message;
    if (/Invalid range/i.test(why)) return `${why}: a range runs upward and cannot wrap (write sat-wed as 6,0-3)`;
    return `not a cron expression (${why}); example: "30 9 * * mon-fri"`;
  }
}

function cronNext(spec: ScheduleSpec & { timing: { kind: 'cron' } }, afterMs: number): number | null {
  // cron-parser returns the first time strictly after currentDate.
  const from = spec.startMs !== null && spec.startMs - 1 > afterMs ? spec.startMs - 1 : afterMs;
  try {
    const it = CronExpressionParser.parse(spec.timing.cron, { tz: spec.timezone, currentDate: new Date(from) });
    const t = it.next().getTime();
    return spec.endMs !== null && t > spec.endMs ? null : t;
  } catch {
    return null;
  }
}

/** The first tick strictly after `afterMs`, or null when the schedule has ended. */
export function nextTick(spec: ScheduleSpec, afterMs: number): number | null {
  if (spec.timing.kind === 'cron') return cronNext(spec as ScheduleSpec & { timing: { kind: 'cron' } }, afterMs);
  const every = spec.timing.everyMs;
  const start = spec.startMs ?? 0;
  const t = afterMs < start ? start : start + (Math.floor((afterMs - start) / every) + 1) * every;
  return spec.endMs !== null && t > spec.endMs ? null : t;
}

/** The first tick at or after `fromMs`. */
export function firstTickFrom(spec: ScheduleSpec, fromMs: number): number | null {
  return nextTick(spec, fromMs - 1);
}

/** Ticks in [fromMs, toMs], in order (at most `limit`). */
export function ticksBetween(spec: ScheduleSpec, fromMs: number, toMs: number, limit = 10_000): number[] {
  const out: number[] = [];
  let t = firstTickFrom(spec, fromMs);
  while (t !== null && t <= toMs && out.length < limit) {
    out.push(t);
    t = nextTick(spec, t);
  }
  return out;
}

/** True when `tickMs` is a tick of the schedule (a job carried over from an older version of it is not). */
export function isTick(spec: ScheduleSpec, tickMs: number): boolean {
  return firstTickFrom(spec, tickMs) === tickMs;
}

/**
 * The campaign id of a definition's run at a tick: 8 base-36 characters (a
 * campaign id's form) drawn from a hash of both, so every process derives
 * the same one and a tick can only ever make one campaign.
 */
export function runCampaignId(name: string, tickMs: number): string {
  const bytes = createHash('sha256').update(`schedule:${name}:${tickMs}`).digest();
  let s = '';
  for (let i = 0; i < 8; i++) s += (bytes[i]! % 36).toString(36);
  return s;
}

/** A tick as people read it in the schedule's zone: `2026-03-02 10:00` (seconds when they are not zero). */
export function localTime(tickMs: number, zone: string): string {
  const d = DateTime.fromMillis(tickMs, { zone });
  return d.toFormat(d.second !== 0 || d.millisecond !== 0 ? 'yyyy-MM-dd HH:mm:ss' : 'yyyy-MM-dd HH:mm');
}

/** The campaign name of a run: `<definition> <local date-time of the tick>`. */
export function runName(name: string, tickMs: number, zone: string): string {
  return `${name} ${localTime(tickMs, zone)}`;
}

/**
 * Whether a tick starts a run: under `skip`, not while an earlier run is
 * still active. A run asked for by hand always starts.
 */
export function decideTick(input: { overlap: Overlap; manual: boolean; activeEarlierRuns: number }): 'run' | 'skip' {
  if (input.manual || input.overlap === 'parallel') return 'run';
  return input.activeEarlierRuns > 0 ? 'skip' : 'run';
}

/** A run that cannot start is tried again after these delays, then given up. */
export const RUN_RETRY_DELAYS_MS: readonly number[] = [30_000, 120_000, 600_000];

/** Delay before the next try after `attemptsMade` failed ones (1-based). */
export function runRetryDelay(attemptsMade: number): number {
  return RUN_RETRY_DELAYS_MS[Math.min(Math.max(attemptsMade, 1), RUN_RETRY_DELAYS_MS.length) - 1]!;
}

/** The repeat options BullMQ keeps for a scheduler, as far as ticks go. */
export interface BullRepeatOptions {
  pattern?: string | undefined;
  tz?: string | undefined;
  startDate?: Date | string | number | undefined;
  endDate?: Date | string | number | undefined;
}

const millis = (v: Date | string | number | undefined): number | null => (v === undefined ? null : new Date(v).getTime());

/**
 * BullMQ's repeat strategy for cron schedulers: the next tick after
 * `afterMs` by `nextTick`, undefined once the schedule has ended.
 */
export function bullRepeatStrategy(afterMs: number, opts: BullRepeatOptions): number | undefined {
  if (!opts.pattern) return undefined;
  const spec: ScheduleSpec = {
    timing: { kind: 'cron', cron: opts.pattern },
    timezone: opts.tz ?? 'UTC',
    startMs: millis(opts.startDate),
    endMs: millis(opts.endDate),
    overlap: 'skip',
  };
  return nextTick(spec, afterMs) ?? undefined;
}
