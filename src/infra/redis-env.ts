/**
 * Where Redis is, as the environment says: one server (REDIS_URL), the
 * primary that Sentinel names (REDIS_SENTINELS, REDIS_SENTINEL_NAME), or a
 * Redis Cluster (REDIS_CLUSTER_NODES), with their passwords; and the replica
 * acks an attempt's begin waits for (AUTODIALER_REPLICA_ACKS*). Checked
 * together: a variable that does not go with the others is named, with what
 * to remove. config.ts, the only reader of the environment, passes its reader
 * in.
 */
import { z } from 'zod';
import { intIn, pick, type EnvGet } from './env-values.js';
import type { RedisTarget, SentinelAddress } from './redis.js';

export interface ReplicaAcksConfig {
  /** Replicas that must hold a begin before its request leaves (0: no wait). */
  replicas: number;
  /** How long a begin waits for them. */
  timeoutMs: number;
}

export interface RedisEnv {
  /** REDIS_URL (its default when unset; not used under Sentinel). */
  redisUrl: string;
  redis: RedisTarget;
  replicaAcks: ReplicaAcksConfig;
}

export function redisFromEnv(get: EnvGet, problems: string[]): RedisEnv {
  const redisUrl = pick(
    problems,
    'REDIS_URL',
    z.string().regex(/^rediss?:\/\//, 'REDIS_URL must start with redis:// or rediss://'),
    get('REDIS_URL'),
    'redis://127.0.0.1:6379',
  );
  const redis = targetFromEnv(get, problems, redisUrl);
  const replicaAcks = replicaAcksFromEnv(get, problems, redis.kind === 'sentinel');
  if (redis.kind === 'cluster' && replicaAcks.replicas > 0) {
    // WAIT names no key: a Cluster would send it to any node, not the master that holds the begins.
    problems.push('AUTODIALER_REPLICA_ACKS: not supported with REDIS_CLUSTER_NODES: set it to 0 or remove it');
  }
  return { redisUrl, redis, replicaAcks };
}

/** A list of sentinels, `host:port,host:port` (an IPv6 address in brackets). */
function parseSentinels(raw: string, problems: string[], variable = 'REDIS_SENTINELS', examplePort = 26379): SentinelAddress[] {
  const out: SentinelAddress[] = [];
  for (const item of raw.split(',').map((s) => s.trim())) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) {
      problems.push(`${variable}: ${JSON.stringify(item)} is not host:port (write host:port,host:port, for example 10.0.0.5:${examplePort},10.0.0.6:${examplePort}; an IPv6 address in brackets: [::1]:${examplePort})`);
      continue;
    }
    out.push({ host: m[1] ?? m[2] ?? '', port });
  }
  return out;
}

/** REDIS_URL, REDIS_SENTINELS with REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES (and their passwords), checked together. */
function targetFromEnv(get: EnvGet, problems: string[], redisUrl: string): RedisTarget {
  const clusterNodes = get('REDIS_CLUSTER_NODES');
  if (clusterNodes !== undefined) {
    for (const name of ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (get(name) !== undefined) problems.push(`${name}: not used with REDIS_CLUSTER_NODES (the dialer runs on that Redis Cluster): remove ${name}, or remove REDIS_CLUSTER_NODES`);
    }
    return { kind: 'cluster', nodes: parseSentinels(clusterNodes, problems, 'REDIS_CLUSTER_NODES', 6379), password: get('REDIS_PASSWORD') ?? null };
  }
  const sentinels = get('REDIS_SENTINELS');
  if (sentinels === undefined) {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD', 'REDIS_PASSWORD'] as const) {
      if (get(name) === undefined) continue;
      const url = name === 'REDIS_PASSWORD' ? ', or put the password in REDIS_URL (redis://:password@host:6379)' : '';
      problems.push(`${name}: only used with REDIS_SENTINELS: set REDIS_SENTINELS to the sentinels' host:port list${url}, or remove ${name}`);
    }
    return { kind: 'url', url: redisUrl };
  }
  if (get('REDIS_URL') !== undefined) {
    problems.push('REDIS_URL and REDIS_SENTINELS are both set: keep one (REDIS_SENTINELS finds the primary through Sentinel; REDIS_URL names one server)');
  }
  const name = get('REDIS_SENTINEL_NAME');
  if (name === undefined) {
    problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS: the name the sentinels monitor the primary under ("sentinel monitor <name> …"), for example mymaster');
  } else if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    problems.push(`REDIS_SENTINEL_NAME: may hold letters, digits, _ . - (1 to 64), got ${JSON.stringify(name)}`);
  }
  return { kind: 'sentinel', sentinels: parseSentinels(sentinels, problems), name: name ?? '', password: get('REDIS_PASSWORD') ?? null, sentinelPassword: get('REDIS_SENTINEL_PASSWORD') ?? null };
}

/** AUTODIALER_REPLICA_ACKS (default 1 under Sentinel, else 0) and AUTODIALER_REPLICA_ACKS_TIMEOUT_MS. */
function replicaAcksFromEnv(get: EnvGet, problems: string[], sentinel: boolean): ReplicaAcksConfig {
  return {
    replicas: pick(problems, 'AUTODIALER_REPLICA_ACKS', intIn('AUTODIALER_REPLICA_ACKS', 0, 16), get('AUTODIALER_REPLICA_ACKS'), sentinel ? 1 : 0),
    timeoutMs: pick(problems, 'AUTODIALER_REPLICA_ACKS_TIMEOUT_MS', intIn('AUTODIALER_REPLICA_ACKS_TIMEOUT_MS', 1, 60_000), get('AUTODIALER_REPLICA_ACKS_TIMEOUT_MS'), 1000),
  };
}
