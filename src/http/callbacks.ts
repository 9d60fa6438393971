/**
 * Callback routes the providers post to. Authenticated by a shared secret
 * (`key` query parameter or `X-Callback-Key` header, compared in constant
 * time) and an optional IP allow-list per provider. Every accepted body is
 * stored raw before it is interpreted.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProviderFamily } from '../domain/types.js';
import type { CallbackReceiver } from '../correlation/receiver.js';
import type { CallbackLog, StoredCallbackKind } from '../store/callback-log.js';

export interface CallbackRouteOptions {
  receiver: CallbackReceiver;
  callbackLog: CallbackLog;
  secret: string | null;
  allowIps: Record<ProviderFamily, string[]>;
  now: () => number;
  bodyLimit?: number;
}

const ROUTES: { path: string; kind: StoredCallbackKind; family: ProviderFamily }[] = [
  { path: '/callbacks/sipcall/cdr', kind: 'sipcall-cdr', family: 'sipcall' },
  { path: '/callbacks/sipcall/status', kind: 'sipcall-status', family: 'sipcall' },
  { path: '/callbacks/pbx/cdr', kind: 'pbx-cdr', family: 'pbx' },
];

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of a presented key with the secret. */
export function keyMatches(presented: string | undefined, secret: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(secret));
}

function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers['x-callback-key'];
  if (typeof header === 'string' && header !== '') return header;
  const q = req.query as Record<string, unknown> | undefined;
  const key = q?.key;
  return typeof key === 'string' ? key : undefined;
}

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export async function callbackRoutes(app: FastifyInstance, opts: CallbackRouteOptions): Promise<void> {
  // Keep bodies as text: they are stored raw, then parsed by the provider layer.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: opts.bodyLimit ?? 64 * 1024 }, (_req, body, done) => done(null, body));

  for (const route of ROUTES) {
    app.post(route.path, async (req: FastifyRequest, reply: FastifyReply) => {
      const allow = opts.allowIps[route.family];
      if (allow.length > 0 && !allow.includes(normalizeIp(req.ip))) {
        await opts.callbackLog.count('forbidden', null);
        return reply.code(403).send({ error: 'address not allowed' });
      }
      if (opts.secret !== null && !keyMatches(presentedKey(req), opts.secret)) {
        await opts.callbackLog.count('unauthorized', null);
        return reply.code(401).send({ error: 'missing or wrong callback key' });
      }
      const body = typeof req.body === 'string' ? req.body : '';
      if (body === '') return reply.code(400).send({ error: 'empty body: send the callback as JSON or form fields' });
      const { id, result } = await opts.receiver.receive({
        kind: route.kind,
        receivedAt: opts.now(),
        remoteIp: normalizeIp(req.ip),
        contentType: req.headers['content-type'] ?? '',
        body,
      });
      if (result.kind === 'malformed') {
        return reply.code(400).send({ error: result.reason, field: result.field, stored: id });
      }
      // Orphans, duplicates and late results are kept and acknowledged so the provider stops re-sending.
      return reply.code(200).send({ ok: true, stored: id, result: result.kind });
    });
  }
}
