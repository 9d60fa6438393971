/** REDIS_SENTINELS and the replica acks, as the configuration reads them. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { problemsOf } from '../support/config.js';

describe('Redis through Sentinel', () => {
  it('REDIS_URL alone: one server, no replica acks', () => {
    const c = loadConfig({ REDIS_URL: 'redis://10.0.0.9:6380' }, null);
    expect(c.redis).toEqual({ kind: 'url', url: 'redis://10.0.0.9:6380' });
    expect(c.replicaAcks).toEqual({ replicas: 0, timeoutMs: 1000 });
    expect(loadConfig({}, null).redis).toEqual({ kind: 'url', url: 'redis://127.0.0.1:6379' });
  });

  it('REDIS_SENTINELS with REDIS_SENTINEL_NAME: the sentinels, the name, one replica ack by default', () => {
    const c = loadConfig({ REDIS_SENTINELS: '10.0.0.5:26379, sentinel-b:26380,[::1]:26381', REDIS_SENTINEL_NAME: 'mymaster' }, null);
    expect(c.redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.5', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      name: 'mymaster',
      password: null,
      sentinelPassword: null,
    });
    expect(c.replicaAcks).toEqual({ replicas: 1, timeoutMs: 1000 });
    const secured = loadConfig(
      { REDIS_SENTINELS: '10.0.0.5:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_PASSWORD: 'data-secret', REDIS_SENTINEL_PASSWORD: 'sentinel-secret' },
      null,
    );
    expect(secured.redis).toMatchObject({ password: 'data-secret', sentinelPassword: 'sentinel-secret' });
  });

  it('AUTODIALER_REPLICA_ACKS and its timeout are taken as given (0: no wait, also under Sentinel)', () => {
    const base = { REDIS_SENTINELS: '10.0.0.5:26379', REDIS_SENTINEL_NAME: 'mymaster' };
    expect(loadConfig({ ...base, AUTODIALER_REPLICA_ACKS: '0' }, null).replicaAcks.replicas).toBe(0);
    expect(loadConfig({ ...base, AUTODIALER_REPLICA_ACKS: '2', AUTODIALER_REPLICA_ACKS_TIMEOUT_MS: '250' }, null).replicaAcks).toEqual({ replicas: 2, timeoutMs: 250 });
    // A primary with replicas but no Sentinel may wait for them too.
    expect(loadConfig({ AUTODIALER_REPLICA_ACKS: '1' }, null).replicaAcks.replicas).toBe(1);
  });

  it('names the variable and says what to write', () => {
    expect(problemsOf({ REDIS_SENTINELS: '10.0.0.5:26379' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: required with REDIS_SENTINELS: .*for example mymaster/)]);
    expect(problemsOf({ REDIS_SENTINELS: '10.0.0.5', REDIS_SENTINEL_NAME: 'm' })).toEqual([expect.stringMatching(/^REDIS_SENTINELS: "10\.0\.0\.5" is not host:port \(write host:port,host:port/)]);
    expect(problemsOf({ REDIS_SENTINELS: '10.0.0.5:26379,,h:0', REDIS_SENTINEL_NAME: 'm' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS: "" is not host:port/),
      expect.stringMatching(/^REDIS_SENTINELS: "h:0" is not host:port/),
    ]);
    expect(problemsOf({ REDIS_SENTINELS: '10.0.0.5:26379', REDIS_SENTINEL_NAME: 'my master' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: may hold letters/)]);
    expect(problemsOf({ REDIS_URL: 'redis://10.0.0.9:6379', REDIS_SENTINELS: '10.0.0.5:26379', REDIS_SENTINEL_NAME: 'm' })).toEqual([
      expect.stringMatching(/^REDIS_URL and REDIS_SENTINELS are both set: keep one/),
    ]);
    expect(problemsOf({ REDIS_SENTINEL_NAME: 'mymaster' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_NAME: only used with REDIS_SENTINELS/)]);
    expect(problemsOf({ REDIS_PASSWORD: 'x' })).toEqual([expect.stringMatching(/^REDIS_PASSWORD: only used with REDIS_SENTINELS: .*put the password in REDIS_URL/)]);
    expect(problemsOf({ AUTODIALER_REPLICA_ACKS: 'one' })).toEqual([expect.stringMatching(/^AUTODIALER_REPLICA_ACKS: AUTODIALER_REPLICA_ACKS must be a whole number/)]);
    expect(problemsOf({ AUTODIALER_REPLICA_ACKS: '17' })).toEqual([expect.stringMatching(/between 0 and 16/)]);
    expect(problemsOf({ AUTODIALER_REPLICA_ACKS_TIMEOUT_MS: '0' })).toEqual([expect.stringMatching(/^AUTODIALER_REPLICA_ACKS_TIMEOUT_MS: .*between 1 and 60000/)]);
  });
});
