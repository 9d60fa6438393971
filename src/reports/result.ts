/**
 * What one contact came to, read from its state and its last attempt: the
 * result columns of the export and the body of an outbound notification
 * share this one mapping.
 */
import type { ContactStatus } from '../domain/types.js';
import type { ContactState } from '../store/contacts.js';
import type { StoredAttempt } from '../store/attempts.js';

export const RESULT_COLUMNS = [
  'status',
  'attempts',
  'customuuid',
  'provider_call_id',
  'billsec',
  'userkey',
  'answered_at',
  'ended_at',
  'hangupcause',
  'error',
] as const;

export type ResultColumn = (typeof RESULT_COLUMNS)[number];

/** A contact's result, typed; null where there is nothing to say. */
export interface ContactResult {
  status: ContactStatus;
  /** Attempts that reached the provider. */
  attempts: number;
  customuuid: string | null;
  provider_call_id: string | null;
  billsec: number | null;
  userkey: string | null;
  answered_at: string | null;
  ended_at: string | null;
  hangupcause: string | null;
  error: string | null;
  /** A result that arrived after the contact had been given one (and corrected it). */
  late: boolean;
}

export function contactResult(state: ContactState, last: StoredAttempt | null): ContactResult {
  return {
    status: state.s,
    attempts: state.p,
    customuuid: last?.id ?? null,
    provider_call_id: last ? (last.providerCallId ?? last.callUuid ?? null) : null,
    billsec: last?.billsec ?? null,
    userkey: last?.userkey ?? null,
    answered_at: last?.answeredAt ?? null,
    ended_at: last?.endedAt ?? null,
    hangupcause: last?.hangupcause ?? null,
    error: state.e ?? last?.error ?? null,
    late: state.late === true || last?.late === true,
  };
}

/** The result as export cells: strings, empty where null. */
export function resultCells(r: ContactResult): Record<ResultColumn, string> {
  const out = {} as Record<ResultColumn, string>;
  for (const name of RESULT_COLUMNS) {
    const v = r[name];
    out[name] = v === null ? '' : String(v);
  }
  return out;
}

/**
 * A row's original values against the campaign's header: the values by
 * column (missing ones empty) and what the row held beyond the header.
 */
export function originalColumns(header: readonly string[], values: readonly string[]): { cells: string[]; extra: string[] } {
  if (header.length === 0) return { cells: [...values], extra: [] };
  return {
    cells: header.map((_, j) => values[j] ?? ''),
    extra: values.length > header.length ? values.slice(header.length) : [],
  };
}
