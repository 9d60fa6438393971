/**
 * Calling-window decisions: may a contact in `zone` be called at `now`, when
 * next, and until when. Pure functions of epoch milliseconds.
 *
 * A window allows a set of spans. Each allowed local day (weekday listed,
 * date not blacked out) contributes one span per hour range, from the range's
 * start on that day to its end (on the next day for an overnight range).
 * Around daylight-saving changes, a wall time names the first instant the
 * clock shows it or later:
 * - spring forward (02:00→03:00): a range starting at 02:30 starts at 03:00;
 *   a range lying wholly inside the skipped hour is empty that day;
 * - fall back (02:00→01:00): a wall time inside the repeated hour names its
 *   first occurrence, so a range ending at 01:30 ends at the first 01:30
 *   (the second 01:00-01:30 is outside it), while a range ending at 02:00 or
 *   later runs through both occurrences.
 */
import type { IANAZone } from 'luxon';
import {
  dayOfIsoDate,
  firstInstantAtWall,
  isoDateOfDay,
  isoWeekday,
  localDayAt,
  MS_PER_DAY,
  MS_PER_MINUTE,
  zoneNamed,
} from './local-time.js';
import type { CallingWindow, HourRange } from './window-spec.js';

export {
  ALWAYS_CALLABLE,
  buildCallingWindow,
  formatBlackout,
  formatDays,
  formatHours,
  parseBlackout,
  parseDays,
  parseHours,
  WindowError,
  type CallingWindow,
  type CallingWindowSpec,
  type HourRange,
  type WindowField,
} from './window-spec.js';
export { TimeZoneError } from './local-time.js';

interface Span {
  start: number;
  end: number;
}

const WHOLE_DAY: readonly HourRange[] = [{ start: 0, end: 1440 }];

function dayAllowed(window: CallingWindow, day: number): boolean {
  if (window.days.size > 0 && !window.days.has(isoWeekday(day))) return false;
  return window.blackout.size === 0 || !window.blackout.has(isoDateOfDay(day));
}

/** The non-empty spans that start on `day`, in order of start. */
function spansOfDay(window: CallingWindow, zone: IANAZone, day: number): Span[] {
  if (!dayAllowed(window, day)) return [];
  const ranges = window.hours.length > 0 ? window.hours : WHOLE_DAY;
  const spans: Span[] = [];
  for (const r of ranges) {
    const endDay = r.end > r.start ? day : day + 1;
    const start = firstInstantAtWall(zone, day * MS_PER_DAY + r.start * MS_PER_MINUTE);
    const end = firstInstantAtWall(zone, endDay * MS_PER_DAY + r.end * MS_PER_MINUTE);
    if (end > start) spans.push({ start, end });
  }
  return spans.sort((a, b) => a.start - b.start);
}

/**
 * Days to look ahead from `firstDay` before concluding there is no span:
 * every weekday, every blackout date, and a margin for days a DST change
 * leaves empty.
 */
function horizonDay(window: CallingWindow, firstDay: number): number {
  let last = firstDay + 7 * (window.blackout.size + 3);
  for (const date of window.blackout) {
    const d = dayOfIsoDate(date);
    if (d !== null && d + 8 > last) last = d + 8;
  }
  return last;
}

/** Spans in order of start, from those starting the day before `t` up to the horizon. */
function* spansAround(window: CallingWindow, zone: IANAZone, t: number): Generator<Span> {
  const first = localDayAt(zone, t) - 1;
  const last = horizonDay(window, first);
  for (let day = first; day <= last; day++) yield* spansOfDay(window, zone, day);
}

function withinBounds(window: CallingWindow, t: number): boolean {
  if (window.startsAt !== null && t < window.startsAt) return false;
  return window.expiresAt === null || t < window.expiresAt;
}

/** Whether a contact in `zone` may be called at `nowMs`. */
export function isCallable(window: CallingWindow, zone: string, nowMs: number): boolean {
  if (!withinBounds(window, nowMs)) return false;
  const z = zoneNamed(zone);
  const today = localDayAt(z, nowMs);
  for (const day of [today - 1, today]) {
    for (const span of spansOfDay(window, z, day)) {
      if (span.start <= nowMs && nowMs < span.end) return true;
    }
  }
  return false;
}

/**
 * The earliest instant ≥ `nowMs` at which a contact in `zone` may be called,
 * or null when there is none before `expiresAt`.
 */
export function nextCallableTime(window: CallingWindow, zone: string, nowMs: number): number | null {
  const z = zoneNamed(zone);
  const from = window.startsAt !== null && nowMs < window.startsAt ? window.startsAt : nowMs;
  if (window.expiresAt !== null && from >= window.expiresAt) return null;
  for (const span of spansAround(window, z, from)) {
    if (span.end <= from) continue;
    const t = Math.max(span.start, from);
    return window.expiresAt !== null && t >= window.expiresAt ? null : t;
  }
  return null;
}

/** The first blackout day on or after `day`, or null. */
function nextBlackoutDay(window: CallingWindow, day: number): number | null {
  let best: number | null = null;
  for (const date of window.blackout) {
    const d = dayOfIsoDate(date);
    if (d !== null && d >= day && (best === null || d < best)) best = d;
  }
  return best;
}

/**
 * The first instant ≥ `nowMs` at which calling is not allowed: the end of
 * the allowed span `nowMs` lies in (adjacent spans merged, capped by
 * `expiresAt`); `nowMs` itself when it is not callable; null when calling
 * never stops (every day, the whole day, no expiry).
 */
export function windowClosesAt(window: CallingWindow, zone: string, nowMs: number): number | null {
  if (!isCallable(window, zone, nowMs)) return nowMs;
  const z = zoneNamed(zone);
  const cap = (t: number): number => (window.expiresAt !== null ? Math.min(t, window.expiresAt) : t);
  let base = localDayAt(z, nowMs) - 1;
  const horizon = horizonDay(window, base);
  let open = nowMs;
  for (let day = base; day <= horizon; day++) {
    for (const span of spansOfDay(window, z, day)) {
      if (span.end <= open) continue;
      if (span.start > open) return cap(open);
      open = span.end;
    }
    if (window.expiresAt !== null && open >= window.expiresAt) return window.expiresAt;
    if (localDayAt(z, open) >= base + 9) {
      // Eight whole days called without a break: every weekday is allowed and
      // covered end to end, so only a blackout date can stop the calling.
      // Resume from the midnight that starts the day before it.
      const blackout = nextBlackoutDay(window, day + 1);
      if (blackout === null) return window.expiresAt;
      open = Math.max(open, firstInstantAtWall(z, (blackout - 1) * MS_PER_DAY));
      day = Math.max(day, blackout - 2) - 1;
      base = blackout;
    }
  }
  return cap(open);
}
