/**
 * The API token (`Authorization: Bearer`), required by every route unless
 * the route says otherwise (`config: { access: 'public' }`: callbacks, which
 * have their own key, health, and the dashboard page, which holds no data).
 * Several tokens may be accepted at once (a rotation); each is compared in
 * constant time, and all of them are always compared.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

/** Route config: who may call the route without the API token. */
export interface AccessConfig {
  access?: 'public';
}

const digest = (s: string): Buffer => hash('sha256', s, 'buffer');

/** True when the header is `Bearer <one of the tokens>`. */
export function bearerMatches(header: string | undefined, tokens: readonly Buffer[]): boolean {
  if (!header) return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (m === null) return false;
  const presented = digest(m[1]!);
  let ok = false;
  for (const t of tokens) ok = timingSafeEqual(presented, t) || ok;
  return ok;
}

/** An onRequest hook refusing, with 401, requests to non-public routes without a valid token. */
export function requireApiToken(tokens: readonly string[]) {
  if (tokens.length === 0) throw new Error('requireApiToken: at least one token is needed');
  const digests = tokens.map(digest);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if ((req.routeOptions.config as AccessConfig | undefined)?.access === 'public') return;
    if (bearerMatches(req.headers.authorization, digests)) return;
    reply.header('www-authenticate', 'Bearer');
    await sendError(reply, 401, 'unauthorized', 'missing or wrong API token: send Authorization: Bearer <token> (AUTODIALER_API_TOKEN)');
  };
}
