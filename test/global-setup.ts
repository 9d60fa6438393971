import { Redis } from 'ioredis';

/** Fails the whole run at once, with the way out, when Redis is not answering. */
export default async function setup(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(
      `Redis is not answering at ${url} (${(err as Error).message}). The tests need a real Redis 7: ` +
        `start one with "redis-server --daemonize yes" (Debian: apt-get install redis-server), or set REDIS_URL.`,
    );
  } finally {
    redis.disconnect();
  }
}
