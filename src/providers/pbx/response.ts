/**
 * Classifies a PBX originate reply into a DialOutcome. Pure.
 */
import { z } from 'zod';
import { parseJsonBody, parseRetryAfter, UNREADABLE_RESPONSE, type HttpReply } from '../http.js';
import { speaksOfAuth, speaksOfRate } from '../messages.js';
import type { DialOutcome } from '../types.js';

/** The documented answer: `{"success":1,"message":null,"data":{"originated_call_id":"orig.call.…"}}`. */
const PbxReply = z.object({
  success: z.union([
    z.literal(0),
    z.literal(1),
    z.literal('0').transform(() => 0 as const),
    z.literal('1').transform(() => 1 as const),
    z.boolean().transform((b) => (b ? (1 as const) : (0 as const))),
  ]),
  message: z.union([z.string(), z.number().transform(String)]).nullish(),
  data: z
    .object({ originated_call_id: z.union([z.string(), z.number().transform(String)]).nullish() })
    .loose()
    .nullish()
    .catch(null),
});
export type PbxReply = z.infer<typeof PbxReply>;

export function parsePbxReply(body: string | null): PbxReply | null {
  return parseJsonBody(PbxReply, body);
}

/** A message from a body that may not be the documented shape (an error page's JSON `message`). */
function looseMessage(body: string | null): string {
  if (body === null) return '';
  try {
    const json: unknown = JSON.parse(body);
    if (typeof json === 'object' && json !== null) {
      const m = (json as Record<string, unknown>).message ?? (json as Record<string, unknown>).error;
      if (typeof m === 'string') return m.trim();
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  const one = body.replace(/\s+/g, ' ').trim();
  return one.length > 200 ? `${one.slice(0, 200)}…` : one;
}

export function classifyPbxReply(reply: HttpReply, nowMs: number): DialOutcome {
  const { status } = reply;
  const message = looseMessage(reply.text);
  const said = message === '' ? '' : `: ${message}`;

  if (status === 429 || status >= 500) {
    return { kind: 'transient', reason: `pbx answered HTTP ${status}${said}`, httpStatus: status, retryAfterMs: parseRetryAfter(reply.headers['retry-after'], nowMs) };
  }
  if (status === 401 || status === 403) {
    return { kind: 'fatal', reason: `pbx refused the credentials (HTTP ${status})${said}: check PBX_API_KEY, PBX_USERNAME and PBX_PASSWORD`, httpStatus: status, providerCode: null };
  }
  if (status >= 300 && status < 400) {
    const where = reply.headers.location;
    return {
      kind: 'fatal',
      reason: `pbx answered HTTP ${status} redirect${where ? ` to ${String(where)}` : ''}: set PBX_BASE_URL to the final address`,
      httpStatus: status,
      providerCode: null,
    };
  }
  if (status >= 400) {
    if (message !== '' && speaksOfAuth(message)) {
      return { kind: 'fatal', reason: `pbx refused the credentials (HTTP ${status})${said}`, httpStatus: status, providerCode: null };
    }
    return { kind: 'rejected', reason: `pbx answered HTTP ${status}${said}`, httpStatus: status, providerCode: null, tooFast: message !== '' && speaksOfRate(message) };
  }

  if (reply.text === null && reply.bodyError) return reply.bodyError;
  const parsed = parsePbxReply(reply.text);
  if (parsed === null) {
    return { kind: 'in_doubt', reason: `pbx answered HTTP ${status} with an unreadable body${said}`, code: UNREADABLE_RESPONSE, httpStatus: status };
  }
  const pbxMessage = parsed.message?.trim() ?? '';
  if (parsed.success === 1) {
    const id = parsed.data?.originated_call_id?.trim() ?? '';
    if (id === '') {
      return {
        kind: 'in_doubt',
        reason: `pbx accepted the call without an originated_call_id: its result cannot be correlated${pbxMessage ? `: ${pbxMessage}` : ''}`,
        code: 'ERR_PROVIDER_NO_CALL_ID',
        httpStatus: status,
      };
    }
    return { kind: 'accepted', providerCallId: id, detail: pbxMessage === '' ? 'originated' : pbxMessage };
  }
  const why = pbxMessage === '' ? '' : `: ${pbxMessage}`;
  if (pbxMessage !== '' && speaksOfAuth(pbxMessage)) {
    return { kind: 'fatal', reason: `pbx refused the credentials (success 0)${why}`, httpStatus: status, providerCode: '0' };
  }
  return { kind: 'rejected', reason: `pbx rejected the call (success 0)${why}`, httpStatus: status, providerCode: '0', tooFast: pbxMessage !== '' && speaksOfRate(pbxMessage) };
}
