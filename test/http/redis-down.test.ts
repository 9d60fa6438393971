/**
 * When Redis is down every route answers within a bound — `/healthz` 200,
 * `/readyz` 503, the API 503 `redis_unavailable`, callbacks 503 (the provider
 * sends them again) — the processes retry quietly, and a running campaign
 * carries on once Redis is back. `autodialer start` in a process of its own
 * against a redis-server of this test's own (AOF, so that a restart keeps the
 * data), stopped by its PID and started again; the simulator dials.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import { DEFAULT_TOKEN, startSimulator, type Simulator } from '../../src/simulator/index.js';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { multipartBody, playvoiceDefinition } from '../upload/form.js';
import { until } from '../support/until.js';

const SECRET = 'redis-down-secret-0123456789';
const TOKEN = 'redis-down-api-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const CONTACTS = 12;
/** Every answer must come within this (a request that waits on Redis would not). */
const BOUND_MS = 5000;

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

/** A redis-server of the test's own on a free loopback port (with AOF in `dir` when given). */
async function ownRedis(port: number, dir?: string): Promise<ChildProcess> {
  const persist = dir ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persist], { stdio: 'ignore' });
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await until(async () => {
    try {
      if (probe.status !== 'ready') await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      probe.disconnect();
      return false;
    }
  }, 'redis-server answers');
  probe.disconnect();
  return p;
}

