/**
 * Calling-window specs: the types, and the parsers that turn what a user
 * writes (`09:00-20:00`, `mon-fri`, `2026-12-25`) into them. The maths that
 * decides when a contact may be called lives in window.ts.
 */
import { dayOfIsoDate } from './local-time.js';

/** Minutes since local midnight; `end` may be 1440 (24:00). `start > end` is an overnight range. */
export interface HourRange {
  start: number;
  end: number;
}

/**
 * When a contact may be called, in the contact's own zone.
 * - `hours`: allowed local times of day; empty = the whole day.
 * - `days`: allowed ISO weekdays (1 = Monday … 7 = Sunday); empty = every day.
 * - `blackout`: `YYYY-MM-DD` local dates on which no range starts.
 * - `startsAt` / `expiresAt`: epoch ms bounds (`expiresAt` excluded); null = unbounded.
 * An overnight range (20:00-02:00) belongs to the day it starts on: the day
 * and blackout rules are checked against that day.
 */
export interface CallingWindow {
  hours: readonly HourRange[];
  days: ReadonlySet<number>;
  blackout: ReadonlySet<string>;
  startsAt: number | null;
  expiresAt: number | null;
}

/** Always callable. */
export const ALWAYS_CALLABLE: CallingWindow = Object.freeze({
  hours: Object.freeze([]) as readonly HourRange[],
  days: new Set<number>(),
  blackout: new Set<string>(),
  startsAt: null,
  expiresAt: null,
});

export type WindowField = 'hours' | 'days' | 'blackout' | 'startsAt' | 'expiresAt';

export class WindowError extends Error {
  readonly code = 'ERR_CALLING_WINDOW';
  constructor(
    message: string,
    readonly field: WindowField,
    readonly input: string,
  ) {
    super(message);
    this.name = 'WindowError';
  }
}

const EVERYTHING = new Set(['', 'all', '*']);

const HOURS_HELP = 'write HH:MM-HH:MM, several separated by commas (09:00-12:00,14:00-20:00); 24:00 ends at midnight, 20:00-02:00 runs overnight';
const RANGE = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/;

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

export function formatMinutes(minutes: number): string {
  return `${pad2(Math.floor(minutes / 60))}:${pad2(minutes % 60)}`;
}

/** Parses `09:00-20:00` or `09:00-12:00,14:00-20:00`; empty or `all` = the whole day. */
export function parseHours(text: string): HourRange[] {
  const s = text.trim().toLowerCase();
  if (EVERYTHING.has(s)) return [];
  const ranges: HourRange[] = [];
  for (const raw of s.split(',')) {
    const part = raw.trim();
    const bad = (what: string): never => {
      throw new WindowError(`hours: ${JSON.stringify(part)} ${what}; ${HOURS_HELP}`, 'hours', text);
    };
    const m = RANGE.exec(part);
    if (!m) bad(part === '' ? 'is an empty range' : 'is not a range');
    const [sh, sm, eh, em] = [Number(m![1]), Number(m![2]), Number(m![3]), Number(m![4])];
    if (sh > 23 || sm > 59) bad(`starts at an impossible time ${formatMinutes(sh * 60 + sm)}`);
    if (eh > 24 || em > 59 || (eh === 24 && em !== 0)) bad(`ends at an impossible time ${pad2(eh)}:${pad2(em)}`);
    const start = sh * 60 + sm;
    const end = eh * 60 + em;
    if (start === end) bad('is empty (it starts when it ends); for the whole day write 00:00-24:00');
    ranges.push({ start, end });
  }
  return ranges;
}

export function formatHours(hours: readonly HourRange[]): string {
  if (hours.length === 0) return 'all';
  return hours.map((r) => `${formatMinutes(r.start)}-${formatMinutes(r.end)}`).join(',');
}

const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const DAY_ALIASES: Record<string, number> = {
  mon: 1, monday: 1, '1': 1,
  tue: 2, tues: 2, tuesday: 2, '2': 2,
  wed: 3, wednesday: 3, '3': 3,
  thu: 4, thur: 4, thurs: 4, thursday: 4, '4': 4,
  fri: 5, friday: 5, '5': 5,
  sat: 6, saturday: 6, '6': 6,
  sun: 7, sunday: 7, '7': 7,
};
const DAYS_HELP = 'use mon, tue, wed, thu, fri, sat, sun (or 1-7, Monday = 1), ranges like mon-fri, lists like mon,wed,sat, weekdays, weekends or all';

