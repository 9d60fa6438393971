/**
 * The compact attempt record (the layout of attempt-layout.ts): fields
 * packed over a stored record, the stored value, and the record read back
 * field by field, by hand, because it runs for every dial answer and every
 * result.
 */
import { parseAttemptId } from './ids.js';
import {
  asText,
  AttemptStoreError,
  BASE,
  COMPACT_TAG,
  DECODE_CODES,
  EXTRAS,
  fromBase36,
  FIRST_TEXT,
  FROM_ID,
  pack,
  POSITIONS,
  SLOT_OF,
  SLOTS,
  toBase36,
  unpackNumber,
  unpackText,
  type DialKind,
} from './attempt-layout.js';
import { ATTEMPT_STATES, type AttemptOutcome, type AttemptState, type ProviderFamily } from '../domain/types.js';
import type { AttemptFields, PackedAttempt, StoredAttempt } from './attempt-record.js';

const STATES: ReadonlySet<string> = new Set(ATTEMPT_STATES);
const EMPTY: PackedAttempt = Array.from({ length: POSITIONS }, (_, pos) => (pos < FIRST_TEXT ? '-' : ''));

/** Time fields, the one a record's base time is taken from first. */
const TIME_FIELDS = SLOTS.filter((s) => s.kind === 'time').map((s) => s.field);

/** The base time of a record first written with these fields: its first whole-millisecond time. */
function firstTime(fields: AttemptFields): number | null {
  for (const f of TIME_FIELDS) {
    const v = fields[f];
    if (v === null || v === undefined || v === '' || typeof v === 'boolean') continue;
    const x = typeof v === 'number' ? v : Number(v);
    if (Number.isSafeInteger(x)) return x;
  }
  return null;
}

function extrasOf(text: string): Record<string, string> {
  if (text === '') return {};
  const v: unknown = JSON.parse(text);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, string>) : {};
}

/**
 * The stored fields of `base` with `fields` written over them (null: not
 * written): only the positions of those fields are packed, the others are
 * kept as they are. Throws when a value cannot be stored (an unknown
 * state, outcome, family or dial kind).
 */
export function packAttemptFields(base: PackedAttempt | null, fields: AttemptFields): string[] {
  const out = (base ?? EMPTY).slice();
  let t: number | null = out[BASE] === '' || out[BASE] === undefined ? null : fromBase36(out[BASE]);
  if (t === null) {
    t = firstTime(fields);
    if (t !== null) out[BASE] = toBase36(t);
  }
  let extras: Record<string, string> | null = null;
  for (const key in fields) {
    const v = fields[key];
    if (v === null || v === undefined) continue;
    const slot = SLOT_OF[key];
    if (slot !== undefined) {
      try {
        out[slot.pos] = pack(slot, v, t);
      } catch (err) {
        throw new AttemptStoreError(`attempt record: ${(err as Error).message}`);
      }
    } else if (!FROM_ID.has(key)) {
      extras ??= extrasOf(out[EXTRAS] ?? '');
      extras[key] = asText(v);
    }
  }
  if (extras !== null) out[EXTRAS] = JSON.stringify(extras).replace(/\|/g, '\\u007c');
  return out;
}

/** The stored value of an attempt: its version, then its fields in the compact layout (trailing empty positions left out). */
export function encodeAttemptValue(ver: number, packed: PackedAttempt): string {
  let last = packed.length - 1;
  while (last >= FIRST_TEXT && packed[last] === '') last--;
  let s = `${ver}|${COMPACT_TAG}${packed[0]}${packed[1]}${packed[2]}${packed[3]}${packed[4]}${packed[5]}${packed[6]}`;
  for (let i = FIRST_TEXT; i <= last; i++) s += i === FIRST_TEXT ? packed[i] : `|${packed[i]}`;
  return s;
}

/** A record's fields as text, by name, as the record of JSON text held them (the attempt id's parts included). */
export function textFields(id: string, packed: PackedAttempt): Record<string, string> {
  const ref = parseAttemptId(id);
  const out: Record<string, string> = ref ? { cid: ref.campaignId, idx: String(ref.contact), n: String(ref.attempt) } : {};
  const base = packed[BASE] === '' ? null : fromBase36(packed[BASE]!);
  for (const slot of SLOTS) {
    const s = packed[slot.pos] ?? '';
    if (slot.field === '' || s === '' || s === '-') continue;
    if (slot.pos < FIRST_TEXT) out[slot.field] = DECODE_CODES[slot.pos]![s] ?? s;
    else if (slot.kind === 'time' && s.charCodeAt(0) !== 34) out[slot.field] = String(unpackNumber(slot, s, base) ?? '');
    else out[slot.field] = unpackText(slot, s, base) ?? '';
  }
  return Object.assign(out, extrasOf(packed[EXTRAS] ?? ''));
}

