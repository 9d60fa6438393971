/**
 * Readiness: `/readyz` says whether the server can work: Redis answers,
 * within a bound, and keeps every key (`maxmemory-policy noeviction`).
 * (`/healthz`, in app.ts, says only that the process is alive.) Neither
 * needs the token.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { RedisWatch } from '../infra/redis.js';
import './route-config.js';

export interface HealthOptions {
  redis: Redis;
  watch: Pick<RedisWatch, 'available' | 'reason'>;
  /** How long /readyz waits for Redis (ms, default 1500). */
  readyTimeoutMs?: number;
}

const POLICY = /^maxmemory_policy:(\S+)/m;

export async function healthRoutes(app: FastifyInstance, opts: HealthOptions): Promise<void> {
  const timeoutMs = opts.readyTimeoutMs ?? 1500;
  const open = { config: { access: 'public', redis: false } } as const;

  app.get('/readyz', open, async (_req, reply) => {
    const notReady = (reason: string) => reply.code(503).send({ ok: false, reason });
    if (!opts.watch.available()) return notReady(opts.watch.reason() || 'Redis is not connected');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    try {
      const info = await Promise.race([opts.redis.info('memory'), late]);
      if (info === 'late') return notReady(`Redis did not answer within ${timeoutMs} ms`);
      const policy = POLICY.exec(info)?.[1];
      if (policy !== undefined && policy !== 'noeviction') {
        return notReady(`Redis maxmemory-policy is ${policy}: set it to noeviction, or Redis may drop campaign data when it is full`);
      }
      return { ok: true };
    } catch (err) {
      return notReady(`Redis: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  });
}
