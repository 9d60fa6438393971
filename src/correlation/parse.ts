/**
 * From a stored body to the provider layer's ParsedCallback, or the reason it
 * cannot be read (naming the field). Pure; no Redis.
 */
import { parse as parseQuery } from 'node:querystring';
import { CallbackParseError, type ParsedCallback } from '../providers/types.js';
import { parsePbxCdr, parseSipcallCdr, parseSipcallStatus, type PbxDispositionTable, type SipcallOutcomeTable } from '../providers/index.js';
import type { StoredCallbackKind } from '../store/callback-log.js';

export interface ReceiverSettings {
  sipcallTimezone: string;
  pbxTimezone: string;
  pbxCallIdField: string;
  sipcallOutcomes?: SipcallOutcomeTable;
  pbxDispositions?: PbxDispositionTable;
}

export type ParseOutcome = { ok: true; parsed: ParsedCallback } | { ok: false; reason: string; field: string | null };

/** Turns the raw body into plain data: JSON, or form fields. */
export function decodeBody(contentType: string, body: string): unknown {
  if (body.trim() === '') throw new CallbackParseError('empty body: send the callback as JSON or form fields', null);
  const ct = contentType.toLowerCase();
  if (ct.includes('application/x-www-form-urlencoded')) {
    const q = parseQuery(body);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(q)) out[k] = Array.isArray(v) ? (v[v.length - 1] ?? '') : (v ?? '');
    return out;
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new CallbackParseError(`body is not valid JSON (${(err as Error).message}); send JSON or application/x-www-form-urlencoded`, null);
  }
}

function parseKind(kind: StoredCallbackKind, body: unknown, settings: ReceiverSettings): ParsedCallback {
  switch (kind) {
    case 'sipcall-cdr':
      return parseSipcallCdr(body, { timezone: settings.sipcallTimezone, ...(settings.sipcallOutcomes ? { outcomes: settings.sipcallOutcomes } : {}) });
    case 'sipcall-status':
      return parseSipcallStatus(body, { timezone: settings.sipcallTimezone });
    case 'pbx-cdr':
      return parsePbxCdr(body, {
        timezone: settings.pbxTimezone,
        callIdField: settings.pbxCallIdField,
        ...(settings.pbxDispositions ? { dispositions: settings.pbxDispositions } : {}),
      });
  }
}

/** Decodes and parses one callback body; a body that cannot be read says which field and why. */
export function parseCallback(kind: StoredCallbackKind, contentType: string, body: string, settings: ReceiverSettings): ParseOutcome {
  try {
    return { ok: true, parsed: parseKind(kind, decodeBody(contentType, body), settings) };
  } catch (err) {
    if (!(err instanceof CallbackParseError)) throw err;
    return { ok: false, reason: err.message, field: err.field };
  }
}

/** The key that orders callbacks for one call: the same key never interprets two at once. */
export function correlationKey(p: ParsedCallback): string {
  return `${p.correlation.by}:${p.correlation.value}`;
}
