/** REDIS_CLUSTER_NODES as the configuration reads it: the nodes, and the prefix as a hash tag. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { problemsOf } from '../support/config.js';
import { connectRedis, RedisUnavailableError } from '../../src/infra/redis.js';

describe('Redis Cluster configuration', () => {
  it('REDIS_CLUSTER_NODES: the nodes, the prefix in braces (one hash tag), no replica acks by default', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.5:6379, node-b:6380,[::1]:6381', AUTODIALER_PREFIX: 'tenant-a' }, null);
    expect(c.redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.5', port: 6379 },
        { host: 'node-b', port: 6380 },
        { host: '::1', port: 6381 },
      ],
      password: null,
    });
    expect(c.prefix).toBe('{tenant-a}');
    expect(c.replicaAcks.replicas).toBe(0);
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.5:6379' }, null).prefix).toBe('{autodialer}');
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.5:6379', REDIS_PASSWORD: 'pw' }, null).redis).toMatchObject({ password: 'pw' });
  });

  it('keeps the prefix as it is without a cluster (existing deployments keep their keys)', () => {
    expect(loadConfig({ AUTODIALER_PREFIX: 'tenant-a' }, null).prefix).toBe('tenant-a');
    expect(loadConfig({}, null).prefix).toBe('autodialer');
  });

  it('names the variable and how to fix it', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.5' })).toEqual([expect.stringMatching(/^REDIS_CLUSTER_NODES: "10.0.0.5" is not host:port .*10.0.0.5:6379,10.0.0.6:6379/)]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.5:6379', REDIS_URL: 'redis://x:6379' })).toEqual([expect.stringMatching(/^REDIS_URL: not used with REDIS_CLUSTER_NODES/)]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.5:6379', REDIS_SENTINELS: '10.0.0.5:26379' })).toEqual([expect.stringMatching(/^REDIS_SENTINELS: not used with REDIS_CLUSTER_NODES/)]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.5:6379', AUTODIALER_REPLICA_ACKS: '1' })).toEqual([expect.stringMatching(/^AUTODIALER_REPLICA_ACKS: not supported with REDIS_CLUSTER_NODES/)]);
  });

  it('a node that is no cluster (a plain Redis) fails fast with a message naming REDIS_CLUSTER_NODES', async () => {
    const failed = await connectRedis({ kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 6379 }], password: null }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(RedisUnavailableError);
    expect((failed as Error).message).toMatch(/Redis Cluster of 127\.0\.0\.1:6379 .*REDIS_CLUSTER_NODES/);
  });
});
