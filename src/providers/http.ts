/**
 * The transport under every adapter: one undici dispatcher per provider, one
 * exchange per dial, and the single place where a transport failure is
 * classified as "certainly not sent" or "in doubt". Nothing here retries.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { DialOutcome } from './types.js';
import type { z } from 'zod';

export interface ProviderDispatcherOptions {
  connectTimeoutMs: number;
  /** Longest wait for the response headers, and for each body chunk. */
  responseTimeoutMs: number;
  /** Idle keep-alive sockets are closed after this (the server's Keep-Alive hint wins when shorter). */
  keepAliveTimeoutMs?: number;
  /** Most sockets per origin; null = unlimited (pacing bounds concurrency upstream). */
  connections?: number | null;
}

/**
 * A keep-alive agent with connect, headers and body timeouts. One request per
 * socket at a time (no pipelining, so a dropped socket fails only its own
 * request) and no retry interceptor: a dial is never repeated by the transport.
 */
export function createProviderDispatcher(opts: ProviderDispatcherOptions): Dispatcher {
  return new Agent({
    connectTimeout: opts.connectTimeoutMs,
    headersTimeout: opts.responseTimeoutMs,
    bodyTimeout: opts.responseTimeoutMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4_000,
    pipelining: 1,
    connections: opts.connections ?? null,
  });
}

/** What every adapter factory takes besides its config. */
export interface AdapterOptions {
  /** A dispatcher owned by the caller (not closed by the adapter's `close()`); by default the adapter makes its own. */
  dispatcher?: Dispatcher;
  /** Epoch ms, for a Retry-After given as an HTTP date. */
  now?: () => number;
}

export type TransportOutcome = Extract<DialOutcome, { kind: 'not_sent' | 'in_doubt' }>;

/** Codes that only arise before a byte of the request was written. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EAI_NODATA',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  // The request was refused by undici before dispatch.
  'UND_ERR_INVALID_ARG',
  'UND_ERR_DESTROYED',
  'UND_ERR_CLOSED',
  'ERR_INVALID_URL',
  // TLS verification fails during the handshake, before the request.
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** System calls that fail before any request byte leaves. */
const CONNECT_SYSCALLS: ReadonlySet<string> = new Set(['connect', 'getaddrinfo', 'getaddrinfo_all']);

interface ErrorFacts {
  code: string | null;
  syscall: string | null;
  message: string;
}

function facts(err: unknown): ErrorFacts {
  if (typeof err !== 'object' || err === null) return { code: null, syscall: null, message: String(err) };
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown };
  return {
    code: typeof e.code === 'string' ? e.code : null,
    syscall: typeof e.syscall === 'string' ? e.syscall : null,
    message: typeof e.message === 'string' ? e.message : String(err),
  };
}

function beforeWrite(f: ErrorFacts): boolean {
  return (f.code !== null && NOT_SENT_CODES.has(f.code)) || (f.syscall !== null && CONNECT_SYSCALLS.has(f.syscall));
}

/** The error, its causes and the members of an AggregateError (dual-stack connects), outermost first. */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  let cur: unknown = err;
  for (let depth = 0; depth < 8 && typeof cur === 'object' && cur !== null && !out.includes(cur); depth++) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

/**
 * Maps a transport error (undici or Node) to not_sent (connect refused or
 * timed out, name not resolved, unreachable, request refused before dispatch)
 * or in_doubt (headers or body timeout, reset or closed socket once the
 * request may have been written, anything unknown). The code is kept.
 */
export function classifyTransportError(err: unknown, httpStatus: number | null = null): TransportOutcome {
  const links = chain(err);
  let code: string | null = null;
  for (const link of links) {
    const lf = facts(link);
    code ??= lf.code;
    const members = link instanceof AggregateError ? (link.errors as unknown[]).map(facts) : [];
    const connectFailure = members.length > 0 ? members.every(beforeWrite) : beforeWrite(lf);
    if (connectFailure && httpStatus === null) {
      const decisive = lf.code ?? members.find((m) => m.code !== null)?.code ?? 'ECONNECT';
      return { kind: 'not_sent', reason: `request not sent: ${lf.message || decisive} (${decisive})`, code: decisive };
    }
  }
  const top = facts(err);
  const finalCode = code ?? 'UNKNOWN';
  return {
    kind: 'in_doubt',
    reason: `request may have reached the provider: ${top.message || finalCode} (${finalCode})`,
    code: finalCode,
    httpStatus,
  };
}

/** Retry-After as delta-seconds or an HTTP date, in ms from `nowMs`; null when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return null;
  const v = raw.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return null;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Largest response body read; a larger one is treated as unreadable. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as UTF-8, or null when it could not be read (see `bodyError`). */
  text: string | null;
  bodyError: TransportOutcome | null;
}

export type Exchange = { ok: true; reply: HttpReply } | { ok: false; outcome: TransportOutcome };

export interface ExchangeRequest {
  url: string;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  body: Buffer;
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy();
      throw Object.assign(new Error(`response body larger than ${MAX_RESPONSE_BYTES} bytes`), { code: 'ERR_RESPONSE_TOO_LARGE' });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends one request, never throws: a transport failure comes back classified. */
export async function exchange(dispatcher: Dispatcher, req: ExchangeRequest): Promise<Exchange> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      dispatcher,
      method: req.method,
      headers: req.headers,
      body: req.body,
      idempotent: false,
    });
  } catch (err) {
    return { ok: false, outcome: classifyTransportError(err) };
  }
  try {
    const text = await readCapped(res.body);
    return { ok: true, reply: { status: res.statusCode, headers: res.headers, text, bodyError: null } };
  } catch (err) {
    return {
      ok: true,
      reply: { status: res.statusCode, headers: res.headers, text: null, bodyError: classifyTransportError(err, res.statusCode) },
    };
  }
}

/** Code of an in_doubt outcome for a 2xx whose body is not the documented shape. */
export const UNREADABLE_RESPONSE = 'ERR_PROVIDER_UNREADABLE_RESPONSE';

/** A reply body parsed as JSON and checked against `schema`; null when it is not that shape. */
export function parseJsonBody<T>(schema: z.ZodType<T>, body: string | null): T | null {
  if (body === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  const r = schema.safeParse(json);
  return r.success ? r.data : null;
}
