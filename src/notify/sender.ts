/**
 * The transport of outbound notifications: one undici Pool per webhook
 * origin, one POST per try, every failure turned into a short error that
 * names the HTTP status or the undici/Node error code. Nothing here retries.
 */
import { Pool, request, type Dispatcher } from 'undici';
import { guardedLookup, literalAddressRefusal, PRIVATE_ADDRESS_CODE, type PrivateAddressPolicy } from './address-guard.js';

export type SendResult =
  | { ok: true; httpStatus: number }
  | {
      ok: false;
      httpStatus: number | null;
      code: string | null;
      error: string;
      /** The request can never succeed as it stands (the URL): no retry. */
      permanent: boolean;
      /** Cut short because this process is stopping: neither success nor failure. */
      aborted: boolean;
    };

export interface SenderOptions {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  connectionsPerOrigin: number;
  /** 'deny': never connect to a loopback, private or reserved address (see address-guard.ts). */
  privateAddresses: PrivateAddressPolicy;
}

/** Most of an error response's body kept in the error text. */
const SNIPPET_BYTES = 200;

function errorCode(err: unknown): string | null {
  let cur: unknown = err;
  for (let depth = 0; depth < 6 && typeof cur === 'object' && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (cur instanceof AggregateError) {
      const inner = cur.errors.map(errorCode).find((c) => c !== null);
      if (inner) return inner;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return null;
}

async function snippet(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(buf);
      size += buf.length;
      if (size >= SNIPPET_BYTES) break;
    }
  } catch {
    // The body is only for the error text.
  }
  const text = Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8');
  return text.replace(/\s+/g, ' ').trim();
}

export function makeWebhookSender(opts: SenderOptions) {
  const pools = new Map<string, Pool>();

  function poolFor(origin: string): Pool {
    let p = pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: opts.connectionsPerOrigin,
        connectTimeout: opts.connectTimeoutMs,
        headersTimeout: opts.requestTimeoutMs,
        bodyTimeout: opts.requestTimeoutMs,
        keepAliveTimeout: 4_000,
        // Every connection's address is checked as it is resolved: a name that points inside is refused too.
        ...(opts.privateAddresses === 'deny' ? { connect: { lookup: guardedLookup } } : {}),
      });
      pools.set(origin, p);
    }
    return p;
  }

  /** POSTs `body`; never throws. */
  async function send(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<SendResult> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { ok: false, httpStatus: null, code: 'ERR_INVALID_URL', error: 'webhook.url is not a URL', permanent: true, aborted: false };
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return { ok: false, httpStatus: null, code: 'ERR_INVALID_URL', error: `webhook.url must be http or https, not ${target.protocol}`, permanent: true, aborted: false };
    }
    if (opts.privateAddresses === 'deny') {
      const refused = literalAddressRefusal(target);
      if (refused) return { ok: false, httpStatus: null, code: refused.code, error: `${refused.code}: ${refused.message}`, permanent: true, aborted: false };
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(target, { dispatcher: poolFor(target.origin), method: 'POST', headers, body, signal });
    } catch (err) {
      const code = errorCode(err);
      const message = err instanceof Error ? err.message : String(err);
      // A name that resolves only to refused addresses can never be sent to under this policy: no retry.
      return { ok: false, httpStatus: null, code, error: `${code ?? 'ERROR'}: ${message}`, permanent: code === PRIVATE_ADDRESS_CODE, aborted: signal.aborted };
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      await res.body.dump().catch(() => undefined);
      return { ok: true, httpStatus: res.statusCode };
    }
    const text = await snippet(res.body);
    return {
      ok: false,
      httpStatus: res.statusCode,
      code: null,
      error: `HTTP ${res.statusCode}${text ? `: ${text}` : ''}`,
      permanent: false,
      aborted: false,
    };
  }

  async function close(): Promise<void> {
    const all = [...pools.values()];
    pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => p.destroy())));
  }

  return { send, close };
}

export type WebhookSender = ReturnType<typeof makeWebhookSender>;
