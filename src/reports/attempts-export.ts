/**
 * Attempts export, streamed: one row per attempt (one dial of one contact).
 */
import type { AttemptFacts } from '../history/records.js';
import { csvCell, type ExportFormat } from './export.js';
import { campaignRecord, contactPages, type ReportDeps } from './contact-pages.js';

export const ATTEMPT_COLUMNS = [
  'campaign_id',
  'contact_line',
  'customuuid',
  'attempt',
  'number',
  'state',
  'outcome',
  'dial_result',
  'dialing_at',
  'accepted_at',
  'final_at',
  'result_source',
  'late',
  'billsec',
  'userkey',
  'answered_at',
  'ended_at',
  'hangupcause',
  'hangupdirection',
  'provider_call_id',
  'call_uuid',
  'duplicates',
  'error',
] as const;

const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString());

function attemptRow(a: AttemptFacts, line: number): Record<(typeof ATTEMPT_COLUMNS)[number], string> {
  return {
    campaign_id: a.cid,
    contact_line: String(line),
    customuuid: a.id,
    attempt: String(a.n),
    number: a.number,
    state: a.state,
    outcome: a.outcome ?? '',
    dial_result: a.dialKind ?? '',
    dialing_at: iso(a.dialingAt),
    accepted_at: iso(a.acceptedAt),
    final_at: iso(a.finalAt),
    result_source: a.resultSource ?? '',
    late: a.late ? 'true' : 'false',
    billsec: a.billsec === null ? '' : String(a.billsec),
    userkey: a.userkey ?? '',
    answered_at: a.answeredAt ?? '',
    ended_at: a.endedAt ?? '',
    hangupcause: a.hangupcause ?? '',
    hangupdirection: a.hangupdirection ?? '',
    provider_call_id: a.providerCallId ?? '',
    call_uuid: a.callUuid ?? '',
    duplicates: String(a.duplicates ?? 0),
    error: a.error ?? '',
  };
}

/** Yields the attempts export line by line, contact by contact, attempt by attempt. */
export async function* exportAttempts(deps: ReportDeps, campaignId: string, format: ExportFormat, pageSize = 500): AsyncGenerator<string> {
  const c = await campaignRecord(deps, campaignId);
  if (format === 'csv') yield `${ATTEMPT_COLUMNS.join(',')}\n`;
  for await (const page of contactPages(deps, c, pageSize, { attempts: true })) {
    for (const p of page) {
      for (const a of p.attempts) {
        const row = attemptRow(a, p.line);
        yield format === 'csv' ? `${ATTEMPT_COLUMNS.map((k) => csvCell(row[k])).join(',')}\n` : `${JSON.stringify(row)}\n`;
      }
    }
  }
}
