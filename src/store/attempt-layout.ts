/**
 * The compact layout of a stored attempt record: every field at a fixed
 * position, written as short text.
 *
 *   <ver>|~<7 code characters><number>|<base time>|<dialingAt>|…
 *
 * - the enumerated fields (state, outcome, family, dialKind, correctedFrom,
 *   late, inDoubt) are one character each, from fixed tables ('-': none);
 * - the other fields follow in a fixed order, separated by '|', trailing
 *   empty ones left out ('' is none);
 * - times are milliseconds from the record's base time (its first time,
 *   written once: the moment it was begun), in base 36 as the base itself
 *   is; provider times (ISO text to the second) are seconds from that base,
 *   in decimal; a call uuid is 22 characters of base64url; a callback id is
 *   its milliseconds from the base (base 36) and its sequence; the errors
 *   the dialer writes itself are one character;
 * - the campaign, contact index and attempt number are not stored: the
 *   attempt id (the record's key) holds them;
 * - any value these forms cannot hold exactly is written as a JSON string
 *   (it starts with '"', its '|' escaped), so nothing is ever lost.
 *
 * The codes are fixed here, not taken from the domain's lists: a record
 * written today must read the same after those lists change.
 */
import type { AttemptOutcome, AttemptState, ProviderFamily } from '../domain/types.js';
import { isoOfMs } from '../infra/iso-time.js';

export class AttemptStoreError extends Error {
  readonly code = 'ERR_ATTEMPT_STORE';
}

/** Marks the compact layout after the version (a record of JSON text starts with '{'). */
export const COMPACT_TAG = '~';

export const STATE_CODES: Readonly<Record<AttemptState, string>> = {
  queued: 'q',
  dialing: 'd',
  accepted: 'a',
  ringing: 'r',
  answered: 'A',
  final: 'f',
  not_sent: 'n',
};

export const OUTCOME_CODES: Readonly<Record<AttemptOutcome, string>> = {
  answered: 'a',
  no_answer: 'n',
  busy: 'b',
  failed: 'f',
  rejected: 'r',
  no_result: 'x',
  in_doubt: 'd',
  cancelled: 'c',
  expired: 'e',
};

export const FAMILY_CODES: Readonly<Record<ProviderFamily, string>> = { sipcall: 's', pbx: 'p' };

export const DIAL_KINDS = ['accepted', 'rejected', 'fatal', 'not_sent', 'transient', 'in_doubt'] as const;
export type DialKind = (typeof DIAL_KINDS)[number];
export const DIAL_KIND_CODES: Readonly<Record<DialKind, string>> = {
  accepted: 'a',
  rejected: 'r',
  fatal: 'f',
  not_sent: 'n',
  transient: 't',
  in_doubt: 'd',
};

const FLAG_CODES: Readonly<Record<string, string>> = { '0': '0', '1': '1', false: '0', true: '1' };

/** Values of a text field the dialer writes itself, each as one character (any other text is kept as it is). */
export const RESULT_SOURCE_CODES: Readonly<Record<string, string>> = { callback: 'c', deadline: 'd', dial: 's' };
export const ERROR_CODES: Readonly<Record<string, string>> = {
  'no result by the deadline': '1',
  'in doubt: no answer from the provider and no result by the deadline': '2',
  'no CDR by the deadline: the first party did not answer': '3',
};

/** How a position is written. */
export type Kind = 'code' | 'text' | 'number' | 'time' | 'providerTime' | 'uuid' | 'callbackId' | 'dictText';

export interface Slot {
  field: string;
  pos: number;
  kind: Kind;
  /** code: value → character; dictText: value → character. */
  codes?: Readonly<Record<string, string>>;
}

/** The first position after the code characters. */
export const FIRST_TEXT = 7;
/** The base time: absolute milliseconds, written once. */
export const BASE = 8;
/** Fields no position holds (a JSON object), for a record written with fields this layout does not know. */
export const EXTRAS = 30;
export const POSITIONS = EXTRAS + 1;

