/**
 * An attempt record as stored (one Redis string per attempt, keyed by its
 * customuuid: `<version>|<fields>`) and its codec: the fields in the compact
 * layout of attempt-layout.ts (about 100 bytes for a finished call), read
 * field by field, by hand, because it runs for every dial answer and every
 * result. One string, not a hash of fields: a read or a write is one value,
 * not thirty. Records written before that layout (`<version>|<JSON object
 * of text fields>`) are still read; their next write is compact.
 */
import {
  ATTEMPT_OUTCOMES,
  ATTEMPT_STATES,
  PROVIDER_FAMILIES,
  type AttemptOutcome,
  type AttemptState,
  type ProviderFamily,
} from '../domain/types.js';
import { AttemptStoreError, COMPACT_TAG, DIAL_KINDS, FIRST_TEXT, POSITIONS, type DialKind } from './attempt-layout.js';
import { decodePackedAttempt, packAttemptFields } from './attempt-compact.js';

export { AttemptStoreError } from './attempt-layout.js';
export { decodePackedAttempt, encodeAttemptValue, packAttemptFields, textFields } from './attempt-compact.js';

/** Field values written to the attempt record: strings or numbers, null clears nothing (skipped). */
export type AttemptFields = Record<string, string | number | boolean | null>;

/** A record's fields as stored: one text per position of the compact layout. */
export type PackedAttempt = readonly string[];

const STATES: ReadonlySet<string> = new Set(ATTEMPT_STATES);
const OUTCOMES: ReadonlySet<string> = new Set(ATTEMPT_OUTCOMES);
const FAMILIES: ReadonlySet<string> = new Set(PROVIDER_FAMILIES);
const DIAL_KIND_SET: ReadonlySet<string> = new Set(DIAL_KINDS);

/** An attempt record as stored, decoded. */
export interface StoredAttempt {
  id: string;
  /** The fields as stored (compact, without the version): what the next commit writes over. */
  packed: PackedAttempt;
  /** The fields as text, by name, as the record holds them (read from `packed` when asked for). */
  readonly stored: Readonly<Record<string, string>>;
  cid: string;
  idx: number;
  n: number;
  family: ProviderFamily;
  number: string;
  state: AttemptState;
  outcome: AttemptOutcome | null;
  late: boolean;
  inDoubt: boolean;
  ver: number;
  dialingAt: number | null;
  acceptedAt: number | null;
  ringingAt: number | null;
  answeredAt: string | null;
  endedAt: string | null;
  finalAt: number | null;
  deadline: number | null;
  billsec: number | null;
  hangupcause: string | null;
  hangupdirection: string | null;
  userkey: string | null;
  providerCallId: string | null;
  callUuid: string | null;
  dialKind: DialKind | null;
  answerSeenAt: number | null;
  hangupAt: number | null;
  correctedAt: number | null;
  correctedFrom: AttemptOutcome | null;
  resultSource: string | null;
  error: string | null;
  duplicates: number | null;
  conflicts: number | null;
  callbackId: string | null;
}

type Raw = Readonly<Record<string, string>>;

function reqStr(raw: Raw, f: string, problems: string[]): string {
  const v = raw[f];
  if (v === undefined) problems.push(`${f}: missing`);
  return v ?? '';
}

function optStr(raw: Raw, f: string): string | null {
  const v = raw[f];
  return v === undefined || v === '' ? null : v;
}

function optNum(raw: Raw, f: string, problems: string[]): number | null {
  const v = raw[f];
  if (v === undefined || v === '') return null;
  const x = Number(v);
  if (!Number.isFinite(x)) {
    problems.push(`${f}: not a number (${JSON.stringify(v)})`);
    return null;
  }
  return x;
}

function reqInt(raw: Raw, f: string, problems: string[]): number {
  if (raw[f] === undefined) {
    problems.push(`${f}: missing`);
    return 0;
  }
  const x = optNum(raw, f, problems);
  if (x !== null && !Number.isInteger(x)) problems.push(`${f}: not a whole number`);
  return x ?? 0;
}

function flag(raw: Raw, f: string, problems: string[]): boolean {
  const v = raw[f];
  if (v !== undefined && v !== '0' && v !== '1') problems.push(`${f}: expected 0 or 1`);
  return v === '1';
}

function oneOf<T extends string>(raw: Raw, f: string, set: ReadonlySet<string>, required: boolean, problems: string[]): T | null {
  const v = raw[f];
  if (v === undefined || v === '') {
    if (required) problems.push(`${f}: missing`);
    return null;
  }
  if (!set.has(v)) {
    problems.push(`${f}: unknown value ${JSON.stringify(v)}`);
    return null;
  }
  return v as T;
}

/**
 * Decodes an attempt record of text fields (the layout before the compact
 * one, `ver` among them), field by field. Throws naming every damaged field.
 */
export function decodeStoredAttempt(id: string, raw: Raw): StoredAttempt {
  const { ver, ...fields } = raw;
  return decodeAttemptFields(id, fields, ver);
}

