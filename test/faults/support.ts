/**
 * The fault matrix's rig: a whole dialer in this process (server, workers,
 * feeder, sweeper) on real Redis reached through a TCP relay the test can
 * cut, and provider endpoints that each fail in one way — real sockets all:
 * a closed port (connection refused), a listener whose accept queue is full
 * (the connect times out), node:http servers that answer 502, 503, 401,
 * garbage or never, a relay that holds the simulator's answer, simulators
 * of their own. Each contact's number is routed to a list of endpoints, one
 * per request (the last repeats), through real sipcall adapters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { createPbxAdapter, createSipcallAdapter } from '../../src/providers/index.js';
import type { DialOutcome, DialRequest, ProviderAdapter } from '../../src/providers/types.js';
import type { ProviderFamily } from '../../src/domain/types.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { closedPortUrl } from '../providers/support/server.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';
import { API_TOKEN, SECRET, TOKEN } from '../support/harness.js';

/**
 * A TCP relay to Redis: `cut()` drops every connection through it; `away(ms)`
 * also refuses new ones for a while; `stall()` keeps the connections open but
 * carries nothing either way (Redis stops answering) until `resume()`.
 */
export interface RedisRelay {
  url: string;
  /** Connections dropped so far. */
  readonly dropped: number;
  cut(): void;
  away(ms: number): Promise<void>;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startRedisRelay(target: string = REDIS_URL): Promise<RedisRelay> {
  const to = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  let dropped = 0;
  const server: TcpServer = createTcpServer((client) => {
    if (refusing) return void client.destroy();
    const upstream = connect(Number(to.port || 6379), to.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const each = (fn: (s: Socket) => void) => {
    for (const [a, b] of pairs) {
      fn(a);
      fn(b);
    }
  };
  const cut = () => {
    for (const [a, b] of pairs) {
      dropped++;
      a.resetAndDestroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get dropped() {
      return dropped;
    },
    cut,
    async away(ms) {
      refusing = true;
      cut();
      await new Promise((r) => setTimeout(r, ms));
      refusing = false;
    },
    // Paused sockets read nothing: what is written to them waits in the kernel's buffers.
    stall: () => each((s) => s.pause()),
    resume: () => each((s) => s.resume()),
    async close() {
      cut();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * A loopback port whose listener never accepts (its process sleeps) and
 * whose accept queue is full: a connect to it gets no answer and times out.
 */
export async function startBlackhole(): Promise<{ url: string; close(): Promise<void> }> {
  const code =
    "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');" +
    'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,600000);})';
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  // Fill the accept queue: from then on a SYN is dropped.
  const fillers: Socket[] = [];
  for (;;) {
    const s = connect(port, '127.0.0.1');
    fillers.push(s);
    s.on('error', () => undefined);
    const connected = await new Promise<boolean>((r) => {
      s.once('connect', () => r(true));
      setTimeout(() => r(false), 300);
    });
    if (!connected) break;
  }
  const gone = new Promise((r) => child.once('exit', r));
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of fillers) s.destroy();
      process.kill(child.pid!, 'SIGKILL');
      await gone;
    },
  };
}

/** An HTTP endpoint that reads each request whole and answers it the same way (or never). */
export async function startEndpoint(answer: { status: number; body: string; headers?: Record<string, string> } | 'never'): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.requests++;
      if (answer === 'never') return;
      res.writeHead(answer.status, { 'content-type': 'text/html', ...answer.headers });
      res.end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return state.requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * A relay to a simulator that holds each answer until `hold()` resolves:
 * the call is placed and its callbacks go out while the dialer still waits
 * for the HTTP answer. `answeredAt` keeps when each answer left.
 */
export async function startHoldingRelay(target: string, hold: () => Promise<void>): Promise<{ url: string; answeredAt: number[]; close(): Promise<void> }> {
  const answeredAt: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const upstream = await request(`${target}${req.url ?? '/'}`, { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body: Buffer.concat(chunks) });
        const text = await upstream.body.text();
        await hold();
        answeredAt.push(Date.now());
        res.writeHead(upstream.statusCode, { 'content-type': 'application/json' });
        res.end(text);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answeredAt,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Which endpoint each request of a number goes to, in order (the last repeats); what went where is kept. */
export function routedAdapter(routes: Map<string, ProviderAdapter[]>, fallback: ProviderAdapter): ProviderAdapter & { sent: Map<string, number> } {
  const taken = new Map<string, number>();
  const sent = new Map<string, number>();
  return {
    family: 'sipcall',
    actions: fallback.actions,
    sent,
    async dial(req: DialRequest): Promise<DialOutcome> {
      const list = routes.get(req.number) ?? [fallback];
      const i = taken.get(req.number) ?? 0;
      taken.set(req.number, i + 1);
      sent.set(req.number, (sent.get(req.number) ?? 0) + 1);
      return (list[Math.min(i, list.length - 1)] ?? fallback).dial(req);
    },
    close: async () => undefined,
  };
}

export interface FaultRig {
  config: Config;
  c: Container;
  relay: RedisRelay;
  sim: Simulator;
  serverUrl: string;
  /** A real sipcall adapter to `url`, closed with the rig. */
  adapter(url: string): ProviderAdapter;
  /** A real pbx adapter to `url` (the configuration's pbx account), closed with the rig. */
  pbxAdapter(url: string): ProviderAdapter;
  /** Another simulator posting callbacks to this dialer, closed with the rig. */
  simulator(opts: SimulatorOptions): Promise<Simulator>;
  close(): Promise<void>;
}

export async function startFaultRig(name: string, env: Record<string, string> = {}, opts: { logTo?: NodeJS.WritableStream } = {}): Promise<FaultRig> {
  const prefix = testPrefix(name);
  const relay = await startRedisRelay();
  const config = loadConfig(
    {
      REDIS_URL: relay.url,
      AUTODIALER_PREFIX: prefix,
      AUTODIALER_CALLBACK_SECRET: SECRET,
      AUTODIALER_API_TOKEN: API_TOKEN,
      SIPCALL_API_URL: await closedPortUrl(),
      SIPCALL_TOKEN: TOKEN,
      SIPCALL_TIMEZONE: 'Asia/Shanghai',
      SIPCALL_MAX_CPS: '0',
      SIPCALL_CONNECT_TIMEOUT_MS: '500',
      SIPCALL_RESPONSE_TIMEOUT_MS: '1500',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      ...env,
    },
    null,
  );
  const providers = new Map<ProviderFamily, ProviderAdapter>();
  const redis = new Redis(relay.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
  const c = await createContainer(config, { providers, redis, log: createLogger({ level: config.logLevel, ...(opts.logTo ? { destination: opts.logTo } : {}) }) });
  const app = await c.startServer({ port: 0, host: '127.0.0.1' });
  const serverUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const sims: Simulator[] = [];
  const adapters: ProviderAdapter[] = [];
  const simulator = async (opts: SimulatorOptions) => {
    const s = await startSimulator({
      callbackUrl: serverUrl,
      callbackSecret: config.callbackSecret,
      token: config.providers.sipcall?.token ?? TOKEN,
      ...(config.providers.pbx ? { apiKey: config.providers.pbx.apiKey, username: config.providers.pbx.username, password: config.providers.pbx.password } : {}),
      mix: { answered: 1 },
      callbackRetries: 10,
      ...opts,
    });
    sims.push(s);
    return s;
  };
  const sim = await simulator({});
  const adapter = (url: string) => {
    const a = createSipcallAdapter({ ...config.providers.sipcall!, apiUrl: url });
    adapters.push(a);
    return a;
  };
  const pbxAdapter = (url: string) => {
    if (!config.providers.pbx) throw new Error('the rig has no pbx account: give it PBX_BASE_URL, PBX_API_KEY, PBX_USERNAME, PBX_PASSWORD');
    const a = createPbxAdapter({ ...config.providers.pbx, baseUrl: url });
    adapters.push(a);
    return a;
  };
  return {
    config,
    c,
    relay,
    sim,
    serverUrl,
    adapter,
    pbxAdapter,
    simulator,
    async close() {
      await c.close(2000);
      await Promise.all(sims.map((s) => s.close()));
      await Promise.all(adapters.map((a) => a.close()));
      const direct = connectRedis();
      await cleanPrefix(direct, prefix);
      direct.disconnect();
      redis.disconnect();
      await relay.close();
    },
  };
}