describe('Redis down and back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autodialer-redis-'));
  const bounded = new Agent({ headersTimeout: BOUND_MS, bodyTimeout: BOUND_MS, connectTimeout: BOUND_MS });
  let redisPort: number;
  let httpPort: number;
  let redisServer: ChildProcess | null = null;
  let dialer: ChildProcess | null = null;
  let dialerExit: Promise<number | null>;
  let sim: Simulator;
  let stderr = '';
  let url: string;
  /** Between the simulator and the dialer: what the provider was answered, callback by callback. */
  let relay: Server;
  const answered: number[] = [];

  async function startRedis(): Promise<void> {
    redisServer = await ownRedis(redisPort, dir);
  }

  async function stopRedis(): Promise<void> {
    const p = redisServer!;
    redisServer = null;
    const gone = new Promise((r) => p.once('exit', r));
    process.kill(p.pid!, 'SIGTERM');
    await gone;
  }

  const api = async (path: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}) => {
    const res = await request(`${url}${path}`, { dispatcher: bounded, method: (init.method ?? 'GET') as 'GET', headers: { ...AUTH, ...init.headers }, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await res.body.text();
    return { status: res.statusCode, json: (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, unknown> };
  };

  beforeAll(async () => {
    [redisPort, httpPort] = await Promise.all([freePort(), freePort()]);
    url = `http://127.0.0.1:${httpPort}`;
    await startRedis();
    relay = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers = { 'content-type': req.headers['content-type'] ?? 'application/json' };
        request(`${url}${req.url}`, { dispatcher: bounded, method: 'POST', headers, body: Buffer.concat(chunks) })
          .then(async (r) => ({ status: r.statusCode, text: await r.body.text() }))
          .catch(() => ({ status: 502, text: '' }))
          .then(({ status, text }) => {
            answered.push(status);
            res.writeHead(status, { 'content-type': 'application/json' }).end(text);
          });
      });
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayUrl = `http://127.0.0.1:${(relay.address() as { port: number }).port}`;
    // Calls last a while and callbacks are sent again on failure for long enough to outlast the outage.
    sim = await startSimulator({ callbackUrl: relayUrl, callbackSecret: SECRET, token: DEFAULT_TOKEN, mix: { answered: 1 }, timeScale: 0.1, callbackDelayMs: 300, callbackRetries: 12, callbackRetryBaseMs: 200 });
    dialer = spawn(process.execPath, ['bin/autodialer.js', 'start'], {
      env: {
        ...process.env,
        AUTODIALER_DEV: '1',
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        AUTODIALER_PREFIX: 'redis-down',
        AUTODIALER_HTTP_HOST: '127.0.0.1',
        AUTODIALER_HTTP_PORT: String(httpPort),
        AUTODIALER_CALLBACK_SECRET: SECRET,
        AUTODIALER_API_TOKEN: TOKEN,
        SIPCALL_API_URL: sim.url,
        SIPCALL_TOKEN: DEFAULT_TOKEN,
        SIPCALL_TIMEZONE: 'Asia/Shanghai',
        AUTODIALER_SHUTDOWN_GRACE_MS: '2000',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    dialerExit = new Promise((r) => dialer!.once('exit', (code) => r(code)));
    dialer.stderr!.setEncoding('utf8');
    dialer.stderr!.on('data', (d: string) => (stderr += d));
    await until(async () => (await api('/readyz').catch(() => ({ status: 0 }))).status === 200, 'the dialer is ready', 30_000, 100);
  }, 60_000);

  afterAll(async () => {
    if (dialer && dialer.exitCode === null) {
      dialer.kill('SIGKILL');
      await dialerExit;
    }
    await sim?.close();
    await new Promise((r) => relay?.close(r));
    if (redisServer) await stopRedis();
    await bounded.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every route within a bound while Redis is down, retries quietly, and finishes the campaign once it is back', async () => {
    const form = multipartBody([
      { name: 'definition', value: playvoiceDefinition({ cps: 2, maxConcurrent: 4, resultTimeout: '2m' }) },
      { name: 'numberFormat', value: 'as_written' },
      { name: 'file', filename: 'list.csv', content: ['phone', ...Array.from({ length: CONTACTS }, (_, i) => `1390000${String(i).padStart(4, '0')}`)].join('\n') },
    ]);
    const created = await api('/campaigns', { method: 'POST', body: form.body, headers: { 'content-type': form.contentType } });
    expect(created.status).toBe(201);
    const id = String(created.json.id);
    const status = async () => (await api(`/campaigns/${id}`)).json as { state: string; final: number; counts: Record<string, number> };
    // Some calls ended, some still out with the provider.
    await until(async () => (await status()).final >= 2 && sim.stats().callsPlaced > (await status()).final, 'calls ended and calls out', 30_000, 50).catch(async (e: Error) => {
      throw new Error(`${e.message}: status ${JSON.stringify(await status())}, simulator ${JSON.stringify(sim.stats())}, dialer's last lines ${stderr.slice(-2000)}`);
    });

    await stopRedis();
    expect((await api('/healthz')).status).toBe(200);
    const ready = await api('/readyz');
    expect(ready.status).toBe(503);
    expect(String(ready.json.reason)).toMatch(/Redis/);
    for (const path of ['/campaigns', `/campaigns/${id}`, `/campaigns/${id}/results`, '/dashboard/data', '/metrics']) {
      const res = await api(path);
      expect(res.status, path).toBe(503);
      expect(res.json, path).toMatchObject({ error: { code: 'redis_unavailable' } });
    }
    expect((await api(`/campaigns/${id}/pause`, { method: 'POST' })).status).toBe(503);
    expect((await api('/campaigns', { method: 'POST', body: form.body, headers: { 'content-type': form.contentType } })).status).toBe(503);
    const callback = await api(`/callbacks/sipcall/cdr?key=${SECRET}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(callback.status).toBe(503);
    expect((await api('/')).status).toBe(200);
    // The provider's callbacks of the calls that were out are refused for now, and sent again.
    await until(() => answered.includes(503), 'a callback of a call that was out refused with 503', 30_000, 50);

    await startRedis();
    await until(async () => (await api('/readyz')).status === 200, 'ready again', 30_000, 100);
    await until(async () => (await status()).state === 'completed', 'the campaign completed', 90_000, 200);
    const done = await status();
    // Every call got its result: the callbacks sent again were taken, none of them ended without one.
    expect(done.counts.answered).toBe(CONTACTS);
    expect(sim.stats()).toMatchObject({ callsPlaced: CONTACTS, callbacksFailed: 0 });
    expect(sim.stats().callbackRetries).toBeGreaterThan(0);

    const gone = dialerExit;
    dialer!.kill('SIGTERM');
    expect(await gone).toBe(0);
    dialer = null;
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    // No "[ioredis] Unhandled error event": every connection's errors are handled (the queues' and workers'
    // included). Besides the log's own JSON lines, stderr holds nothing: no stack, no unhandled rejection.
    const stray = lines.filter((l) => !l.startsWith('{'));
    expect(stray).toEqual([]);
    expect(stderr).not.toContain('[ioredis]');
    const lost = lines.filter((l) => l.includes('Redis is not answering'));
    expect(lost.length).toBeGreaterThan(0);
    // Said once per connection, not at each retry.
    expect(lost.length).toBeLessThanOrEqual(3);
    expect(stderr).toContain('Redis is answering again');
  }, 180_000);
});

describe('Redis that stops answering on an open connection', () => {
  let redisServer: ChildProcess;
  let c: Container;
  let url: string;
  const logs: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    redisServer = await ownRedis(port);
    const config = loadConfig(
      { REDIS_URL: `redis://127.0.0.1:${port}`, AUTODIALER_PREFIX: 'redis-stall', AUTODIALER_CALLBACK_SECRET: SECRET, AUTODIALER_API_TOKEN: TOKEN, LOG_LEVEL: 'warn' },
      null,
    );
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    c = await createContainer(config, { log: createLogger({ level: 'warn', destination: sink }), providers: new Map() });
    const app = await c.startServer({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    process.kill(redisServer.pid!, 'SIGCONT');
    await c?.close(500);
    const gone = new Promise((r) => redisServer.once('exit', r));
    process.kill(redisServer.pid!, 'SIGTERM');
    await gone;
  });

  it('answers a request caught waiting on it 503 once its PING goes unanswered, and works again when it answers', async () => {
    const get = (path: string) => request(`${url}${path}`, { headers: AUTH, headersTimeout: BOUND_MS });
    expect((await get('/campaigns')).statusCode).toBe(200);
    process.kill(redisServer.pid!, 'SIGSTOP');
    // Let in while the connection still looked fine; its command waits; answered when the probe gives up (2 s).
    const caught = await get('/campaigns');
    expect(caught.statusCode).toBe(503);
    expect(caught.headers.connection).toBe('close');
    expect(await caught.body.json()).toMatchObject({ error: { code: 'redis_unavailable', message: expect.stringMatching(/did not answer a PING within 2000 ms/) as unknown } });
    // From then on, at once.
    const next = await get('/campaigns');
    expect(next.statusCode).toBe(503);
    expect(next.headers.connection).not.toBe('close');
    await next.body.dump();
    const ready = await request(`${url}/readyz`, { headersTimeout: BOUND_MS });
    expect(ready.statusCode).toBe(503);
    await ready.body.dump();

    process.kill(redisServer.pid!, 'SIGCONT');
    await until(async () => (await request(`${url}/readyz`)).statusCode === 200, 'ready again');
    expect((await get('/campaigns')).statusCode).toBe(200);
    // The handler that finished late did not try to answer a second time.
    expect(logs.join('')).not.toMatch(/already sent/i);
    expect(logs.join('')).toContain('Redis is not answering');
  }, 60_000);
});
