/**
 * The sipcall gateway's side of the wire (seeds 000, 001, 003): which service
 * needs which fields, and the PhalApi-style response bodies.
 */
import { timingSafeEqual } from 'node:crypto';

export const SIPCALL_OPERATIONS = ['PlayVoice', 'MakeCall', 'DoubleCall'] as const;
export type SipcallOperation = (typeof SIPCALL_OPERATIONS)[number];

const SERVICE_PREFIX = 'App.Sip_Call.';

const REQUIRED: Record<SipcallOperation, readonly string[]> = {
  PlayVoice: ['destnumber', 'voicetype', 'voicefile', 'chengshudu', 'userid'],
  MakeCall: ['extnumber', 'destnumber'],
  DoubleCall: ['extnumber', 'anumber', 'bnumber'],
};

/** Fields that must hold a phone number or an extension when present. */
const NUMBER_FIELDS = ['destnumber', 'extnumber', 'anumber', 'bnumber', 'disnumber'] as const;
const PHONE = /^\+?[0-9]{1,32}$/;

const ACCEPTED_DESC: Record<SipcallOperation, string> = {
  PlayVoice: 'Play command sent successfully',
  MakeCall: 'Call command sent successfully',
  DoubleCall: 'The double call command is sent successfully',
};

/** Status `method` of a status callback: 3 interface, 4 double call. */
export const STATUS_METHOD: Record<SipcallOperation, string> = { PlayVoice: '3', MakeCall: '3', DoubleCall: '4' };
/** CDR `callmethod` (seed 003 shows 6 for PlayVoice). */
export const CDR_CALLMETHOD: Record<SipcallOperation, number> = { PlayVoice: 6, MakeCall: 3, DoubleCall: 4 };

export type SipcallCheck =
  | { ok: true; operation: SipcallOperation; number: string; fields: Readonly<Record<string, string>> }
  | { ok: false; operation: SipcallOperation | null; reason: 'invalid' | 'token'; body: SipcallBody };

export interface SipcallBody {
  ret: number;
  data: Record<string, unknown>;
  msg: string;
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function sipcallIllegal(msg: string): SipcallBody {
  return { ret: 400, data: {}, msg: `Illegal request: ${msg}` };
}

export const SIPCALL_TOKEN_INVALID: SipcallBody = { ret: 401, data: {}, msg: 'token invalid' };

/** The number the call goes to (the customer): `bnumber` for DoubleCall, else `destnumber`. */
export function sipcallCallee(operation: SipcallOperation, fields: Readonly<Record<string, string>>): string {
  return (operation === 'DoubleCall' ? fields.bnumber : fields.destnumber) ?? '';
}

/** Checks a request in the gateway's order: service, token, then the service's fields. */
export function checkSipcall(fields: Readonly<Record<string, string>>, token: string): SipcallCheck {
  const service = fields.service;
  if (service === undefined || service === '') {
    return { ok: false, operation: null, reason: 'invalid', body: sipcallIllegal('missing required parameter service') };
  }
  const op = service.startsWith(SERVICE_PREFIX) ? service.slice(SERVICE_PREFIX.length) : '';
  if (!(SIPCALL_OPERATIONS as readonly string[]).includes(op)) {
    const known = SIPCALL_OPERATIONS.map((o) => SERVICE_PREFIX + o).join(', ');
    return { ok: false, operation: null, reason: 'invalid', body: sipcallIllegal(`service ${service} does not exist, use one of ${known}`) };
  }
  const operation = op as SipcallOperation;
  const given = fields.token;
  if (given === undefined || given === '') {
    return { ok: false, operation, reason: 'invalid', body: sipcallIllegal('missing required parameter token') };
  }
  if (!sameToken(given, token)) return { ok: false, operation, reason: 'token', body: SIPCALL_TOKEN_INVALID };
  for (const name of REQUIRED[operation]) {
    const v = fields[name];
    if (v === undefined || v.trim() === '') {
      return { ok: false, operation, reason: 'invalid', body: sipcallIllegal(`missing required parameter ${name}`) };
    }
  }
  if (operation === 'PlayVoice' && fields.voicetype !== '1' && fields.voicetype !== '2') {
    return {
      ok: false,
      operation,
      reason: 'invalid',
      body: sipcallIllegal(`voicetype should be 1 or 2, but voicetype = ${fields.voicetype ?? ''}`),
    };
  }
  for (const name of NUMBER_FIELDS) {
    const v = fields[name];
    if (v !== undefined && v !== '' && !PHONE.test(v)) {
      return { ok: false, operation, reason: 'invalid', body: sipcallIllegal(`${name} should be a phone number (digits), but ${name} = ${v}`) };
    }
  }
  return { ok: true, operation, number: sipcallCallee(operation, fields), fields };
}

export function sipcallAccepted(operation: SipcallOperation, reqtime: number, rsptime: number): SipcallBody {
  return { ret: 200, data: { status: 0, desc: ACCEPTED_DESC[operation], reqtime, rsptime }, msg: '' };
}

/** A well-formed refusal: the gateway answered, but did not place the call. */
export function sipcallRefused(reqtime: number, rsptime: number): SipcallBody {
  return { ret: 200, data: { status: 1, desc: 'Command failed: the line is not available', reqtime, rsptime }, msg: '' };
}

/** A well-formed refusal meaning "too fast". */
export const SIPCALL_TOO_FAST: SipcallBody = { ret: 429, data: {}, msg: 'Too many requests, please slow down' };
export const SIPCALL_SERVER_ERROR: SipcallBody = { ret: 500, data: {}, msg: 'Internal Server Error' };
export const SIPCALL_TOO_MANY: SipcallBody = { ret: 429, data: {}, msg: 'Too Many Requests' };
