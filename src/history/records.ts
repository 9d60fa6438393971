/**
 * What the history store keeps, and how it is made from what Redis holds:
 * a contact (its row, its state and its last attempt give its result, as
 * the export writes it), an attempt (decoded by the attempt store), a raw
 * callback with its settlement, and a campaign with its summary.
 */
import { RESULT_COLUMNS } from '../reports/result.js';
import type { ContactRow, ContactState } from '../store/contacts.js';
import type { StoredAttempt } from '../store/attempts.js';
import type { CampaignRecord, StatusCounts } from '../store/campaigns.js';
import type { CallbackCounter, RecordedResult, StoredCallback } from '../store/callback-log.js';
import type { NotificationCounts } from '../notify/deliveries.js';
import type { PaceLimits } from '../pacing/types.js';
import type { ContactStatus } from '../domain/types.js';
import { contactResult, type ContactResult } from '../reports/result.js';
import { CopyWriter, copyBytes, copyLine, type CopyRows } from './copy.js';
import { isoOfMs } from '../infra/iso-time.js';

/** The attempt fields the history keeps (and the exports write). */
export type AttemptFacts = Pick<
  StoredAttempt,
  | 'id'
  | 'cid'
  | 'idx'
  | 'n'
  | 'family'
  | 'number'
  | 'state'
  | 'outcome'
  | 'late'
  | 'inDoubt'
  | 'ver'
  | 'dialingAt'
  | 'acceptedAt'
  | 'ringingAt'
  | 'answeredAt'
  | 'endedAt'
  | 'finalAt'
  | 'billsec'
  | 'hangupcause'
  | 'hangupdirection'
  | 'userkey'
  | 'providerCallId'
  | 'callUuid'
  | 'dialKind'
  | 'resultSource'
  | 'error'
  | 'duplicates'
  | 'conflicts'
  | 'correctedFrom'
  | 'callbackId'
>;

export interface ArchivedAttempt extends AttemptFacts {
  /** The contact's number as DNC lists and frequency caps key it (E.164), when known. */
  e164: string | null;
}

export interface ArchivedContact {
  campaignId: string;
  idx: number;
  line: number;
  number: string | null;
  e164: string | null;
  zone: string | null;
  /** The list's original cells. */
  columns: string[];
  custom: Record<string, string> | null;
  result: ContactResult;
  /** Dials made: its attempts are numbered 1..dials. */
  dials: number;
  /** The contact's own message (why it was rejected, expired, …). */
  reason: string | null;
}

export interface CampaignSummary {
  counts: StatusCounts;
  final: number;
  stats: Record<string, number>;
  callbacks: Record<CallbackCounter, number>;
  notifications: NotificationCounts;
  limits: PaceLimits;
}

export interface ArchivedCampaign {
  record: CampaignRecord;
  summary: CampaignSummary;
  archivedAt: number | null;
  purgedAt: number | null;
}

export interface ArchivedCallback {
  id: string;
  kind: string;
  receivedAt: number;
  remoteIp: string;
  contentType: string;
  /** As received (bytes as Redis keeps them, or text). */
  body: string | Buffer;
  /** What it turned out to be; null: never settled. */
  settlement: RecordedResult | null;
}

export function archivedContact(campaignId: string, idx: number, row: ContactRow | null, state: ContactState, last: StoredAttempt | null): ArchivedContact {
  return {
    campaignId,
    idx,
    line: row?.l ?? 0,
    number: row?.d ?? null,
    e164: row?.e ?? null,
    zone: row?.z ?? null,
    columns: row?.v ?? [],
    custom: row?.c && Object.keys(row.c).length > 0 ? row.c : null,
    result: contactResult(state, last),
    dials: state.n,
    reason: state.e ?? null,
  };
}

