/**
 * Callback receiver: stores every callback raw before anything else, then
 * interprets it — parse (providers/), find the attempt (customuuid, pbx
 * originated call id, sipcall call uuid or callee), and hand the result to the
 * attempt service. Orphans, duplicates, late and malformed callbacks are kept
 * and counted; none of them crashes anything or changes a final outcome twice.
 */
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { parse as parseQuery } from 'node:querystring';
import type { ProviderFamily } from '../domain/types.js';
import { CallbackParseError, type Correlation, type ParsedCallback } from '../providers/types.js';
import { parsePbxCdr, parseSipcallCdr, parseSipcallStatus, type PbxDispositionTable, type SipcallOutcomeTable } from '../providers/index.js';
import type { AttemptService } from '../engine/attempts.js';
import type { AttemptStore } from '../store/attempts.js';
import type { CallbackCounter, CallbackLog, RawCallback, StoredCallback, StoredCallbackKind } from '../store/callback-log.js';
import { isCampaignId, parseAttemptId } from '../store/ids.js';
import type { DialerEvents } from '../engine/events.js';
import type { Keys } from '../store/keys.js';

export interface ReceiverSettings {
  sipcallTimezone: string;
  pbxTimezone: string;
  pbxCallIdField: string;
  sipcallOutcomes?: SipcallOutcomeTable;
  pbxDispositions?: PbxDispositionTable;
}

export type Interpretation =
  | { kind: 'malformed'; reason: string; field: string | null }
  | { kind: 'orphan'; key: string }
  | { kind: 'final' | 'duplicate' | 'late' | 'conflict' | 'progress' | 'ignored'; attemptId: string };

/** Turns the raw body into plain data: JSON, or form fields. */
export function decodeBody(contentType: string, body: string): unknown {
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

const FAMILY_OF: Record<StoredCallbackKind, ProviderFamily> = { 'sipcall-cdr': 'sipcall', 'sipcall-status': 'sipcall', 'pbx-cdr': 'pbx' };

export function makeCallbackReceiver(deps: {
  redis: Redis;
  keys: Keys;
  callbackLog: CallbackLog;
  attempts: AttemptStore;
  service: AttemptService;
  events: DialerEvents;
  settings: ReceiverSettings;
  log: Logger;
}) {
  const { callbackLog, attempts, service, events, settings, log } = deps;
  const parkKey = (id: string) => `${deps.keys.pbxCallId(id)}:parked`;

  function parse(kind: StoredCallbackKind, body: unknown): ParsedCallback {
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

  async function find(c: Correlation): Promise<string | null> {
    switch (c.by) {
      case 'customuuid':
        return parseAttemptId(c.value) ? c.value : null;
      case 'provider_call_id':
        return attempts.byProviderCallId(c.value);
      case 'call_uuid': {
        const byUuid = await attempts.byCallUuid(c.value);
        if (byUuid) return byUuid;
        return c.callee ? attempts.byCallee('sipcall', c.callee) : null;
      }
    }
  }

  async function count(counter: CallbackCounter, attemptId: string | null): Promise<void> {
    const cid = attemptId ? (parseAttemptId(attemptId)?.campaignId ?? null) : null;
    await callbackLog.count(counter, cid && isCampaignId(cid) ? cid : null);
  }

  async function interpret(cb: StoredCallback): Promise<Interpretation> {
    let parsed: ParsedCallback;
    try {
      parsed = parse(cb.kind, decodeBody(cb.contentType, cb.body));
    } catch (err) {
      if (!(err instanceof CallbackParseError)) throw err;
      await count('malformed', null);
      events.emit('callback:malformed', { id: cb.id, kind: cb.kind, reason: err.message });
      return { kind: 'malformed', reason: err.message, field: err.field };
    }
    const attemptId = await find(parsed.correlation);
    const family = FAMILY_OF[cb.kind];
    if (attemptId) {
      const effect =
        parsed.kind === 'result'
          ? await service.result(attemptId, family, parsed.result, cb.id)
          : await service.progress(attemptId, parsed.status, parsed.correlation.by === 'call_uuid' ? parsed.correlation.value : null);
      if (effect !== 'unknown') {
        const counter: CallbackCounter =
          effect === 'final' ? 'correlated' : effect === 'ignored' ? 'progress' : effect === 'conflict' ? 'conflict' : effect;
        await count(counter, attemptId);
        return { kind: effect, attemptId };
      }
    }
    const key = `${parsed.correlation.by}:${parsed.correlation.value}`;
    if (parsed.kind === 'progress') {
      // A status callback we cannot tie yet is progress information only: kept raw, counted.
      await count('progress', null);
      return { kind: 'orphan', key };
    }
    if (parsed.correlation.by === 'provider_call_id') {
      // The CDR may beat the originate response: park it until the id is known.
      await deps.redis.set(parkKey(parsed.correlation.value), cb.id, 'EX', 86_400);
    }
    await count('orphan', attemptId);
    events.emit('callback:orphan', { id: cb.id, kind: cb.kind, key });
    log.warn({ callbackId: cb.id, kind: cb.kind, key }, 'callback for an unknown attempt kept as orphan');
    return { kind: 'orphan', key };
  }

  /** Stores the callback raw (the answer to the provider waits for this only), then interprets it. */
  async function receive(raw: RawCallback): Promise<{ id: string; result: Interpretation }> {
    const id = await callbackLog.append(raw);
    await callbackLog.count('received', null);
    events.emit('callback:stored', { id, kind: raw.kind });
    const result = await interpret({ ...raw, id });
    return { id, result };
  }

  /** A pbx CDR parked as orphan before its originate response arrived: interpret it now. */
  async function adoptParked(providerCallId: string): Promise<boolean> {
    const cbId = await deps.redis.getdel(parkKey(providerCallId));
    if (!cbId) return false;
    for await (const cb of callbackLog.read({ from: cbId, to: cbId })) {
      const r = await interpret(cb);
      if (r.kind !== 'orphan' && r.kind !== 'malformed') {
        await callbackLog.count('orphan', null, -1);
        return true;
      }
    }
    return false;
  }

  /** Interprets stored callbacks again, in order (replay). Final outcomes never change twice. */
  async function replay(options: { from?: string; to?: string } = {}): Promise<Record<string, number>> {
    const tally: Record<string, number> = {};
    for await (const cb of callbackLog.read({ ...options })) {
      const r = await interpret(cb);
      tally[r.kind] = (tally[r.kind] ?? 0) + 1;
    }
    return tally;
  }

  return { receive, interpret, adoptParked, replay };
}

export type CallbackReceiver = ReturnType<typeof makeCallbackReceiver>;
