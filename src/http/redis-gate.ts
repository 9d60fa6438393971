/**
 * While Redis is unavailable, every route that needs it answers 503 at once
 * (`redis_unavailable`; a provider sends a callback again later) instead of
 * waiting for the connection; requests caught in hand when Redis goes are
 * answered 503 too (what they had begun may or may not have been done).
 * Health and the page answer without Redis.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RedisWatch } from '../infra/redis.js';
import { errorBody, sendError } from './errors.js';
import './route-config.js';

const RETRY_AFTER_S = '5';

const message = (watch: Pick<RedisWatch, 'reason'>) => `Redis is unavailable (${watch.reason() || 'not answering'}): try again shortly`;

export function redisGate(app: FastifyInstance, watch: Pick<RedisWatch, 'available' | 'reason' | 'onDown'>): void {
  /** Requests that need Redis and have no answer yet. */
  const inHand = new Set<FastifyReply>();

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.routeOptions.config?.redis === false) return;
    if (!watch.available()) {
      reply.header('retry-after', RETRY_AFTER_S);
      return void (await sendError(reply, 503, 'redis_unavailable', message(watch)));
    }
    inHand.add(reply);
    const done = () => inHand.delete(reply);
    reply.raw.once('close', done);
  });

  const off = watch.onDown(() => {
    for (const reply of inHand) {
      inHand.delete(reply);
      const res = reply.raw;
      if (res.writableEnded || res.destroyed) continue;
      if (res.headersSent) {
        // A download under way cannot be finished: cut, so that it is not taken for a whole file.
        res.destroy();
        continue;
      }
      // The handler still waits on Redis: answer now, and close the connection (a body may still be arriving).
      reply.hijack();
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': RETRY_AFTER_S, connection: 'close' });
      res.end(JSON.stringify(errorBody('redis_unavailable', message(watch))));
    }
  });
  app.addHook('onClose', async () => {
    off();
  });
}
