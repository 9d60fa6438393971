/**
 * Optional bearer token for the campaign API and the dashboard's data
 * (`AUTODIALER_API_TOKEN`), compared in constant time. Callbacks have their
 * own key; health needs none.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

/** An onRequest hook refusing requests without the token; a no-op when no token is configured. */
export function requireApiToken(token: string | null) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (token === null) return;
    if (!bearerMatches(req.headers.authorization, token)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong API token (Authorization: Bearer …)' });
    }
  };
}
