/**
 * Request limits on every route: how long headers and bodies may take, how
 * slowly a body may come, and how big a body of a route that is not an upload
 * may be (uploads have their own limits, in upload.ts). A client that sends a
 * byte a second is cut off, so that slow clients cannot hold the server's
 * connections (and its open files) and starve the others, `/healthz`
 * included.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import './route-config.js';

export interface HttpLimits {
  /** Request headers must arrive within this (ms). */
  headersTimeoutMs: number;
  /** A whole request, an upload's body included, must arrive within this (ms). */
  requestTimeoutMs: number;
  /** A connection with nothing received or sent for this long is closed (ms). */
  idleTimeoutMs: number;
  /** A body must keep coming: at least `minBodyBytes` in each `bodyWindowMs` while the server is reading it. */
  bodyWindowMs: number;
  minBodyBytes: number;
  /** The body of a route that is not an upload (callbacks, JSON) must arrive whole within this (ms). */
  smallBodyTimeoutMs: number;
  /** Largest body of a route that is not an upload (bytes). */
  bodyLimit: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 3_600_000,
  idleTimeoutMs: 120_000,
  bodyWindowMs: 10_000,
  minBodyBytes: 1024,
  smallBodyTimeoutMs: 10_000,
  bodyLimit: 64 * 1024,
};

/** The fastify options that carry the limits (node's own timeouts: headers, whole request, idle socket). */
export function serverOptions(l: HttpLimits) {
  return {
    bodyLimit: l.bodyLimit,
    requestTimeout: l.requestTimeoutMs,
    connectionTimeout: l.idleTimeoutMs,
    // Node checks its header and request deadlines this often (its default, 30 s, would let them overrun by as much).
    http: { headersTimeout: l.headersTimeoutMs, requestTimeout: l.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, l.headersTimeoutMs) },
  };
}

class BodyTooSlow extends Error {
  readonly code = 'ERR_BODY_TOO_SLOW';
  readonly statusCode = 408;
}

function hasBody(req: FastifyRequest): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

interface Watched {
  req: FastifyRequest;
  /** Bytes the socket had read at the last look. */
  seen: number;
  nextLookAt: number;
  deadline: number | null;
}

/**
 * An onRequest hook that watches the body of each request as it arrives. A
 * window in which the server held unread data does not count against the
 * client (an import that waits on Redis reads slowly on purpose). A body
 * that comes too slowly, or (for a route that is not an upload) not whole in
 * time, is cut off: the connection is closed. One timer looks at every body
 * still arriving a few times a window (no timer or listener per request).
 */
export function watchBodies(l: HttpLimits, onCut: (req: FastifyRequest, why: string) => void = () => undefined) {
  const watched = new Set<Watched>();
  const everyMs = Math.max(50, Math.floor(Math.min(l.bodyWindowMs, l.smallBodyTimeoutMs) / 4));
  let timer: NodeJS.Timeout | null = null;

  const cut = (w: Watched, why: string) => {
    watched.delete(w);
    onCut(w.req, why);
    w.req.raw.destroy(new BodyTooSlow(why));
  };

  function look(): void {
    const now = Date.now();
    for (const w of watched) {
      const raw = w.req.raw;
      if (raw.complete || raw.destroyed) {
        watched.delete(w);
        continue;
      }
      if (w.deadline !== null && now >= w.deadline) {
        cut(w, `the body did not arrive within ${l.smallBodyTimeoutMs} ms`);
        continue;
      }
      if (now < w.nextLookAt) continue;
      const socket = raw.socket;
      const read = socket.bytesRead - w.seen;
      w.seen = socket.bytesRead;
      w.nextLookAt = now + l.bodyWindowMs;
      // Data the server has not read yet: the server is the slow side, not the client.
      const serverBehind = raw.readableLength > 0 || socket.readableLength > 0;
      if (!serverBehind && read < l.minBodyBytes) cut(w, `the body came at fewer than ${l.minBodyBytes} bytes in ${l.bodyWindowMs} ms`);
    }
    if (watched.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!hasBody(req) || req.raw.complete) return;
    const now = Date.now();
    watched.add({ req, seen: req.raw.socket.bytesRead, nextLookAt: now + l.bodyWindowMs, deadline: req.routeOptions.config?.largeBody ? null : now + l.smallBodyTimeoutMs });
    if (!timer) {
      timer = setInterval(look, everyMs);
      timer.unref();
    }
  };
}
