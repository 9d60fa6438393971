/**
 * Rejects report, streamed: every row of a campaign's lists that was not
 * dialed because of what it holds (an invalid row, a number already on an
 * earlier line, a number on a do-not-call list), with its line number, the
 * reason, and its original columns, so the list can be fixed and uploaded
 * again (numbers already in the campaign are not added twice).
 */
import type { ContactStatus } from '../domain/types.js';
import { csvCell, type ExportFormat } from './export.js';
import { originalColumns } from './result.js';
import { campaignRecord, contactPages, type ReportDeps } from './contact-pages.js';

export const REJECT_STATUSES = ['invalid', 'duplicate', 'dnc'] as const satisfies readonly ContactStatus[];

const REJECT_COLUMNS = ['line', 'status', 'reason'] as const;

const isReject = (s: ContactStatus): boolean => (REJECT_STATUSES as readonly ContactStatus[]).includes(s);

/** The reason without the "line N: " the reader puts first (the line has a column of its own). */
export function rejectReason(message: string | undefined): string {
  return (message ?? '').replace(/^line \d+: /, '');
}

/** Yields the report line by line (with the header line first for CSV). */
export async function* exportRejects(
  deps: ReportDeps,
  campaignId: string,
  format: ExportFormat,
  pageSize = 1000,
): AsyncGenerator<string> {
  const c = await campaignRecord(deps, campaignId);
  const header = c.header;
  // Report column names that clash with the list's own columns get a prefix.
  const taken = new Set(header);
  const [lineCol, statusCol, reasonCol] = REJECT_COLUMNS.map((n) => (taken.has(n) ? `reject_${n}` : n)) as [string, string, string];
  if (format === 'csv') yield `${[lineCol, statusCol, reasonCol, ...header].map(csvCell).join(',')}\n`;
  for await (const page of contactPages(deps, c, pageSize, {})) {
    for (const p of page) {
      if (!isReject(p.status)) continue;
      const reason = rejectReason(p.reason);
      const { cells, extra } = originalColumns(header, p.values);
      if (format === 'csv') {
        yield `${[String(p.line), p.status, reason, ...cells, ...extra].map(csvCell).join(',')}\n`;
      } else {
        const obj: Record<string, string | number | string[]> = { [lineCol]: p.line, [statusCol]: p.status, [reasonCol]: reason };
        header.forEach((h, j) => (obj[h] = cells[j] ?? ''));
        if (extra.length > 0) obj._extra = extra;
        yield `${JSON.stringify(obj)}\n`;
      }
    }
  }
}
