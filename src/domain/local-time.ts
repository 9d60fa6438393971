/**
 * Wall-clock arithmetic in an IANA zone, on epoch milliseconds. Offsets come
 * from luxon's zone data; nothing here assumes a fixed offset.
 *
 * A "wall" time is a zone-less local timestamp written as milliseconds on a
 * UTC-like axis (2026-03-08 02:30 wall = Date.UTC(2026, 2, 8, 2, 30)). A
 * "day" is a calendar date as days since 1970-01-01.
 */
import { IANAZone } from 'luxon';

export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;

/** Probe distance around a wall time: wider than any offset change, narrower than the gap between two changes. */
const PROBE_MS = 6 * MS_PER_HOUR;

export class TimeZoneError extends Error {
  readonly code = 'ERR_TIME_ZONE';
  constructor(readonly zone: string) {
    super(`unknown time zone ${JSON.stringify(zone)}: use an IANA zone name such as Asia/Shanghai or Europe/Berlin`);
    this.name = 'TimeZoneError';
  }
}

/** The luxon zone for an IANA name; throws a TimeZoneError for an unknown one. */
export function zoneNamed(name: string): IANAZone {
  const zone = IANAZone.create(name);
  if (!zone.isValid) throw new TimeZoneError(name);
  return zone;
}

function offsetMs(zone: IANAZone, t: number): number {
  return zone.offset(t) * MS_PER_MINUTE;
}

/** The wall time shown in `zone` at instant `t`. */
export function wallAt(zone: IANAZone, t: number): number {
  return t + offsetMs(zone, t);
}

/** The calendar day in `zone` at instant `t`. */
export function localDayAt(zone: IANAZone, t: number): number {
  return Math.floor(wallAt(zone, t) / MS_PER_DAY);
}

/** ISO weekday of a day: 1 = Monday … 7 = Sunday. */
export function isoWeekday(day: number): number {
  // 1970-01-01 (day 0) was a Thursday.
  return ((((day + 3) % 7) + 7) % 7) + 1;
}

/** `YYYY-MM-DD` of a day. */
export function isoDateOfDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/** The day of a `YYYY-MM-DD` date, or null when it is not a real calendar date. */
export function dayOfIsoDate(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return t / MS_PER_DAY;
}

/**
 * The first instant at which the wall clock in `zone` shows `wall` or later.
 * - A wall time in the hour skipped by a spring-forward change maps to the
 *   moment the clocks jump (02:30 on a 02:00→03:00 day gives 03:00).
 * - A wall time in the hour repeated by a fall-back change maps to its first
 *   occurrence (01:30 on a 02:00→01:00 day gives 01:30 before the change).
 */
export function firstInstantAtWall(zone: IANAZone, wall: number): number {
  const guess = wall - offsetMs(zone, wall);
  const before = offsetMs(zone, guess - PROBE_MS);
  const after = offsetMs(zone, guess + PROBE_MS);
  // No offset change near: the wall time exists exactly once.
  if (before === after) return wall - before;
  const offsets = [...new Set([before, offsetMs(zone, guess), after])];
  let best: number | null = null;
  for (const o of offsets) {
    const t = wall - o;
    if (offsetMs(zone, t) === o && (best === null || t < best)) best = t;
  }
  if (best !== null) return best;

  // The wall time does not exist: find the change, the first instant whose wall time passed it.
  let lo = wall - Math.max(...offsets);
  let hi = wall - Math.min(...offsets);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallAt(zone, mid) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}
