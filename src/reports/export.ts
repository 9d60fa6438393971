/**
 * Results export, streamed: one row per contact, its original CSV columns
 * followed by its result.
 */
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { AttemptStore, StoredAttempt } from '../store/attempts.js';

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

export type ExportFormat = 'csv' | 'jsonl';

export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function resultOf(status: string, attempts: number, last: StoredAttempt | null, error: string | undefined): Record<(typeof RESULT_COLUMNS)[number], string> {
  return {
    status,
    attempts: String(attempts),
    customuuid: last?.id ?? '',
    provider_call_id: last ? (last.providerCallId ?? last.callUuid ?? '') : '',
    billsec: last?.billsec !== null && last?.billsec !== undefined ? String(last.billsec) : '',
    userkey: last?.userkey ?? '',
    answered_at: last?.answeredAt ?? '',
    ended_at: last?.endedAt ?? '',
    hangupcause: last?.hangupcause ?? '',
    error: error ?? last?.error ?? '',
  };
}

/** Yields the export line by line (with the header line first for CSV). */
export async function* exportResults(
  deps: { campaigns: CampaignStore; contacts: ContactStore; attempts: AttemptStore },
  campaignId: string,
  format: ExportFormat,
  pageSize = 500,
): AsyncGenerator<string> {
  const c = await deps.campaigns.require(campaignId);
  const header = c.header;
  // Result column names that clash with the list's own columns get a prefix.
  const taken = new Set(header);
  const names = RESULT_COLUMNS.map((n) => (taken.has(n) ? `result_${n}` : n));
  if (format === 'csv') yield `${[...header, ...names].map(csvCell).join(',')}\n`;
  for (let from = 0; from < c.total; from += pageSize) {
    const page = await deps.contacts.range(campaignId, from, Math.min(pageSize, c.total - from));
    const lasts = await Promise.all(page.map((p) => (p.state.a ? deps.attempts.get(p.state.a) : Promise.resolve(null))));
    for (let i = 0; i < page.length; i++) {
      const p = page[i]!;
      const values = p.row?.v ?? [];
      const cols = header.length > 0 ? header.map((_, j) => values[j] ?? '') : values;
      const extra = values.length > header.length && header.length > 0 ? values.slice(header.length) : [];
      const result = resultOf(p.state.s, p.state.p, lasts[i] ?? null, p.state.e);
      if (format === 'csv') {
        yield `${[...cols, ...RESULT_COLUMNS.map((n) => result[n]), ...extra].map(csvCell).join(',')}\n`;
      } else {
        const obj: Record<string, string | number | string[]> = { line: p.row?.l ?? 0 };
        header.forEach((h, j) => (obj[h] = cols[j] ?? ''));
        if (extra.length > 0) obj._extra = extra;
        RESULT_COLUMNS.forEach((n, j) => (obj[names[j]!] = result[n]));
        yield `${JSON.stringify(obj)}\n`;
      }
    }
  }
}