/** Parses `mon-fri`, `mon,wed,sat`, `fri-mon` (wraps), `weekdays`, `weekends`, `all`; empty = every day. */
export function parseDays(text: string): Set<number> {
  const s = text.trim().toLowerCase();
  if (EVERYTHING.has(s)) return new Set([1, 2, 3, 4, 5, 6, 7]);
  const days = new Set<number>();
  for (const raw of s.split(',')) {
    const part = raw.trim();
    const bad = (what: string): never => {
      throw new WindowError(`days: ${JSON.stringify(part)} ${what}; ${DAYS_HELP}`, 'days', text);
    };
    if (part === 'weekdays') [1, 2, 3, 4, 5].forEach((d) => days.add(d));
    else if (part === 'weekends' || part === 'weekend') [6, 7].forEach((d) => days.add(d));
    else if (part === 'all') [1, 2, 3, 4, 5, 6, 7].forEach((d) => days.add(d));
    else {
      const ends = part.split('-').map((x) => x.trim());
      if (part === '') bad('is empty');
      if (ends.length > 2) bad('is not a day or a range of days');
      const from = DAY_ALIASES[ends[0] ?? ''];
      const to = DAY_ALIASES[ends[ends.length - 1] ?? ''];
      if (from === undefined || to === undefined) bad('is not a day');
      for (let d = from!; ; d = (d % 7) + 1) {
        days.add(d);
        if (d === to) break;
      }
    }
  }
  return days;
}

export function formatDays(days: ReadonlySet<number>): string {
  if (days.size === 0 || days.size === 7) return 'all';
  return [...days]
    .sort((a, b) => a - b)
    .map((d) => DAY_NAMES[d - 1] ?? String(d))
    .join(',');
}

/** Parses `2026-12-25,2027-01-01` (real calendar dates, local to the contact); empty = none. */
export function parseBlackout(text: string): Set<string> {
  const s = text.trim();
  const dates = new Set<string>();
  if (s === '') return dates;
  for (const raw of s.split(/[,\s]+/)) {
    const part = raw.trim();
    if (part === '') continue;
    if (dayOfIsoDate(part) === null) {
      throw new WindowError(
        `blackout: ${JSON.stringify(part)} is not a calendar date; write YYYY-MM-DD dates separated by commas (2026-12-25,2027-01-01)`,
        'blackout',
        text,
      );
    }
    dates.add(part);
  }
  return dates;
}

export function formatBlackout(blackout: ReadonlySet<string>): string {
  return [...blackout].sort().join(',');
}

/** A window as stored: the texts a user wrote (null = no restriction) and epoch-ms bounds. */
export interface CallingWindowSpec {
  hours?: string | null;
  days?: string | null;
  blackout?: string | null;
  startsAt?: number | null;
  expiresAt?: number | null;
}

/** Builds a window from its spec; throws a WindowError naming the field at fault. */
export function buildCallingWindow(spec: CallingWindowSpec): CallingWindow {
  const startsAt = spec.startsAt ?? null;
  const expiresAt = spec.expiresAt ?? null;
  for (const [field, v] of [['startsAt', startsAt], ['expiresAt', expiresAt]] as const) {
    if (v !== null && !Number.isFinite(v)) {
      throw new WindowError(`${field} must be an epoch time in milliseconds, got ${String(v)}`, field, String(v));
    }
  }
  if (startsAt !== null && expiresAt !== null && expiresAt <= startsAt) {
    throw new WindowError(
      `expiresAt (${new Date(expiresAt).toISOString()}) must come after startsAt (${new Date(startsAt).toISOString()})`,
      'expiresAt',
      String(expiresAt),
    );
  }
  return {
    hours: parseHours(spec.hours ?? ''),
    days: spec.days == null ? new Set<number>() : parseDays(spec.days),
    blackout: parseBlackout(spec.blackout ?? ''),
    startsAt,
    expiresAt,
  };
}