/** Decodes fields as text (the layout before the compact one) with the version stored beside them. */
export function decodeAttemptFields(id: string, raw: Raw, version: string | undefined): StoredAttempt {
  const problems: string[] = [];
  const a: StoredAttempt = {
    id,
    packed: [],
    stored: raw,
    cid: reqStr(raw, 'cid', problems),
    idx: reqInt(raw, 'idx', problems),
    n: reqInt(raw, 'n', problems),
    family: oneOf<ProviderFamily>(raw, 'family', FAMILIES, true, problems) ?? 'sipcall',
    number: reqStr(raw, 'number', problems),
    state: oneOf<AttemptState>(raw, 'state', STATES, true, problems) ?? 'queued',
    outcome: oneOf<AttemptOutcome>(raw, 'outcome', OUTCOMES, false, problems),
    late: flag(raw, 'late', problems),
    inDoubt: flag(raw, 'inDoubt', problems),
    ver: reqInt(version === undefined ? {} : { ver: version }, 'ver', problems),
    dialingAt: optNum(raw, 'dialingAt', problems),
    acceptedAt: optNum(raw, 'acceptedAt', problems),
    ringingAt: optNum(raw, 'ringingAt', problems),
    answeredAt: optStr(raw, 'answeredAt'),
    endedAt: optStr(raw, 'endedAt'),
    finalAt: optNum(raw, 'finalAt', problems),
    deadline: optNum(raw, 'deadline', problems),
    billsec: optNum(raw, 'billsec', problems),
    hangupcause: optStr(raw, 'hangupcause'),
    hangupdirection: optStr(raw, 'hangupdirection'),
    userkey: optStr(raw, 'userkey'),
    providerCallId: optStr(raw, 'providerCallId'),
    callUuid: optStr(raw, 'callUuid'),
    dialKind: oneOf<DialKind>(raw, 'dialKind', DIAL_KIND_SET, false, problems),
    answerSeenAt: optNum(raw, 'answerSeenAt', problems),
    hangupAt: optNum(raw, 'hangupAt', problems),
    correctedAt: optNum(raw, 'correctedAt', problems),
    correctedFrom: oneOf<AttemptOutcome>(raw, 'correctedFrom', OUTCOMES, false, problems),
    resultSource: optStr(raw, 'resultSource'),
    error: optStr(raw, 'error'),
    duplicates: optNum(raw, 'duplicates', problems),
    conflicts: optNum(raw, 'conflicts', problems),
    callbackId: optStr(raw, 'callbackId'),
  };
  if (problems.length > 0) throw new AttemptStoreError(`attempt ${id} record is damaged: ${problems.join('; ')}`);
  // Its next write is compact: the fields are packed now (they were all checked above).
  a.packed = packAttemptFields(null, raw);
  return a;
}

/** A record written with these fields first (no base), decoded: what a first commit leaves in Redis, without a read. */
export function createdAttempt(id: string, fields: AttemptFields): StoredAttempt {
  return decodePackedAttempt(id, packAttemptFields(null, fields), '1');
}

const VALUE = /^(\d+)\|/;

/** Decodes a stored attempt value (compact, or JSON text as written before); throws naming what is damaged. */
export function decodeAttemptValue(id: string, value: string): StoredAttempt {
  const m = VALUE.exec(value);
  if (!m) throw new AttemptStoreError(`attempt ${id} record is damaged: no version before its fields`);
  const at = m[0].length;
  if (value[at] === COMPACT_TAG) {
    const codesEnd = at + 1 + FIRST_TEXT;
    if (value.length < codesEnd) throw new AttemptStoreError(`attempt ${id} record is damaged: its codes are cut short`);
    const rest = value.slice(codesEnd).split('|');
    if (rest.length > POSITIONS - FIRST_TEXT) throw new AttemptStoreError(`attempt ${id} record is damaged: ${rest.length} positions, the layout has ${POSITIONS - FIRST_TEXT}`);
    const packed = new Array<string>(POSITIONS);
    for (let i = 0; i < FIRST_TEXT; i++) packed[i] = value[at + 1 + i]!;
    for (let i = 0; i < POSITIONS - FIRST_TEXT; i++) packed[FIRST_TEXT + i] = rest[i] ?? '';
    return decodePackedAttempt(id, packed, m[1]!);
  }
  return decodeJsonValue(id, value.slice(at), m[1]!);
}

/** A record written before the compact layout: `<ver>|<JSON object of text fields>`. */
function decodeJsonValue(id: string, json: string, version: string): StoredAttempt {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new AttemptStoreError(`attempt ${id} record is damaged: its fields are not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AttemptStoreError(`attempt ${id} record is damaged: its fields are not an object`);
  const fields = parsed as Record<string, unknown>;
  for (const key in fields) {
    if (typeof fields[key] !== 'string') throw new AttemptStoreError(`attempt ${id} record is damaged: ${key}: not text`);
  }
  return decodeAttemptFields(id, fields as Raw, version);
}


