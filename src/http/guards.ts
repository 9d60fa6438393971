/**
 * Server-wide guards of the HTTP side: no cross-site writes, and security
 * headers on every answer.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The origin (`scheme://host[:port]`) of a URL, or null. */
function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.origin === 'null' ? null : u.origin;
  } catch {
    return null;
  }
}

/**
 * An onRequest hook refusing (403) a request that changes state and comes
 * from a page of another site: `Sec-Fetch-Site` other than `same-origin` or
 * `none`, or an `Origin` that is neither this server's (as the request's Host
 * names it) nor one of `trusted` (the public URL). Requests without those
 * headers (curl, a provider, a program) are not browsers' and pass.
 */
export function refuseCrossSite(trusted: readonly string[]) {
  const allowed = new Set(trusted.map(originOf).filter((o): o is string => o !== null));
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (SAFE_METHODS.has(req.method)) return;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return void (await sendError(reply, 403, 'cross_site_request', `a request from another site (Sec-Fetch-Site: ${site}) may not change anything here`));
    }
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const own = `${req.protocol}://${req.host}`;
    if (origin === own || allowed.has(origin)) return;
    await sendError(reply, 403, 'cross_site_request', `a request from another origin (${origin.slice(0, 200)}) may not change anything here`);
  };
}

/**
 * The page's policy: scripts, styles and data from this server only (the
 * page's own inline script and styles included), no frames, no forms to
 * elsewhere, no plugins.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** An onSend hook adding security headers to every answer (and the page's policy to HTML ones). */
export async function securityHeaders(_req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-resource-policy', 'same-origin');
  if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  const type = reply.getHeader('content-type');
  if (typeof type === 'string' && type.startsWith('text/html')) {
    reply.header('content-security-policy', PAGE_CSP);
    reply.header('cross-origin-opener-policy', 'same-origin');
  }
  return payload;
}
