/**
 * Results export, streamed: one row per contact, its original CSV columns
 * followed by its result.
 */
import { RESULT_COLUMNS, originalColumns, resultCells } from './result.js';
import { campaignRecord, contactPages, type ReportDeps } from './contact-pages.js';

export { RESULT_COLUMNS };

export type ExportFormat = 'csv' | 'jsonl';

export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Yields the export line by line (with the header line first for CSV). */
export async function* exportResults(
  deps: ReportDeps,
  campaignId: string,
  format: ExportFormat,
  pageSize = 500,
): AsyncGenerator<string> {
  const c = await campaignRecord(deps, campaignId);
  const header = c.header;
  // Result column names that clash with the list's own columns get a prefix.
  const taken = new Set(header);
  const names = RESULT_COLUMNS.map((n) => (taken.has(n) ? `result_${n}` : n));
  if (format === 'csv') yield `${[...header, ...names].map(csvCell).join(',')}\n`;
  for await (const page of contactPages(deps, c, pageSize, { result: true })) {
    for (const p of page) {
      const { cells: cols, extra } = originalColumns(header, p.values);
      const result = resultCells(p.result!);
      if (format === 'csv') {
        yield `${[...cols, ...RESULT_COLUMNS.map((n) => result[n]), ...extra].map(csvCell).join(',')}\n`;
      } else {
        const obj: Record<string, string | number | string[]> = { line: p.line };
        header.forEach((h, j) => (obj[h] = cols[j] ?? ''));
        if (extra.length > 0) obj._extra = extra;
        RESULT_COLUMNS.forEach((n, j) => (obj[names[j]!] = result[n]));
        yield `${JSON.stringify(obj)}\n`;
      }
    }
  }
}
