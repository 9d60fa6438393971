/**
 * Rejects report, streamed: every row of a campaign's lists that was not
 * dialed because of what it holds (an invalid row, a number already on an
 * earlier line, a number on a do-not-call list), with its line number, the
 * reason, and its original columns, so the list can be fixed and uploaded
 * again (numbers already in the campaign are not added twice).
 */
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { ContactStatus } from '../domain/types.js';
import { csvCell, type ExportFormat } from './export.js';
import { originalColumns } from './result.js';

export const REJECT_STATUSES = ['invalid', 'duplicate', 'dnc'] as const satisfies readonly ContactStatus[];

const REJECT_COLUMNS = ['line', 'status', 'reason'] as const;

const isReject = (s: ContactStatus): boolean => (REJECT_STATUSES as readonly ContactStatus[]).includes(s);

/** The reason without the "line N: " the reader puts first (the line has a column of its own). */
export function rejectReason(message: string | undefined): string {
  return (message ?? '').replace(/^line \d+: /, '');
}

/** Yields the report line by line (with the header line first for CSV). */
export async function* exportRejects(
  deps: { campaigns: CampaignStore; contacts: ContactStore },
  campaignId: string,
  format: ExportFormat,
  pageSize = 1000,
): AsyncGenerator<string> {
  const c = await deps.campaigns.require(campaignId);
  const header = c.header;
  // Report column names that clash with the list's own columns get a prefix.
  const taken = new Set(header);
  const [lineCol, statusCol, reasonCol] = REJECT_COLUMNS.map((n) => (taken.has(n) ? `reject_${n}` : n)) as [string, string, string];
  if (format === 'csv') yield `${[lineCol, statusCol, reasonCol, ...header].map(csvCell).join(',')}\n`;
  for (let from = 0; from < c.total; from += pageSize) {
    const page = await deps.contacts.range(campaignId, from, Math.min(pageSize, c.total - from));
    for (const p of page) {
      if (!isReject(p.state.s)) continue;
      const line = p.row?.l ?? 0;
      const reason = rejectReason(p.state.e);
      const { cells, extra } = originalColumns(header, p.row?.v ?? []);
      if (format === 'csv') {
        yield `${[String(line), p.state.s, reason, ...cells, ...extra].map(csvCell).join(',')}\n`;
      } else {
        const obj: Record<string, string | number | string[]> = { [lineCol]: line, [statusCol]: p.state.s, [reasonCol]: reason };
        header.forEach((h, j) => (obj[h] = cells[j] ?? ''));
        if (extra.length > 0) obj._extra = extra;
        yield `${JSON.stringify(obj)}\n`;
      }
    }
  }
}
