/**
 * Field readers shared by the callback parsers. Each documented field is read
 * by a small checking function; the first bad field becomes a CallbackParseError that
 * names it. Values may arrive as JSON numbers or strings (a form-encoded body
 * is all strings); unknown extra keys are left alone.
 */
import { DateTime } from 'luxon';
import { CallbackParseError } from './types.js';

export type CallbackBody = Readonly<Record<string, unknown>>;

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
}

const absent = (v: unknown): boolean => v === undefined || v === null;

/** The body as a record of fields, or a CallbackParseError saying what it was instead. */
export function asCallbackBody(body: unknown, what: string): CallbackBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) {
    const got = body === null ? 'null' : Array.isArray(body) ? 'a JSON array' : Buffer.isBuffer(body) ? 'raw bytes' : typeof body;
    throw new CallbackParseError(`${what} body must be a JSON object or form fields, got ${got}`, null);
  }
  return body as CallbackBody;
}

/** A field value that does not fit its reader: the message completes "<what> field <name> …". */
class FieldIssue extends Error {}

/** Reads one field value (already taken from the body), or throws a FieldIssue. */
type Reader<T> = (v: unknown) => T;

/** Text: a string or a number (kept as written); null/absent → null. */
const text: Reader<string | null> = (v) => {
  if (absent(v)) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  throw new FieldIssue(`must be text, got ${show(v)}`);
};

const DIGITS = /^-?\d+$/;

/** A whole number given as a JSON number or a string of digits; absent or '' → null. */
const integer: Reader<number | null> = (v) => {
  if (absent(v)) return null;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '') return null;
    if (DIGITS.test(t)) return Number(t);
  }
  throw new FieldIssue(`must be a whole number or a string of digits, got ${show(v)}`);
};

/** A code (a number or a string of digits) kept as its decimal text; absent or '' → null. */
const code: Reader<string | null> = (v) => {
  const n = integer(v);
  return n === null ? null : String(n);
};

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
const ZERO_DATE = /^0000-00-00[ T]00:00:00$/;

/** `YYYY-MM-DD HH:mm:ss`; '' and the zero date mean "none". */
const wallClockText: Reader<string | null> = (v) => {
  if (absent(v)) return null;
  if (typeof v !== 'string') throw new FieldIssue(`must be a time like 2020-02-09 12:32:51, got ${show(v)}`);
  const s = v.trim();
  if (s === '' || ZERO_DATE.test(s)) return null;
  if (!WALL_CLOCK.test(s)) throw new FieldIssue(`must be a time like 2020-02-09 12:32:51, got ${show(v)}`);
  return s;
};

/** Unix seconds as a number or a string of digits; absent or '' → null. */
const unixSeconds: Reader<number | null> = (v) => {
  const n = integer(v);
  if (n !== null && n < 0) throw new FieldIssue(`must be a Unix time in seconds, got ${n}`);
  return n;
};

function read<T>(body: CallbackBody, field: string, reader: Reader<T>, what: string): T {
  try {
    return reader(body[field]);
  } catch (err) {
    if (err instanceof FieldIssue) throw new CallbackParseError(`${what} field ${field} ${err.message}`, field);
    throw err;
  }
}

function missing(field: string, what: string, hint: string): never {
  throw new CallbackParseError(`${what} field ${field} is missing or empty: ${hint}`, field);
}

/**
 * Readers bound to one callback kind, for messages like "sipcall CDR field
 * billsec …". A class, not a bag of closures: one is made for every callback.
 */
export class FieldReader {
  constructor(
    private readonly body: CallbackBody,
    private readonly what: string,
  ) {}

  text(field: string): string | null {
    return read(this.body, field, text, this.what);
  }

  /** Non-empty text, trimmed. */
  requiredText(field: string, hint: string): string {
    const v = read(this.body, field, text, this.what)?.trim() ?? '';
    return v === '' ? missing(field, this.what, hint) : v;
  }

  integer(field: string): number | null {
    return read(this.body, field, integer, this.what);
  }

  requiredInteger(field: string, hint: string): number {
    const v = read(this.body, field, integer, this.what);
    return v === null ? missing(field, this.what, hint) : v;
  }

