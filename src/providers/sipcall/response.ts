/**
 * Classifies a sipcall reply (HTTP status, headers, body) into a DialOutcome.
 * Pure: the clock comes in as `nowMs` (for an HTTP-date Retry-After).
 */
import { z } from 'zod';
import { parseJsonBody, parseRetryAfter, UNREADABLE_RESPONSE, type HttpReply } from '../http.js';
import { speaksOfAuth, speaksOfRate } from '../messages.js';
import type { DialOutcome } from '../types.js';

const intLike = z.union([z.number().int(), z.string().trim().regex(/^-?\d+$/).transform(Number)]);
const text = z.union([z.string(), z.number().transform(String)]).nullish();

/** The documented answer: `{"ret":200,"data":{"status":0,"desc":"…"},"msg":""}`. */
const SipcallReply = z.object({
  ret: intLike,
  data: z
    .object({ status: intLike.optional(), desc: text })
    .loose()
    .nullish()
    .catch(null),
  msg: text,
});
export type SipcallReply = z.infer<typeof SipcallReply>;

/** The reply body parsed, or null when it is not the documented JSON. */
export function parseSipcallReply(body: string | null): SipcallReply | null {
  return parseJsonBody(SipcallReply, body);
}

function providerMessage(reply: SipcallReply | null): string {
  if (reply === null) return '';
  const parts = [reply.msg, reply.data?.desc].filter((s): s is string => typeof s === 'string' && s.trim() !== '');
  return [...new Set(parts)].join('; ');
}

function snippet(body: string | null): string {
  if (body === null) return '(body not read)';
  const one = body.replace(/\s+/g, ' ').trim();
  return one === '' ? '(empty body)' : JSON.stringify(one.length > 200 ? `${one.slice(0, 200)}…` : one);
}

export function classifySipcallReply(reply: HttpReply, nowMs: number): DialOutcome {
  const { status } = reply;
  const parsed = parseSipcallReply(reply.text);
  const message = parsed ? providerMessage(parsed) : '';
  const said = message === '' ? '' : `: ${message}`;

  if (status === 429 || status >= 500) {
    return {
      kind: 'transient',
      reason: `sipcall answered HTTP ${status}${said || ` ${snippet(reply.text)}`}`,
      httpStatus: status,
      retryAfterMs: parseRetryAfter(reply.headers['retry-after'], nowMs),
    };
  }
  if (status === 401 || status === 403) {
    return { kind: 'fatal', reason: `sipcall refused the token (HTTP ${status})${said}: check SIPCALL_TOKEN`, httpStatus: status, providerCode: parsed ? String(parsed.ret) : null };
  }
  if (status >= 300 && status < 400) {
    const where = reply.headers.location;
    return {
      kind: 'fatal',
      reason: `sipcall answered HTTP ${status} redirect${where ? ` to ${String(where)}` : ''}: set SIPCALL_API_URL to the final address`,
      httpStatus: status,
      providerCode: null,
    };
  }
  if (status >= 400) {
    if (message !== '' && speaksOfAuth(message)) {
      return { kind: 'fatal', reason: `sipcall refused the token (HTTP ${status})${said}: check SIPCALL_TOKEN`, httpStatus: status, providerCode: parsed ? String(parsed.ret) : null };
    }
    return {
      kind: 'rejected',
      reason: `sipcall answered HTTP ${status}${said || ` ${snippet(reply.text)}`}`,
      httpStatus: status,
      providerCode: parsed ? String(parsed.ret) : null,
      tooFast: message !== '' && speaksOfRate(message),
    };
  }

  // 1xx is never surfaced by undici; what is left is 2xx.
  if (reply.text === null && reply.bodyError) return reply.bodyError;
  if (parsed === null) {
    return { kind: 'in_doubt', reason: `sipcall answered HTTP ${status} with an unreadable body ${snippet(reply.text)}`, code: UNREADABLE_RESPONSE, httpStatus: status };
  }

  const { ret } = parsed;
  const dataStatus = parsed.data?.status;
  if (ret === 200 && dataStatus === 0) {
    return { kind: 'accepted', providerCallId: null, detail: message === '' ? 'accepted' : message };
  }
  if (ret === 200 && dataStatus === undefined) {
    return { kind: 'in_doubt', reason: `sipcall answered ret 200 without data.status ${snippet(reply.text)}`, code: UNREADABLE_RESPONSE, httpStatus: status };
  }

  const code = ret === 200 ? `200/${dataStatus}` : String(ret);
  const label = ret === 200 ? `ret 200, status ${dataStatus}` : `ret ${ret}`;
  if (ret === 401 || ret === 403 || (message !== '' && speaksOfAuth(message))) {
    return { kind: 'fatal', reason: `sipcall refused the token (${label})${said}: check SIPCALL_TOKEN`, httpStatus: status, providerCode: code };
  }
  if (ret === 429 || (message !== '' && speaksOfRate(message))) {
    return { kind: 'rejected', reason: `sipcall says too fast (${label})${said}`, httpStatus: status, providerCode: code, tooFast: true };
  }
  if (ret >= 500) {
    return { kind: 'transient', reason: `sipcall failed (${label})${said}`, httpStatus: status, retryAfterMs: parseRetryAfter(reply.headers['retry-after'], nowMs) };
  }
  return { kind: 'rejected', reason: `sipcall rejected the call (${label})${said}`, httpStatus: status, providerCode: code, tooFast: false };
}
