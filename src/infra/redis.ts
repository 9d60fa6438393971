import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type { Redis };

/** A Sentinel's address. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/**
 * Where the deployment's Redis is: one server at a URL, or the primary that
 * Sentinel names (followed through failovers: every connection asks the
 * sentinels again whenever it reconnects).
 */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | {
      kind: 'sentinel';
      sentinels: readonly SentinelAddress[];
      /** The primary's name as the sentinels monitor it. */
      name: string;
      /** AUTH of the primary and replicas (null: none). */
      password: string | null;
      /** AUTH of the sentinels themselves (null: none). */
      sentinelPassword: string | null;
    }
  | {
      kind: 'cluster';
      /** Some of the cluster's nodes: the others are learnt from them. */
      nodes: readonly SentinelAddress[];
      /** AUTH of the nodes (null: none). */
      password: string | null;
    };

/** The target as a message may show it (no password). */
export function describeRedis(target: RedisTarget | string): string {
  const t: RedisTarget = typeof target === 'string' ? { kind: 'url', url: target } : target;
  if (t.kind === 'url') return t.url.replace(/\/\/([^@/]*)@/, '//***@');
  if (t.kind === 'cluster') return `the Redis Cluster of ${t.nodes.map((s) => `${s.host}:${s.port}`).join(',')}`;
  return `the primary "${t.name}" of Sentinel ${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
}

export class RedisUnavailableError extends Error {
  readonly code = 'ERR_REDIS_UNAVAILABLE';
  constructor(target: RedisTarget | string, cause: unknown) {
    const where = describeRedis(target);
    const kind = typeof target === 'string' ? 'url' : target.kind;
    super(
      `Redis is not answering at ${where} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        (kind === 'sentinel'
          ? 'Check that the sentinels in REDIS_SENTINELS run and monitor a primary named REDIS_SENTINEL_NAME, and that the primary they name answers.'
          : kind === 'cluster'
            ? 'Check that the nodes in REDIS_CLUSTER_NODES run with cluster-enabled yes and that the cluster is formed (redis-cli --cluster check host:port).'
            : 'autodialer needs Redis 7: start it with "redis-server --daemonize yes" (Debian: apt-get install redis-server), or point REDIS_URL at one.'),
      { cause },
    );
    this.name = 'RedisUnavailableError';
  }
}

/**
 * A failover moves the primary. A connection to a primary that died closes and
 * asks the sentinels again as it reconnects; Sentinel closes the clients of
 * an instance it turns into a replica. One that still reaches a demoted
 * primary gets READONLY on its next write (UNBLOCKED on a blocking read): it
 * reconnects through the sentinels and sends that command again (it was not
 * applied).
 */
function afterFailover(err: Error): 2 | false {
  return /^(READONLY|UNBLOCKED)/.test(err.message) ? 2 : false;
}

/** The connection options of a target (a URL is passed to ioredis as it is). */
function targetOptions(t: Extract<RedisTarget, { kind: 'sentinel' }>): RedisOptions {
  return {
    sentinels: t.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: t.name,
    ...(t.password !== null ? { password: t.password } : {}),
    ...(t.sentinelPassword !== null ? { sentinelPassword: t.sentinelPassword } : {}),
    reconnectOnError: afterFailover,
  };
}

/** Options that belong to a Cluster itself; the others go to each node's connection. */
const CLUSTER_LEVEL = ['lazyConnect', 'enableReadyCheck', 'enableOfflineQueue', 'enableAutoPipelining', 'scripts'] as const;

function clusterOptions(options: RedisOptions, password: string | null): ClusterOptions {
  const node: RedisOptions = { ...(password !== null ? { password } : {}), ...options };
  const top: ClusterOptions = {};
  for (const k of CLUSTER_LEVEL) {
    if (node[k] === undefined) continue;
    Object.assign(top, { [k]: node[k] });
    delete node[k];
  }
  // A probe that must fail fast does not retry the cluster either.
  if (options.retryStrategy) top.clusterRetryStrategy = () => null;
  return { ...top, redisOptions: node };
}

/**
 * A Cluster answers the commands the stores send, routed by each key's slot
 * (every key of a deployment carries its hash tag, so one node serves them
 * all); the rest of the code holds it as the connection type it shares them with.
 */
function asRedis(cluster: Cluster): Redis {
  return cluster as unknown as Redis;
}

function newRedis(target: RedisTarget | string, options: RedisOptions): Redis {
  const t: RedisTarget = typeof target === 'string' ? { kind: 'url', url: target } : target;
  if (t.kind === 'cluster') return asRedis(new Cluster(t.nodes.map((n) => ({ host: n.host, port: n.port })), clusterOptions(options, t.password)));
  return t.kind === 'url' ? new Redis(t.url, options) : new Redis({ ...targetOptions(t), ...options });
}

/** A connection like `redis` (same target, its options over `options`), a Cluster's included. */
export function duplicateRedis(redis: Redis, options: RedisOptions = {}): Redis {
  if (!redis.isCluster) return redis.duplicate(options);
  const cluster = redis as unknown as Cluster;
  const base = clusterOptions(options, null);
  return asRedis(cluster.duplicate([], { ...base, redisOptions: { ...cluster.options.redisOptions, ...base.redisOptions } }));
}

