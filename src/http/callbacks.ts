/**
 * Callback routes the providers post to. Authenticated by a shared secret
 * (`key` query parameter or `X-Callback-Key` header, compared in constant
 * time) and an optional IP allow-list per provider; without a secret they
 * are refused, unless the deployment says it takes them without a key
 * (`AUTODIALER_CALLBACK_AUTH=none`). Every authenticated, well-formed body is
 * stored raw before it is interpreted; a malformed one (unreadable, or not
 * the provider's format) is answered 400 naming the field, counted and
 * logged, never stored. The answer leaves once the body is stored, and
 * correlation runs off the request. Stored callbacks a previous process
 * never interpreted are recovered when the server starts; closing waits for
 * the ones in hand.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProviderFamily } from '../domain/types.js';
import type { Accepted, CallbackReceiver } from '../correlation/receiver.js';
import type { CallbackLog, StoredCallbackKind } from '../store/callback-log.js';
import './route-config.js';

export interface CallbackRouteOptions {
  receiver: Pick<CallbackReceiver, 'accept' | 'recover' | 'idle'>;
  callbackLog: CallbackLog;
  secret: string | null;
  /** `none`: take callbacks without a key when there is no secret (otherwise they are refused). */
  auth?: 'key' | 'none';
  allowIps: Record<ProviderFamily, string[]>;
  now: () => number;
  bodyLimit?: number;
  /** At start-up, interpret entries left pending at least this long ago (default 60 s). */
  recoverOlderThanMs?: number;
}

const ROUTES: { path: string; kind: StoredCallbackKind; family: ProviderFamily }[] = [
  { path: '/callbacks/sipcall/cdr', kind: 'sipcall-cdr', family: 'sipcall' },
  { path: '/callbacks/sipcall/status', kind: 'sipcall-status', family: 'sipcall' },
  { path: '/callbacks/pbx/cdr', kind: 'pbx-cdr', family: 'pbx' },
];

/** One-shot SHA-256 (no hash object per request). */
const digest = (s: string): Buffer => hash('sha256', s, 'buffer');

/** Constant-time comparison of a presented key with the secret (or the secret's SHA-256, computed once). */
export function keyMatches(presented: string | undefined, secret: string | Buffer): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), typeof secret === 'string' ? digest(secret) : secret);
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

  const secretDigest = opts.secret === null ? null : digest(opts.secret);
  const refuseAll = secretDigest === null && opts.auth !== 'none';
  for (const route of ROUTES) {
    // No child logger per callback (pino builds one with its redaction for every request): these routes log
    // rarely (a store failure), through the server's logger; the stored entry's id is the handle.
    app.post(route.path, { childLoggerFactory: (logger) => logger, config: { access: 'public' } }, async (req: FastifyRequest, reply: FastifyReply) => {
      const allow = opts.allowIps[route.family];
      if (allow.length > 0 && !allow.includes(normalizeIp(req.ip))) {
        await opts.callbackLog.count('forbidden', null);
        return reply.code(403).send({ error: 'address not allowed' });
      }
      if (refuseAll) {
        await opts.callbackLog.count('unauthorized', null);
        return reply.code(401).send({ error: 'callbacks are refused: this server has no AUTODIALER_CALLBACK_SECRET (set one, or AUTODIALER_CALLBACK_AUTH=none to take callbacks without a key)' });
      }
      if (secretDigest !== null && !keyMatches(presentedKey(req), secretDigest)) {
        await opts.callbackLog.count('unauthorized', null);
        return reply.code(401).send({ error: 'missing or wrong callback key' });
      }
      const body = typeof req.body === 'string' ? req.body : '';
      let accepted: Accepted;
      try {
        accepted = await opts.receiver.accept({
          kind: route.kind,
          receivedAt: opts.now(),
          remoteIp: normalizeIp(req.ip),
          contentType: req.headers['content-type'] ?? '',
          body,
        });
      } catch (err) {
        // Not stored: the provider must send it again. Logged without the URL (it may carry the key).
        req.log.error({ err, route: route.path }, 'could not store a callback');
        if (reply.sent) return reply;
        return reply.code(503).send({ error: 'callback not stored: try again' });
      }
      // Answered meanwhile (Redis went away while the callback was being stored: a 503 was sent for it).
      if (reply.sent) return reply;
      if (accepted.malformed) {
        // Counted and logged by the receiver, not stored: the provider's own copy is the only one.
        return reply.code(400).send({ error: accepted.malformed.reason, field: accepted.malformed.field });
      }
      // Stored: orphans, duplicates and late results are kept too, and acknowledged so the provider stops re-sending.
      return reply.code(200).send({ ok: true, stored: accepted.id });
    });
  }

  app.addHook('onReady', async () => {
    if (refuseAll) app.log.warn('AUTODIALER_CALLBACK_SECRET is not set: every callback is refused (401); set it, or AUTODIALER_CALLBACK_AUTH=none to take callbacks without a key');
    await opts.receiver.recover({ olderThanMs: opts.recoverOlderThanMs ?? 60_000, now: opts.now() });
  });
  app.addHook('onClose', async () => {
    await opts.receiver.idle();
  });
}
