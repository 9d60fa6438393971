/**
 * Parses a PBX CDR (standard Asterisk CDR fields plus the originated call id)
 * into the dialer's ParsedCallback. Pure.
 */
import type { CallResult } from '../../domain/types.js';
import { asCallbackBody, fieldReader, plusSeconds } from '../callback-fields.js';
import { CallbackParseError, type ParsedCallback } from '../types.js';
import { pbxOutcome, resolvePbxDispositions, type PbxDispositionTable } from './outcomes.js';

export interface PbxCdrOptions {
  /** IANA zone of the PBX's `calldate`, e.g. Asia/Tehran. */
  timezone: string;
  /** Field that carries the originated call id (configuration, default `originated_call_id`). */
  callIdField: string;
  /** Overrides merged over the default disposition table. */
  dispositions?: PbxDispositionTable;
}

const CDR = 'pbx CDR';

export function parsePbxCdr(body: unknown, opts: PbxCdrOptions): ParsedCallback {
  const r = fieldReader(asCallbackBody(body, CDR), CDR);
  const callId = r.requiredText(opts.callIdField, `send the originated call id in ${opts.callIdField} (PBX_CDR_CALL_ID_FIELD names this field)`);
  const disposition = r.requiredText('disposition', 'send ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION');
  const calldate = r.wallClock('calldate', opts.timezone);
  if (calldate === null) throw new CallbackParseError(`${CDR} field calldate is missing or empty: send the call's start time like 2023-12-21 11:20:54`, 'calldate');
  const duration = r.requiredInteger('duration', 'send the call duration in seconds');
  const billsec = r.requiredInteger('billsec', 'send the billed seconds (0 when not answered)');
  if (duration < 0) throw new CallbackParseError(`${CDR} field duration must not be negative, got ${duration}`, 'duration');
  if (billsec < 0) throw new CallbackParseError(`${CDR} field billsec must not be negative, got ${billsec}`, 'billsec');
  const uniqueid = r.text('uniqueid')?.trim() ?? '';
  for (const f of ['src', 'dst', 'dcontext', 'channel', 'dstchannel', 'lastapp']) r.text(f);

  const outcome = pbxOutcome(disposition, resolvePbxDispositions(opts.dispositions));
  const result: CallResult = {
    outcome,
    billsec,
    answeredAt: outcome === 'answered' ? plusSeconds(calldate, Math.max(0, duration - billsec)) : null,
    endedAt: plusSeconds(calldate, duration),
    hangupCause: disposition,
    hangupDirection: null,
    userKey: null,
    providerCallId: uniqueid === '' ? null : uniqueid,
  };
  return { kind: 'result', family: 'pbx', correlation: { by: 'provider_call_id', value: callId }, result };
}
