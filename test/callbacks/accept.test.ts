/**
 * The answer does not wait for correlation: `accept` returns once the
 * callback is stored and read, interpretation runs behind it, and a full
 * backlog makes `accept` wait instead of growing. Real Redis and callback
 * log; the attempt service is a typed fake whose results the test releases.
 */
import { Writable } from 'node:stream';
import Fastify, { LogController } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { makeCallbackReceiver, type CallbackReceiver } from '../../src/correlation/receiver.js';
import { callbackRoutes } from '../../src/http/callbacks.js';
import { makeCallbackLog } from '../../src/store/callback-log.js';
import { makeAttemptStore } from '../../src/store/attempts.js';
import { keys as makeKeys } from '../../src/store/keys.js';
import { DialerEvents } from '../../src/engine/events.js';
import { createLogger } from '../../src/infra/logger.js';
import type { ResultEffect } from '../../src/engine/attempts.js';
import type { Redis } from '../../src/infra/redis.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { SECRET, sipcallCdr } from './support.js';

const SETTINGS = { sipcallTimezone: 'Asia/Shanghai', pbxTimezone: 'Asia/Tehran', pbxCallIdField: 'originated_call_id' };

describe('accepting callbacks ahead of their interpretation', () => {
  let redis: Redis;
  const prefix = testPrefix('cb-accept');
  const keys = makeKeys(prefix);
  beforeAll(() => {
    redis = connectRedis();
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  /** A service whose results finish when the test releases them, in the order they started. */
  function gatedService() {
    const started: string[] = [];
    const gates: (() => void)[] = [];
    return {
      started,
      release: () => gates.shift()?.(),
      service: {
        async result(id: string): Promise<ResultEffect | 'unknown'> {
          started.push(id);
          await new Promise<void>((r) => gates.push(r));
          return 'final';
        },
        async progress(): Promise<ResultEffect | 'unknown'> {
          return 'progress';
        },
      },
    };
  }

  const raw = (n: number) => ({
    kind: 'sipcall-cdr' as const,
    receivedAt: Date.now(),
    remoteIp: '127.0.0.1',
    contentType: 'application/json',
    body: JSON.stringify(sipcallCdr({ customuuid: `abcdefgh-${n}-1`, uuid: `u-${n}`, destnumber: '13800000000', outcome: 'busy' })),
  });

  it('answers once stored, correlates behind, and holds the caller back when the backlog is full', async () => {
    const callbackLog = makeCallbackLog({ redis, keys });
    const g = gatedService();
    const receiver: CallbackReceiver = makeCallbackReceiver({
      redis,
      keys,
      callbackLog,
      attempts: makeAttemptStore({ redis, keys }),
      service: g.service,
      events: new DialerEvents(),
      settings: SETTINGS,
      log: createLogger({ level: 'silent' }),
      options: { concurrency: 1, capacity: 1 },
    });
    const turn = () => new Promise((r) => setImmediate(r));

    // The first runs at once and blocks in the service; the answer did not wait for it.
    const first = await receiver.accept(raw(1));
    expect(first.malformed).toBeNull();
    await turn();
    expect(g.started).toEqual(['abcdefgh-1-1']);
    expect(await callbackLog.pendingCount()).toBe(1);
    expect((await callbackLog.counters(null)).correlated).toBe(0);

    // The second fills the backlog; the third must wait for room.
    await receiver.accept(raw(2));
    let thirdDone = false;
    const third = receiver.accept(raw(3)).then(() => {
      thirdDone = true;
    });
    await turn();
    await turn();
    expect(thirdDone).toBe(false);
    // Stored already: waiting is for room in the backlog only.
    expect(await callbackLog.length()).toBe(3);

    g.release();
    await third;
    expect(thirdDone).toBe(true);
    while (g.started.length < 3) {
      await turn();
      g.release();
    }
    g.release();
    await receiver.idle();
    expect(g.started).toEqual(['abcdefgh-1-1', 'abcdefgh-2-1', 'abcdefgh-3-1']);
    expect(await callbackLog.pendingCount()).toBe(0);
    expect(await callbackLog.counters(null)).toMatchObject({ received: 3, correlated: 3 });
  });

  it('answers 503 when the callback cannot be stored, without logging the key', async () => {
    const chunks: string[] = [];
    const log = createLogger({
      level: 'trace',
      destination: new Writable({
        write(c: Buffer, _e, done) {
          chunks.push(c.toString());
          done();
        },
      }),
    });
    const failing: Pick<CallbackReceiver, 'accept' | 'recover' | 'idle'> = {
      accept: async () => {
        throw new Error('Redis went away');
      },
      recover: async () => 0,
      idle: async () => undefined,
    };
    // As src/http/app.ts builds it: request logging off (a request line would carry the query key).
    const app = Fastify({ loggerInstance: log, logController: new LogController({ disableRequestLogging: true }) });
    await app.register(callbackRoutes, {
      receiver: failing,
      callbackLog: makeCallbackLog({ redis, keys }),
      secret: SECRET,
      allowIps: { sipcall: [], pbx: [] },
      now: () => Date.now(),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const res = await request(`http://127.0.0.1:${port}/callbacks/sipcall/cdr?key=${SECRET}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-callback-key': SECRET },
        body: JSON.stringify(raw(9).body),
      });
      expect(res.statusCode).toBe(503);
      expect(await res.body.json()).toEqual({ error: 'callback not stored: try again' });
    } finally {
      await app.close();
    }
    const logs = chunks.join('');
    expect(logs).toMatch(/could not store a callback/);
    expect(logs).toMatch(/Redis went away/);
    expect(logs).not.toContain(SECRET);
  });
});
