/**
 * Parses the two sipcall callbacks (JSON or form fields) into the dialer's
 * ParsedCallback. Pure: the provider's zone comes in as an option.
 */
import type { CallResult } from '../../domain/types.js';
import { asCallbackBody, fieldReader } from '../callback-fields.js';
import { CallbackParseError, type Correlation, type ParsedCallback } from '../types.js';
import { resolveSipcallOutcomes, sipcallOutcome, type SipcallOutcomeTable } from './outcomes.js';

export interface SipcallCdrOptions {
  /** IANA zone of the provider's wall-clock times, e.g. Asia/Shanghai. */
  timezone: string;
  /** Overrides merged over the default outcome table. */
  outcomes?: SipcallOutcomeTable;
}

const CDR = 'sipcall CDR';
const STATUS = 'sipcall status callback';

/**
 * The CDR callback (final result, once per call). Correlates by customuuid;
 * a CDR without one falls back to the call uuid with the callee and start time.
 */
export function parseSipcallCdr(body: unknown, opts: SipcallCdrOptions): ParsedCallback {
  const r = fieldReader(asCallbackBody(body, CDR), CDR);
  const zone = opts.timezone;

  const customuuid = r.text('customuuid')?.trim() ?? '';
  const uuid = r.text('uuid')?.trim() ?? '';
  const destnumber = r.text('destnumber')?.trim() ?? '';
  const billsec = r.requiredInteger('billsec', 'send the billed seconds (0 when not answered)');
  const hangupCause = r.code('hangupcause');
  const hangupDirection = r.code('hangupdirection');
  const answertime = r.wallClock('answertime', zone);
  const starttime = r.wallClock('starttime', zone);
  const endtime = r.wallClock('endtime', zone);
  // Documented fields that are not used are still checked for their type.
  r.integer('duration');
  r.integer('id');
  r.code('companycode');
  r.code('callmethod');
  for (const f of ['extnumber', 'downloadip', 'chengshudu', 'recordfilename', 'memberid', 'type', 'disnumber', 'crmid']) r.text(f);
  const userKey = r.text('userkey');

  if (billsec < 0) throw new CallbackParseError(`${CDR} field billsec must not be negative, got ${billsec}`, 'billsec');

  let correlation: Correlation;
  if (customuuid !== '') correlation = { by: 'customuuid', value: customuuid };
  else if (uuid !== '') correlation = { by: 'call_uuid', value: uuid, callee: destnumber === '' ? null : destnumber, at: starttime ?? answertime ?? endtime };
  else throw new CallbackParseError(`${CDR} carries neither customuuid nor uuid: it cannot be tied to a call`, 'customuuid');

  const outcome = sipcallOutcome({ answeredAt: answertime, billsec, hangupCause }, resolveSipcallOutcomes(opts.outcomes));
  const result: CallResult = {
    outcome,
    billsec,
    answeredAt: outcome === 'answered' ? answertime : null,
    endedAt: endtime,
    hangupCause,
    hangupDirection,
    userKey: userKey ?? '',
    providerCallId: uuid === '' ? null : uuid,
  };
  return { kind: 'result', family: 'sipcall', correlation, result };
}

const STATUSES = ['ring', 'answer', 'hangup'] as const;
type Status = (typeof STATUSES)[number];

export interface SipcallStatusOptions {
  /** IANA zone of the provider; used when `starttime` comes as wall-clock text rather than Unix seconds. */
  timezone: string;
}

/**
 * The extension status callback (progress, several per call). It carries no
 * customuuid: correlation goes through the call uuid, with callee and time.
 */
export function parseSipcallStatus(body: unknown, opts: SipcallStatusOptions): ParsedCallback {
  const b = asCallbackBody(body, STATUS);
  const r = fieldReader(b, STATUS);
  const uuid = r.requiredText('uuid', 'send the call unique id');
  const rawStatus = r.requiredText('status', `send one of ${STATUSES.join(', ')}`);
  const status = rawStatus.toLowerCase();
  if (!(STATUSES as readonly string[]).includes(status)) {
    throw new CallbackParseError(`${STATUS} field status must be one of ${STATUSES.join(', ')}, got ${JSON.stringify(rawStatus)}`, 'status');
  }
  const callee = r.text('callee')?.trim() ?? '';
  const rawStart = b.starttime;
  const at = typeof rawStart === 'string' && /-/.test(rawStart) ? r.wallClock('starttime', opts.timezone) : r.unixTime('starttime');
  r.code('companycode');
  r.code('method');
  for (const f of ['buuid', 'caller', 'direction', 'disnumber', 'extnumber', 'isbleg', 'ip']) r.text(f);

  return {
    kind: 'progress',
    family: 'sipcall',
    correlation: { by: 'call_uuid', value: uuid, callee: callee === '' ? null : callee, at },
    status: status as Status,
    at,
  };
}