const LAYOUT: readonly Omit<Slot, 'pos'>[] = [
  { field: 'state', kind: 'code', codes: STATE_CODES },
  { field: 'outcome', kind: 'code', codes: OUTCOME_CODES },
  { field: 'family', kind: 'code', codes: FAMILY_CODES },
  { field: 'dialKind', kind: 'code', codes: DIAL_KIND_CODES },
  { field: 'correctedFrom', kind: 'code', codes: OUTCOME_CODES },
  { field: 'late', kind: 'code', codes: FLAG_CODES },
  { field: 'inDoubt', kind: 'code', codes: FLAG_CODES },
  { field: 'number', kind: 'text' },
  { field: '', kind: 'number' },
  { field: 'dialingAt', kind: 'time' },
  { field: 'deadline', kind: 'time' },
  { field: 'acceptedAt', kind: 'time' },
  { field: 'ringingAt', kind: 'time' },
  { field: 'answerSeenAt', kind: 'time' },
  { field: 'hangupAt', kind: 'time' },
  { field: 'finalAt', kind: 'time' },
  { field: 'resultSource', kind: 'dictText', codes: RESULT_SOURCE_CODES },
  { field: 'duplicates', kind: 'number' },
  { field: 'conflicts', kind: 'number' },
  { field: 'billsec', kind: 'number' },
  { field: 'answeredAt', kind: 'providerTime' },
  { field: 'endedAt', kind: 'providerTime' },
  { field: 'hangupcause', kind: 'text' },
  { field: 'hangupdirection', kind: 'text' },
  { field: 'userkey', kind: 'text' },
  { field: 'callUuid', kind: 'uuid' },
  { field: 'callbackId', kind: 'callbackId' },
  { field: 'providerCallId', kind: 'text' },
  { field: 'error', kind: 'dictText', codes: ERROR_CODES },
  { field: 'correctedAt', kind: 'time' },
];

export const SLOTS: readonly Slot[] = LAYOUT.map((s, pos) => ({ ...s, pos }));

/** Each stored field's slot, by name (no prototype: any field name is safe to look up). */
export const SLOT_OF: Readonly<Record<string, Slot>> = Object.assign(
  Object.create(null) as Record<string, Slot>,
  Object.fromEntries(SLOTS.filter((s) => s.field !== '').map((s) => [s.field, s])),
);

/** Fields the attempt id holds: never stored. */
export const FROM_ID: ReadonlySet<string> = new Set(['cid', 'idx', 'n']);

/** The code tables read backwards: character → value, per code position. */
export const DECODE_CODES: readonly Readonly<Record<string, string>>[] = SLOTS.slice(0, FIRST_TEXT).map((s) => {
  const back: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [value, code] of Object.entries(s.codes!)) back[code] ??= value === 'false' ? '0' : value === 'true' ? '1' : value;
  return back;
});

/** The dictText tables read backwards. */
export const DECODE_DICT: Readonly<Record<number, Readonly<Record<string, string>>>> = Object.fromEntries(
  SLOTS.filter((s) => s.kind === 'dictText').map((s) => [s.pos, Object.fromEntries(Object.entries(s.codes!).map(([v, c]) => [c, v]))]),
);

/** A text as a JSON string that holds no '|' (the layout's separator). */
export function quoted(text: string): string {
  const json = JSON.stringify(text);
  return json.includes('|') ? json.replace(/\|/g, '\\u007c') : json;
}

/** Plain text where it cannot be taken for anything else, else quoted. */
function plain(text: string): string {
  return text.charCodeAt(0) === 34 || text.includes('|') ? quoted(text) : text;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const B64_UUID = /^[A-Za-z0-9_-]{22}$/;
const STREAM_ID = /^(\d+)-(\d+)$/;
const REL_STREAM_ID = /^(-?[0-9a-z]+)-(\d+)$/;

/** A whole number in base 36 (times and the base time): shorter than decimal by a third. */
export const toBase36 = (n: number): string => n.toString(36);

/** A base 36 whole number read back (NaN when the text is not one), digit by digit: it runs for every time of every record read. */
export function fromBase36(s: string): number {
  const neg = s.charCodeAt(0) === 45;
  let i = neg ? 1 : 0;
  if (i >= s.length) return NaN;
  let n = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1;
    if (d < 0) return NaN;
    n = n * 36 + d;
  }
  return neg ? -n : n;
}

