/**
 * Results export, streamed: one row per contact, its original CSV columns
 * followed by its result.
 */
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { AttemptStore } from '../store/attempts.js';
import { RESULT_COLUMNS, contactResult, originalColumns, resultCells } from './result.js';

export { RESULT_COLUMNS };

export type ExportFormat = 'csv' | 'jsonl';

export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
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
      const { cells: cols, extra } = originalColumns(header, p.row?.v ?? []);
      const result = resultCells(contactResult(p.state, lasts[i] ?? null));
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
