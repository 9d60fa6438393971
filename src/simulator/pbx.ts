/**
 * The PBX originate API's side of the wire (seeds 002/004): authentication,
 * the JSON body whose every value is a string, and the response bodies.
 */
import { timingSafeEqual } from 'node:crypto';

export const PBX_PATH = '/api/v4/call/originate/act';

export interface PbxBody {
  success: 0 | 1;
  message: string | null;
  data: Record<string, unknown> | null;
}

export interface OriginateFields {
  caller: string;
  callee: string;
  context: string;
  caller_id: string;
  trunk_name: string;
  /** Seconds to wait for an answer (default 30). */
  timeout: number;
}

export type PbxCheck = { ok: true; fields: OriginateFields } | { ok: false; body: PbxBody };

const REQUIRED = ['caller', 'callee', 'context', 'caller_id'] as const;
const PSTN = /^\+?[0-9]{7,}$/;

export const PBX_UNAUTHORIZED: PbxBody = { success: 0, message: 'unauthorized', data: null };
export const PBX_SERVER_ERROR: PbxBody = { success: 0, message: 'internal server error', data: null };
export const PBX_TOO_MANY: PbxBody = { success: 0, message: 'too many requests', data: null };
export const PBX_TOO_FAST: PbxBody = { success: 0, message: 'too many requests: originate rate limit exceeded', data: null };

export function pbxRejected(message: string): PbxBody {
  return { success: 0, message, data: null };
}

export function pbxAccepted(originatedCallId: string): PbxBody {
  return { success: 1, message: null, data: { originated_call_id: originatedCallId } };
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** X-APIKEY and Basic authentication must both match. */
export function pbxAuthorized(
  apiKeyHeader: string | undefined,
  authorization: string | undefined,
  creds: { apiKey: string; username: string; password: string },
): boolean {
  if (apiKeyHeader === undefined || !same(apiKeyHeader, creds.apiKey)) return false;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!m?.[1]) return false;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const userOk = same(decoded.slice(0, colon), creds.username);
  const passOk = same(decoded.slice(colon + 1), creds.password);
  return userOk && passOk;
}

/** Validates an originate body (already parsed from JSON). */
export function checkOriginate(body: unknown, requireTrunkForPstn: boolean): PbxCheck {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, body: pbxRejected('request body must be a JSON object') };
  }
  const raw = body as Record<string, unknown>;
  for (const name of REQUIRED) {
    const v = raw[name];
    if (v === undefined || v === null || v === '') return { ok: false, body: pbxRejected(`${name} is required`) };
    if (typeof v !== 'string') return { ok: false, body: pbxRejected(`${name} must be a string`) };
  }
  for (const [name, v] of Object.entries(raw)) {
    if (typeof v !== 'string') return { ok: false, body: pbxRejected(`${name} must be a string`) };
  }
  const str = (name: string): string => (typeof raw[name] === 'string' ? (raw[name] as string) : '');
  const timeoutRaw = str('timeout');
  let timeout = 30;
  if (timeoutRaw !== '') {
    if (!/^\d{1,4}$/.test(timeoutRaw) || Number(timeoutRaw) < 1 || Number(timeoutRaw) > 3600) {
      return { ok: false, body: pbxRejected('timeout must be a whole number of seconds between 1 and 3600') };
    }
    timeout = Number(timeoutRaw);
  }
  const fields: OriginateFields = {
    caller: str('caller'),
    callee: str('callee'),
    context: str('context'),
    caller_id: str('caller_id'),
    trunk_name: str('trunk_name'),
    timeout,
  };
  if (requireTrunkForPstn && fields.trunk_name === '' && PSTN.test(fields.callee)) {
    return { ok: false, body: pbxRejected('trunk_name is required when callee is a PSTN number') };
  }
  return { ok: true, fields };
}
