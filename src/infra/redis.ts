import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

export class RedisUnavailableError extends Error {
  readonly code = 'ERR_REDIS_UNAVAILABLE';
  constructor(url: string, cause: unknown) {
    super(
      `Redis is not answering at ${url} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        'autodialer needs Redis 7: start it with "redis-server --daemonize yes" ' +
        '(Debian: apt-get install redis-server), or point REDIS_URL at one.',
      { cause },
    );
    this.name = 'RedisUnavailableError';
  }
}

/** A connection for commands; BullMQ needs maxRetriesPerRequest null on its own connections. */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: true, ...extra });
  return redis;
}

/** Connects and pings once, failing fast with a message that says how to start Redis. */
export async function connectRedis(url: string, extra: RedisOptions = {}): Promise<Redis> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new RedisUnavailableError(url, err);
  } finally {
    probe.disconnect();
  }
  const redis = createRedis(url, extra);
  await redis.connect();
  return redis;
}