/**
 * A connection for commands; BullMQ needs maxRetriesPerRequest null on its own connections.
 * Its duplicates (the stores' connection, BullMQ's blocking ones) keep its target and options.
 */
export function createRedis(target: RedisTarget | string, extra: RedisOptions = {}): Redis {
  return newRedis(target, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: true, ...extra });
}

/**
 * The connections a SCAN must walk to see every key: the connection itself,
 * or each master of a Cluster (a Cluster sends a SCAN to any one node).
 */
export function scanTargets(redis: Redis): Redis[] {
  return redis.isCluster ? (redis as unknown as Cluster).nodes('master') : [redis];
}

/** Connects and pings once, failing fast with a message that says how to start Redis. */
export async function connectRedis(target: RedisTarget | string, extra: RedisOptions = {}): Promise<Redis> {
  const probe = newRedis(target, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
    connectTimeout: 3000,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new RedisUnavailableError(target, err);
  } finally {
    probe.disconnect();
  }
  const redis = createRedis(target, extra);
  await redis.connect();
  return redis;
}

/** Whether a connection answers now, and what to call when that changes. */
export interface RedisWatch {
  /** Connected, ready, and answering its probe (when probing). */
  available(): boolean;
  /** Why it is not available (the last connection error, or a probe that went unanswered). */
  reason(): string;
  /** Called each time it stops being available; returns a function that removes the listener. */
  onDown(fn: () => void): () => void;
  stop(): void;
}

interface WatchLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * Follows a connection: handles its errors (no "[ioredis] Unhandled error
 * event" on stderr), logs once when it is lost and once when it is back, never
 * each retry, and tells whether it answers. With `probeEveryMs`, a PING that
 * goes unanswered for `probeTimeoutMs` counts as unavailable too (a Redis that
 * stopped answering on a connection that stays open). The connection keeps
 * retrying on its own; commands sent meanwhile wait for it.
 */
export function watchRedis(redis: Redis, opts: { log: WatchLog; name: string; probeEveryMs?: number; probeTimeoutMs?: number; now?: () => number }): RedisWatch {
  const now = opts.now ?? Date.now;
  const probeTimeoutMs = opts.probeTimeoutMs ?? 2000;
  let lastError = '';
  let lostAt: number | null = null;
  let probeSentAt: number | null = null;
  let stalled = false;
  let stopped = false;
  const listeners = new Set<() => void>();
  const available = () => redis.status === 'ready' && !stalled;
  let was = available();

  function changed(): void {
    if (stopped) return;
    const is = available();
    if (is === was) return;
    was = is;
    if (!is) {
      lostAt = now();
      opts.log.warn({ connection: opts.name, reason: reason() }, 'Redis is not answering: retrying until it is back');
      for (const fn of listeners) fn();
    } else {
      opts.log.info({ connection: opts.name, downMs: lostAt === null ? 0 : now() - lostAt }, 'Redis is answering again');
      lostAt = null;
    }
  }

  function reason(): string {
    if (stalled) return `Redis did not answer a PING within ${probeTimeoutMs} ms`;
    if (redis.status === 'ready') return '';
    return lastError ? `Redis connection ${redis.status}: ${lastError}` : `Redis connection ${redis.status}`;
  }

  const onError = (err: Error) => {
    lastError = err.message;
    changed();
  };
  const onChange = () => {
    if (redis.status === 'ready') lastError = '';
    changed();
  };
  redis.on('error', onError);
  for (const e of ['ready', 'close', 'reconnecting', 'end']) redis.on(e, onChange);

  let timer: NodeJS.Timeout | null = null;
  if (opts.probeEveryMs && opts.probeEveryMs > 0) {
    timer = setInterval(() => {
      if (probeSentAt !== null) {
        if (!stalled && now() - probeSentAt >= probeTimeoutMs) {
          stalled = true;
          changed();
        }
        return;
      }
      if (redis.status !== 'ready') return;
      probeSentAt = now();
      redis.ping().then(
        () => {
          probeSentAt = null;
          stalled = false;
          changed();
        },
        () => {
          probeSentAt = null;
        },
      );
    }, opts.probeEveryMs);
    timer.unref();
  }

  return {
    available,
    reason,
    onDown(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      listeners.clear();
      // The error handler stays: a connection being closed may still report an error.
    },
  };
}

/**
 * Handles the 'error' events of something built on a connection (a BullMQ
 * queue, say): the first of a spell is logged, the next ones within `quietMs`
 * are not.
 */
export function quietErrors(emitter: { on(event: 'error', fn: (err: Error) => void): unknown }, opts: { log: WatchLog; name: string; quietMs?: number; now?: () => number }): void {
  const now = opts.now ?? Date.now;
  let lastLogged = -Infinity;
  emitter.on('error', (err: Error) => {
    if (now() - lastLogged < (opts.quietMs ?? 60_000)) return;
    lastLogged = now();
    opts.log.warn({ connection: opts.name, reason: err.message }, 'Redis error (repeats are not logged for a minute)');
  });
}