export function archivedAttempt(a: StoredAttempt, e164: string | null): ArchivedAttempt {
  return {
    id: a.id,
    cid: a.cid,
    idx: a.idx,
    n: a.n,
    family: a.family,
    number: a.number,
    state: a.state,
    outcome: a.outcome,
    late: a.late,
    inDoubt: a.inDoubt,
    ver: a.ver,
    dialingAt: a.dialingAt,
    acceptedAt: a.acceptedAt,
    ringingAt: a.ringingAt,
    answeredAt: a.answeredAt,
    endedAt: a.endedAt,
    finalAt: a.finalAt,
    billsec: a.billsec,
    hangupcause: a.hangupcause,
    hangupdirection: a.hangupdirection,
    userkey: a.userkey,
    providerCallId: a.providerCallId,
    callUuid: a.callUuid,
    dialKind: a.dialKind,
    resultSource: a.resultSource,
    error: a.error,
    duplicates: a.duplicates,
    conflicts: a.conflicts,
    correctedFrom: a.correctedFrom,
    callbackId: a.callbackId,
    e164,
  };
}

export function archivedCallback(cb: Omit<StoredCallback, 'body'> & { body: string | Buffer }, settlement: RecordedResult | null): ArchivedCallback {
  return { id: cb.id, kind: cb.kind, receivedAt: cb.receivedAt, remoteIp: cb.remoteIp, contentType: cb.contentType, body: cb.body, settlement };
}

/** Epoch ms as ISO 8601 text, as Date#toISOString writes it (infra/iso-time); null when not a time. */
export function isoText(ms: number | null): string | null {
  return ms === null || !Number.isFinite(ms) ? null : isoOfMs(ms);
}

export const CONTACT_COLUMNS = [
  'campaign_id',
  'idx',
  'line',
  'number',
  'e164',
  'zone',
  'columns',
  'custom',
  // The export's result columns, in its order.
  ...RESULT_COLUMNS,
  'late',
  'dials',
  'reason',
] as const;

export function contactLine(c: ArchivedContact): string {
  const r = c.result;
  return copyLine([
    c.campaignId,
    c.idx,
    c.line,
    c.number,
    c.e164,
    c.zone,
    JSON.stringify(c.columns),
    c.custom ? JSON.stringify(c.custom) : null,
    r.status,
    r.attempts,
    r.customuuid,
    r.provider_call_id,
    r.billsec,
    r.userkey,
    r.answered_at,
    r.ended_at,
    r.hangupcause,
    r.error,
    r.late,
    c.dials,
    c.reason,
  ]);
}

export const ATTEMPT_COLUMNS = [
  'id',
  'campaign_id',
  'contact_idx',
  'n',
  'family',
  'number',
  'e164',
  'state',
  'outcome',
  'dial_kind',
  'dialing_at',
  'accepted_at',
  'ringing_at',
  'final_at',
  'answered_at',
  'ended_at',
  'billsec',
  'userkey',
  'hangupcause',
  'hangupdirection',
  'provider_call_id',
  'call_uuid',
  'result_source',
  'late',
  'in_doubt',
  'duplicates',
  'conflicts',
  'corrected_from',
  'error',
  'callback_id',
  'ver',
] as const;

/** An attempt's line; `e164` is the contact's number as DNC lists and caps key it (an ArchivedAttempt's own). */
export function attemptLine(a: AttemptFacts, e164: string | null): string {
  return copyLine([
    a.id,
    a.cid,
    a.idx,
    a.n,
    a.family,
    a.number,
    e164,
    a.state,
    a.outcome,
    a.dialKind,
    isoText(a.dialingAt),
    isoText(a.acceptedAt),
    isoText(a.ringingAt),
    isoText(a.finalAt),
    a.answeredAt,
    a.endedAt,
    a.billsec,
    a.userkey,
    a.hangupcause,
    a.hangupdirection,
    a.providerCallId,
    a.callUuid,
    a.resultSource,
    a.late,
    a.inDoubt,
    a.duplicates,
    a.conflicts,
    a.correctedFrom,
    a.error,
    a.callbackId,
    a.ver,
  ]);
}

export const CALLBACK_COLUMNS = ['id', 'kind', 'received_at', 'remote_ip', 'content_type', 'body', 'counter', 'settled_as', 'attempt_id', 'campaign_id'] as const;

