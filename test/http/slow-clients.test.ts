/**
 * Many slow clients do not take the server down: with more half-sent
 * callbacks than the process may hold open files, each is cut off by the
 * server's own limits (the shipped defaults) and `/healthz` is answered. The
 * server is the real command (`autodialer server`) in a process of its own,
 * its open files limited to 256.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';
import { until } from '../support/until.js';
import { postHead, slowClient, type SlowClient } from './slow-client.js';

const SECRET = 'slow-clients-secret-0123456789';
const SLOW_CLIENTS = 400;
const OPEN_FILES = 256;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** GET /healthz on a connection of its own: its status, or null when the server did not answer. */
function health(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

describe('many slow clients', () => {
  const prefix = testPrefix('http-slow');
  let child: ChildProcess;
  let port: number;
  let stderr = '';
  let exited = false;

  beforeAll(async () => {
    port = await freePort();
    child = spawn('bash', ['-c', `ulimit -n ${OPEN_FILES} && exec "${process.execPath}" bin/autodialer.js server`], {
      env: {
        ...process.env,
        AUTODIALER_DEV: '1',
        REDIS_URL,
        AUTODIALER_PREFIX: prefix,
        AUTODIALER_HTTP_HOST: '127.0.0.1',
        AUTODIALER_HTTP_PORT: String(port),
        AUTODIALER_CALLBACK_SECRET: SECRET,
        AUTODIALER_API_TOKEN: 'slow-clients-api-token-0123456789',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (stderr += d));
    child.once('exit', () => (exited = true));
    await until(async () => exited || (await health(port)) === 200, 'the server answers', 30_000, 100);
    expect(exited).toBe(false);
  }, 40_000);

  afterAll(async () => {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    const redis = connectRedis();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it(`cuts off ${SLOW_CLIENTS} callbacks sent a byte a second past a ${OPEN_FILES}-file limit, and /healthz is answered`, async () => {
    const clients: SlowClient[] = [];
    for (let i = 0; i < SLOW_CLIENTS; i++) {
      clients.push(slowClient(port, postHead(`/callbacks/sipcall/cdr?key=${SECRET}`, 60_000), { bytes: '{', everyMs: 1000 }));
    }
    try {
      // Answered while they are held, or once the server has cut them off: never left unanswered.
      await until(async () => (await health(port)) === 200, '/healthz answered', 45_000, 200);
      const ends = await Promise.all(clients.map((c) => c.closed));
      // Every one of them was closed by the server, none answered as if its body had come.
      expect(ends.every((e) => !/^HTTP\/1\.1 2/.test(e.answer))).toBe(true);
      expect(clients.every((c) => c.sent() < 60)).toBe(true);
      expect(await health(port)).toBe(200);
      expect(exited).toBe(false);
      expect(stderr).toContain('request body too slow');
      expect(stderr).not.toMatch(/EMFILE.*uncaught|Unhandled/i);
    } finally {
      for (const c of clients) c.stop();
    }
  }, 60_000);
});
