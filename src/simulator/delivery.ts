/**
 * Posts callbacks to the dialer through one undici Pool, retrying a failed
 * post with exponential backoff: providers deliver at least once.
 */
import { Pool } from 'undici';
import { CALLBACK_PATHS } from './callbacks.js';
import type { CallbackBody, CallbackKind } from './callbacks.js';

export interface PosterSettings {
  callbackUrl: string;
  callbackSecret: string | null;
  callbackKeyIn: 'query' | 'header';
  callbackEncoding: 'json' | 'form';
  callbackRetries: number;
  callbackRetryBaseMs: number;
  callbackTimeoutMs: number;
  callbackConnections: number;
}

export type PostResult =
  | { ok: true; attempts: number; path: string; statusCode: number }
  | { ok: false; attempts: number; path: string; error: string };

/** Waits, or resolves false at once when the wait was cancelled. */
export type Sleeper = (ms: number) => Promise<boolean>;

export interface CallbackPoster {
  /**
   * Resolves once delivered or given up; null when `sleep` reports a
   * cancellation between attempts.
   */
  post(kind: CallbackKind, body: CallbackBody, sleep: Sleeper): Promise<PostResult | null>;
  close(): Promise<void>;
}

function encode(body: CallbackBody, encoding: 'json' | 'form'): string {
  if (encoding === 'json') return JSON.stringify(body);
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(body)) params.append(k, String(v));
  return params.toString();
}

export function makeCallbackPoster(s: PosterSettings): CallbackPoster {
  const base = new URL(s.callbackUrl);
  const pool = new Pool(base.origin, {
    connections: s.callbackConnections,
    headersTimeout: s.callbackTimeoutMs,
    bodyTimeout: s.callbackTimeoutMs,
  });
  const basePath = base.pathname.replace(/\/+$/, '');
  const pathFor = (kind: CallbackKind): string => {
    const query = new URLSearchParams(base.search);
    if (s.callbackSecret !== null && s.callbackKeyIn === 'query') query.set('key', s.callbackSecret);
    const qs = query.toString();
    return `${basePath}${CALLBACK_PATHS[kind]}${qs === '' ? '' : `?${qs}`}`;
  };
  const paths = {
    'sipcall-status': pathFor('sipcall-status'),
    'sipcall-cdr': pathFor('sipcall-cdr'),
    'pbx-cdr': pathFor('pbx-cdr'),
  } satisfies Record<CallbackKind, string>;
  const headers: Record<string, string> = {
    'content-type': s.callbackEncoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
    'user-agent': 'autodialer-simulator',
  };
  if (s.callbackSecret !== null && s.callbackKeyIn === 'header') headers['x-callback-key'] = s.callbackSecret;

  async function once(path: string, payload: string): Promise<number> {
    const res = await pool.request({ path, method: 'POST', headers, body: payload });
    await res.body.dump();
    return res.statusCode;
  }

  return {
    async post(kind, body, sleep) {
      const path = paths[kind];
      const payload = encode(body, s.callbackEncoding);
      let lastError = '';
      for (let attempt = 1; attempt <= s.callbackRetries + 1; attempt++) {
        if (attempt > 1 && !(await sleep(s.callbackRetryBaseMs * 2 ** (attempt - 2)))) return null;
        try {
          const status = await once(path, payload);
          if (status >= 200 && status < 300) return { ok: true, attempts: attempt, path, statusCode: status };
          lastError = `HTTP ${status}`;
        } catch (err) {
          const e = err as Error & { code?: string };
          lastError = e.code ? `${e.code}: ${e.message}` : e.message;
        }
      }
      return { ok: false, attempts: s.callbackRetries + 1, path, error: lastError };
    },
    async close() {
      await pool.destroy();
    },
  };
}