/** Base64url characters → their six bits (-1: not one). */
const B64_VALUE: readonly number[] = (() => {
  const t = new Array<number>(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
})();
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A uuid's 22 characters of base64url (checked by B64_UUID) back to its text, as Buffer's decoding gives it. */
function uuidOfBase64(s: string): string {
  let hex = '';
  let bits = 0;
  let have = 0;
  for (let i = 0; i < 22; i++) {
    bits = (bits << 6) | B64_VALUE[s.charCodeAt(i)]!;
    have += 6;
    if (have >= 8) {
      have -= 8;
      const byte = (bits >> have) & 0xff;
      bits &= (1 << have) - 1;
      const n = hex.length;
      hex += n === 8 || n === 13 || n === 18 || n === 23 ? `-${HEX_BYTE[byte]}` : HEX_BYTE[byte];
    }
  }
  return hex;
}
const WHOLE = /^-?\d+$/;
const ISO_SECOND = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

/** A value as text, as the record of JSON text wrote it. */
export function asText(v: string | number | boolean): string {
  return typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
}

/**
 * One field's value written at its position. `base`: the record's base
 * time (null: none yet). Throws (naming the field) for a value a code
 * position cannot hold.
 */
export function pack(slot: Slot, v: string | number | boolean, base: number | null): string {
  switch (slot.kind) {
    case 'code': {
      const text = asText(v);
      if (text === '') return '-';
      const code = slot.codes![text];
      if (code === undefined) throw new RangeError(`${slot.field}: no code for ${JSON.stringify(text)}`);
      return code;
    }
    case 'text':
      return typeof v === 'string' ? plain(v) : asText(v);
    case 'number': {
      if (typeof v === 'number') return String(v);
      return plain(asText(v));
    }
    case 'time': {
      if (v === '') return '';
      const x = typeof v === 'number' ? v : Number(v);
      if (base !== null && Number.isSafeInteger(x) && (typeof v === 'number' || String(x) === v)) return toBase36(x - base);
      return quoted(asText(v));
    }
    case 'providerTime': {
      const text = asText(v);
      if (text === '') return '';
      if (base !== null && ISO_SECOND.test(text)) {
        const ms = Date.parse(text);
        if (Number.isFinite(ms) && new Date(ms).toISOString() === text) return String(ms / 1000 - Math.floor(base / 1000));
      }
      return WHOLE.test(text) ? quoted(text) : plain(text);
    }
    case 'uuid': {
      const text = asText(v);
      if (UUID.test(text)) return Buffer.from(text.replace(/-/g, ''), 'hex').toString('base64url');
      return B64_UUID.test(text) ? quoted(text) : plain(text);
    }
    case 'callbackId': {
      const text = asText(v);
      const m = STREAM_ID.exec(text);
      if (m && base !== null) {
        const ms = Number(m[1]);
        if (Number.isSafeInteger(ms) && String(ms) === m[1]) return `${toBase36(ms - base)}-${m[2]}`;
      }
      return REL_STREAM_ID.test(text) ? quoted(text) : plain(text);
    }
    case 'dictText': {
      const text = asText(v);
      const code = slot.codes![text];
      if (code !== undefined) return code;
      return text.length === 1 ? quoted(text) : plain(text);
    }
  }
}

function unquote(s: string): string | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Why a position cannot be read (the field named first). */
export class UnpackError extends Error {}

function problem(slot: Slot, what: string): UnpackError {
  return new UnpackError(`${slot.field}: ${what}`);
}

/** A quoted position's text; throws when it is not a JSON string. */
function quotedText(slot: Slot, s: string): string {
  const v = unquote(s);
  if (v === undefined) throw problem(slot, `not a JSON string (${s.slice(0, 40)})`);
  return v;
}

/** A time or number position read back: its number, or null when empty. Throws naming the field. */
export function unpackNumber(slot: Slot, s: string, base: number | null): number | null {
  if (s === '') return null;
  const quotedForm = s.charCodeAt(0) === 34;
  const text = quotedForm ? quotedText(slot, s) : s;
  if (text === '') return null;
  if (slot.kind !== 'time' || quotedForm) {
    const x = Number(text);
    if (!Number.isFinite(x)) throw problem(slot, `not a number (${JSON.stringify(text)})`);
    return x;
  }
  const rel = fromBase36(text);
  if (!Number.isFinite(rel)) throw problem(slot, `not a number (${JSON.stringify(text)})`);
  if (base === null) throw problem(slot, "a time without the record's base time");
  return base + rel;
}

/** A text position read back (null: empty). Throws naming the field. */
export function unpackText(slot: Slot, s: string, base: number | null): string | null {
  if (s === '') return null;
  if (s.charCodeAt(0) === 34) {
    const v = quotedText(slot, s);
    return v === '' ? null : v;
  }
  switch (slot.kind) {
    case 'providerTime': {
      if (!WHOLE.test(s)) return s;
      if (base === null) throw problem(slot, "a time without the record's base time");
      return isoOfMs((Math.floor(base / 1000) + Number(s)) * 1000);
    }
    case 'uuid': {
      return B64_UUID.test(s) ? uuidOfBase64(s) : s;
    }
    case 'callbackId': {
      const m = REL_STREAM_ID.exec(s);
      if (!m) return s;
      if (base === null) throw problem(slot, "a callback id without the record's base time");
      return `${base + parseInt(m[1]!, 36)}-${m[2]}`;
    }
    case 'dictText':
      return DECODE_DICT[slot.pos]![s] ?? s;
    default:
      return s;
  }
}