/** A callback's line into `w`; a body given as bytes stays bytes (it is not decoded and encoded again). */
export function writeCallback(w: CopyWriter, cb: ArchivedCallback): void {
  const s = cb.settlement;
  const settled = [s?.counter ?? null, s?.kind ?? null, s?.attemptId ?? null, s?.campaignId ?? null];
  if (typeof cb.body === 'string') return w.line(copyLine([cb.id, cb.kind, isoText(cb.receivedAt), cb.remoteIp, cb.contentType, cb.body, ...settled]));
  const head = copyLine([cb.id, cb.kind, isoText(cb.receivedAt), cb.remoteIp, cb.contentType]).slice(0, -1);
  w.lineWithBytes(`${head}\t`, copyBytes(cb.body), `\t${copyLine(settled)}`);
}

/** One callback's line as bytes. */
export function callbackLine(cb: ArchivedCallback): Buffer {
  const w = new CopyWriter();
  writeCallback(w, cb);
  return w.end().data[0]!;
}

/** Rows of each table as COPY text (keys unique: the caller keeps the last of each). */
export function contactRows(contacts: readonly ArchivedContact[]): CopyRows {
  const w = new CopyWriter();
  for (const c of contacts) w.line(contactLine(c));
  return w.end();
}

export function attemptRows(attempts: readonly ArchivedAttempt[]): CopyRows {
  const w = new CopyWriter();
  for (const a of attempts) w.line(attemptLine(a, a.e164));
  return w.end();
}

export function callbackRows(callbacks: readonly ArchivedCallback[]): CopyRows {
  const w = new CopyWriter();
  for (const cb of callbacks) writeCallback(w, cb);
  return w.end();
}

/** A row of the attempts table back as attempt facts (timestamps as epoch ms). */
export function attemptFromRow(r: Record<string, unknown>): ArchivedAttempt {
  const ms = (v: unknown): number | null => (v instanceof Date ? v.getTime() : null);
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  return {
    id: String(r.id),
    cid: String(r.campaign_id),
    idx: Number(r.contact_idx),
    n: Number(r.n),
    family: r.family as ArchivedAttempt['family'],
    number: String(r.number),
    e164: text(r.e164),
    state: r.state as ArchivedAttempt['state'],
    outcome: text(r.outcome) as ArchivedAttempt['outcome'],
    dialKind: text(r.dial_kind) as ArchivedAttempt['dialKind'],
    dialingAt: ms(r.dialing_at),
    acceptedAt: ms(r.accepted_at),
    ringingAt: ms(r.ringing_at),
    finalAt: ms(r.final_at),
    answeredAt: text(r.answered_at),
    endedAt: text(r.ended_at),
    billsec: num(r.billsec),
    userkey: text(r.userkey),
    hangupcause: text(r.hangupcause),
    hangupdirection: text(r.hangupdirection),
    providerCallId: text(r.provider_call_id),
    callUuid: text(r.call_uuid),
    resultSource: text(r.result_source),
    late: r.late === true,
    inDoubt: r.in_doubt === true,
    duplicates: num(r.duplicates),
    conflicts: num(r.conflicts),
    correctedFrom: text(r.corrected_from) as ArchivedAttempt['correctedFrom'],
    error: text(r.error),
    callbackId: text(r.callback_id),
    ver: Number(r.ver),
  };
}

/** A row of the contacts table back as an archived contact. */
export function contactFromRow(r: Record<string, unknown>): ArchivedContact {
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const columns = Array.isArray(r.columns) ? r.columns.map(String) : [];
  const custom = r.custom && typeof r.custom === 'object' ? (r.custom as Record<string, string>) : null;
  return {
    campaignId: String(r.campaign_id),
    idx: Number(r.idx),
    line: Number(r.line),
    number: text(r.number),
    e164: text(r.e164),
    zone: text(r.zone),
    columns,
    custom,
    result: {
      status: r.status as ContactStatus,
      attempts: Number(r.attempts),
      customuuid: text(r.customuuid),
      provider_call_id: text(r.provider_call_id),
      billsec: typeof r.billsec === 'number' ? r.billsec : null,
      userkey: text(r.userkey),
      answered_at: text(r.answered_at),
      ended_at: text(r.ended_at),
      hangupcause: text(r.hangupcause),
      error: text(r.error),
      late: r.late === true,
    },
    dials: Number(r.dials),
    reason: text(r.reason),
  };
}