  code(field: string): string | null {
    return read(this.body, field, code, this.what);
  }

  /** A provider-zone wall-clock time as UTC ISO 8601, or null. */
  wallClock(field: string, zone: string): string | null {
    const s = read(this.body, field, wallClockText, this.what);
    return s === null ? null : wallClockToUtc(s, zone, field, this.what);
  }

  unixTime(field: string): string | null {
    const n = read(this.body, field, unixSeconds, this.what);
    return n === null ? null : new Date(n * 1000).toISOString();
  }
}

export function fieldReader(body: CallbackBody, what: string): FieldReader {
  return new FieldReader(body, what);
}

/**
 * UTC time (ms) of the start of one local hour of a zone, when the zone's
 * offset is the same through the whole hour (every hour but those of a clock
 * change), keyed by zone and `YYYY-MM-DD HH`. A bounded memo of a pure
 * function: asking the time zone database costs tens of microseconds, and a
 * CDR carries three times.
 */
const hourStarts = new Map<string, number | null>();
const HOUR_STARTS_MAX = 10_000;

function steadyHourStart(key: string, zone: string, y: number, mo: number, d: number, h: number): number | null {
  const hit = hourStarts.get(key);
  if (hit !== undefined) return hit;
  let start: number | null = null;
  const dateOk = mo >= 1 && mo <= 12 && d >= 1 && new Date(Date.UTC(y, mo - 1, d)).getUTCDate() === d;
  if (dateOk && h < 24) {
    const first = DateTime.fromObject({ year: y, month: mo, day: d, hour: h }, { zone });
    const last = DateTime.fromObject({ year: y, month: mo, day: d, hour: h, minute: 59, second: 59 }, { zone });
    if (first.isValid && last.isValid && first.offset === last.offset && first.hour === h && last.hour === h) start = Date.UTC(y, mo - 1, d, h) - first.offset * 60_000;
  }
  if (hourStarts.size >= HOUR_STARTS_MAX) hourStarts.clear();
  hourStarts.set(key, start);
  return start;
}

/**
 * The UTC ISO text up to the minute ('2020-02-09T04:32:') of one local minute
 * of a zone, keyed by zone and `YYYY-MM-DD HH:mm` (null: the hour of a clock
 * change). Offsets are whole minutes, so the seconds carry over as written.
 */
const minutePrefixes = new Map<string, string | null>();
const MINUTE_PREFIXES_MAX = 20_000;

/** Converts `YYYY-MM-DD HH:mm:ss` read in `zone` to UTC ISO 8601. */
export function wallClockToUtc(s: string, zone: string, field = 'time', what = 'callback'): string {
  const m = WALL_CLOCK.exec(s);
  if (m && +m[5]! < 60 && +m[6]! < 60) {
    const day = s.slice(0, 10);
    const key = `${zone}|${day} ${s.slice(11, 16)}`;
    let prefix = minutePrefixes.get(key);
    if (prefix === undefined) {
      const start = steadyHourStart(`${zone}|${day} ${m[4]!}`, zone, +m[1]!, +m[2]!, +m[3]!, +m[4]!);
      prefix = start === null ? null : new Date(start + +m[5]! * 60_000).toISOString().slice(0, 17);
      if (minutePrefixes.size >= MINUTE_PREFIXES_MAX) minutePrefixes.clear();
      minutePrefixes.set(key, prefix);
    }
    if (prefix !== null) return `${prefix}${m[6]!}.000Z`;
  }
  // A clock-change hour, an unknown zone or a malformed value: luxon decides (and explains).
  const dt = m
    ? DateTime.fromObject({ year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: +m[4]!, minute: +m[5]!, second: +m[6]! }, { zone })
    : DateTime.fromFormat(s.replace('T', ' '), 'yyyy-MM-dd HH:mm:ss', { zone });
  if (!dt.isValid) {
    throw new CallbackParseError(`${what} field ${field} is not a valid time in ${zone}: ${JSON.stringify(s)} (${dt.invalidExplanation ?? dt.invalidReason ?? 'invalid'})`, field);
  }
  return dt.toUTC().toISO() ?? missing(field, what, 'send a valid time');
}

/** Adds whole seconds to a UTC ISO time. */
export function plusSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}
