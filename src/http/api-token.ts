/**
 * Where the API tokens come from: `AUTODIALER_API_TOKEN` (comma-separated,
 * for a rotation), or else one the first server made and kept in Redis, so
 * that the API is never open by accident and every server of a deployment
 * accepts the same token.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** The Redis key holding the generated token of a deployment. */
export const apiTokenKey = (prefix: string): string => `${prefix}:api-token`;

export interface ResolvedTokens {
  tokens: string[];
  /** Where they come from: the environment, or the deployment's generated token (made just now, or earlier). */
  source: 'environment' | 'generated' | 'stored';
}

/**
 * The configured tokens, or the deployment's generated one (made now when
 * there is none yet: SET NX, so that servers starting together agree).
 */
export async function resolveApiTokens(deps: { redis: Redis; prefix: string; configured: readonly string[]; random?: (n: number) => Buffer }): Promise<ResolvedTokens> {
  if (deps.configured.length > 0) return { tokens: [...deps.configured], source: 'environment' };
  const key = apiTokenKey(deps.prefix);
  const made = (deps.random ?? randomBytes)(32).toString('base64url');
  const created = await deps.redis.set(key, made, 'NX');
  if (created === 'OK') return { tokens: [made], source: 'generated' };
  const kept = await deps.redis.get(key);
  if (!kept) throw new Error(`the API token at ${key} vanished while it was read: start the server again`);
  return { tokens: [kept], source: 'stored' };
}

/** The dashboard's address with the token in its fragment (never sent to a server, never in a Referer). */
export function dashboardAddress(base: string, token: string): string {
  return `${base.replace(/\/+$/, '')}/#token=${encodeURIComponent(token)}`;
}
