/**
 * An attempt record as stored (one Redis string per attempt, keyed by its
 * customuuid: `<version>|<JSON object of text fields>`) and its decoder:
 * checked field by field, by hand, because it runs for every dial answer and
 * every result. One string, not a hash of fields: a read or a write is one
 * value, not thirty.
 */
import {
  ATTEMPT_OUTCOMES,
  ATTEMPT_STATES,
  PROVIDER_FAMILIES,
  type AttemptOutcome,
  type AttemptState,
  type ProviderFamily,
} from '../domain/types.js';

const STATES: ReadonlySet<string> = new Set(ATTEMPT_STATES);
const OUTCOMES: ReadonlySet<string> = new Set(ATTEMPT_OUTCOMES);
const FAMILIES: ReadonlySet<string> = new Set(PROVIDER_FAMILIES);
const DIAL_KINDS = ['accepted', 'rejected', 'fatal', 'not_sent', 'transient', 'in_doubt'] as const;
const DIAL_KIND_SET: ReadonlySet<string> = new Set(DIAL_KINDS);

/** An attempt record as stored, decoded. */
export interface StoredAttempt {
  id: string;
  /** The fields as stored (text, without the version): what the next commit writes over. */
  stored: Readonly<Record<string, string>>;
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
  dialKind: (typeof DIAL_KINDS)[number] | null;
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
 * Decodes an attempt record read from Redis (its fields as text), field by field (a hand-written
 * check: it runs for every result and dial answer). Throws naming every
 * damaged field.
 */
export function decodeStoredAttempt(id: string, raw: Raw): StoredAttempt {
  const { ver, ...fields } = raw;
  return decodeAttemptFields(id, fields, ver);
}

/** Decodes the stored fields (kept as they are, not copied) with the version stored beside them. */
export function decodeAttemptFields(id: string, raw: Raw, version: string | undefined): StoredAttempt {
  const problems: string[] = [];
  const a: StoredAttempt = {
    id,
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
    dialKind: oneOf<(typeof DIAL_KINDS)[number]>(raw, 'dialKind', DIAL_KIND_SET, false, problems),
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
  return a;
}

/** The stored value of an attempt: its version, then its fields as a JSON object of text. */
export function encodeAttemptValue(ver: number, fields: Readonly<Record<string, string>>): string {
  return `${ver}|${JSON.stringify(fields)}`;
}

const VALUE = /^(\d+)\|/;

/** Decodes a stored attempt value; throws naming what is damaged. */
export function decodeAttemptValue(id: string, value: string): StoredAttempt {
  const m = VALUE.exec(value);
  if (!m) throw new AttemptStoreError(`attempt ${id} record is damaged: no version before its fields`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.slice(m[0].length));
  } catch (err) {
    throw new AttemptStoreError(`attempt ${id} record is damaged: its fields are not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AttemptStoreError(`attempt ${id} record is damaged: its fields are not an object`);
  const fields = parsed as Record<string, unknown>;
  for (const key in fields) {
    if (typeof fields[key] !== 'string') throw new AttemptStoreError(`attempt ${id} record is damaged: ${key}: not text`);
  }
  return decodeAttemptFields(id, fields as Raw, m[1]);
}

export class AttemptStoreError extends Error {
  readonly code = 'ERR_ATTEMPT_STORE';
}