/** A code position read back (null: none); an unknown code, or a missing required one, is a problem. */
function codeAt(packed: PackedAttempt, pos: number, required: boolean, problems: string[]): string | null {
  const c = packed[pos]!;
  if (c === '-') {
    if (required) problems.push(`${SLOTS[pos]!.field}: missing`);
    return null;
  }
  const v = DECODE_CODES[pos]![c];
  if (v === undefined) problems.push(`${SLOTS[pos]!.field}: unknown code ${JSON.stringify(c)}`);
  return v ?? null;
}

function numberAt(packed: PackedAttempt, pos: number, base: number | null, problems: string[]): number | null {
  try {
    return unpackNumber(SLOTS[pos]!, packed[pos]!, base);
  } catch (err) {
    problems.push((err as Error).message);
    return null;
  }
}

function textAt(packed: PackedAttempt, pos: number, base: number | null, problems: string[]): string | null {
  try {
    return unpackText(SLOTS[pos]!, packed[pos]!, base);
  } catch (err) {
    problems.push((err as Error).message);
    return null;
  }
}

/**
 * A compact record read back: its fields, and (on its prototype, computed
 * when asked for) the same fields as text. A class, not an object literal
 * with a getter: one shape for every record read, made without closures.
 */
class CompactAttempt implements StoredAttempt {
  readonly id: string;
  readonly packed: PackedAttempt;
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

  constructor(id: string, packed: PackedAttempt, version: string, problems: string[]) {
    const ref = parseAttemptId(id);
    if (!ref) problems.push('its key is not an attempt id (campaign, contact and attempt number come from it)');
    let base: number | null = null;
    if (packed[BASE] !== '') {
      base = fromBase36(packed[BASE]!);
      if (!Number.isSafeInteger(base)) {
        problems.push(`base time: not a whole number (${JSON.stringify(packed[BASE])})`);
        base = null;
      }
    }
    const state = codeAt(packed, 0, true, problems);
    this.id = id;
    this.packed = packed;
    this.cid = ref?.campaignId ?? '';
    this.idx = ref?.contact ?? 0;
    this.n = ref?.attempt ?? 0;
    this.state = (state !== null && STATES.has(state) ? state : 'queued') as AttemptState;
    this.outcome = codeAt(packed, 1, false, problems) as AttemptOutcome | null;
    this.family = (codeAt(packed, 2, true, problems) ?? 'sipcall') as ProviderFamily;
    this.dialKind = codeAt(packed, 3, false, problems) as DialKind | null;
    this.correctedFrom = codeAt(packed, 4, false, problems) as AttemptOutcome | null;
    codeAt(packed, 5, false, problems);
    codeAt(packed, 6, false, problems);
    this.late = packed[5] === '1';
    this.inDoubt = packed[6] === '1';
    const number = textAt(packed, 7, base, problems);
    if (number === null) problems.push('number: missing');
    this.number = number ?? '';
    this.ver = Number(version);
    this.dialingAt = numberAt(packed, 9, base, problems);
    this.deadline = numberAt(packed, 10, base, problems);
    this.acceptedAt = numberAt(packed, 11, base, problems);
    this.ringingAt = numberAt(packed, 12, base, problems);
    this.answerSeenAt = numberAt(packed, 13, base, problems);
    this.hangupAt = numberAt(packed, 14, base, problems);
    this.finalAt = numberAt(packed, 15, base, problems);
    this.resultSource = textAt(packed, 16, base, problems);
    this.duplicates = numberAt(packed, 17, base, problems);
    this.conflicts = numberAt(packed, 18, base, problems);
    this.billsec = numberAt(packed, 19, base, problems);
    this.answeredAt = textAt(packed, 20, base, problems);
    this.endedAt = textAt(packed, 21, base, problems);
    this.hangupcause = textAt(packed, 22, base, problems);
    this.hangupdirection = textAt(packed, 23, base, problems);
    this.userkey = textAt(packed, 24, base, problems);
    this.callUuid = textAt(packed, 25, base, problems);
    this.callbackId = textAt(packed, 26, base, problems);
    this.providerCallId = textAt(packed, 27, base, problems);
    this.error = textAt(packed, 28, base, problems);
    this.correctedAt = numberAt(packed, 29, base, problems);
    if (packed[EXTRAS] !== '') {
      try {
        const v: unknown = JSON.parse(packed[EXTRAS]!);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) problems.push('extra fields: not an object');
      } catch {
        problems.push('extra fields: not JSON');
      }
    }
  }

  get stored(): Readonly<Record<string, string>> {
    return textFields(this.id, this.packed);
  }
}

/** Decodes a record's positions (kept, not copied) with its version. Throws naming every damaged field. */
export function decodePackedAttempt(id: string, packed: PackedAttempt, version: string): StoredAttempt {
  const problems: string[] = [];
  const a = new CompactAttempt(id, packed, version, problems);
  if (problems.length > 0) throw new AttemptStoreError(`attempt ${id} record is damaged: ${problems.join('; ')}`);
  return a;
}
