/**
 * The provider simulator: one node:http server speaking both provider
 * families on one port, plus a small admin API under /_sim/.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeCallbackPoster } from './delivery.js';
import { makeDialHandlers } from './dial.js';
import type { SimulatorEvents } from './events.js';
import { BodyTooLargeError, readBody, sendJson } from './http-io.js';
import { IdSource } from './ids.js';
import { Ledger } from './ledger.js';
import type { LedgerEntry } from './ledger.js';
import { parseScript, parseSimulatorOptions, SimulatorError } from './options.js';
import type { ResolvedSimulatorOptions, SimulatorOptions } from './options.js';
import { PBX_PATH } from './pbx.js';
import { makeCallRunner } from './runner.js';
import { ScriptBook } from './script.js';
import { StatsCounters } from './stats.js';
import type { SimulatorStats } from './stats.js';

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface SimulatorDeps {
  clock?: Clock;
}

type FirstArg<T> = T extends [infer A, ...unknown[]] ? A : void;

export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:8090 (sipcall posts here; pbx under /api/v4/…). */
  readonly url: string;
  readonly port: number;
  readonly options: ResolvedSimulatorOptions;
  readonly events: EventEmitter<SimulatorEvents>;
  ledger(): LedgerEntry[];
  stats(): SimulatorStats;
  /** Replaces the script of one number; throws a SimulatorError naming a bad entry. */
  setScript(number: string, outcomes: readonly string[]): void;
  /** Empties the ledger and the counters, cancels pending callbacks, restores the start-up scripts. */
  reset(): void;
  /** Resolves when no callback is pending. */
  whenIdle(): Promise<void>;
  /** Resolves with the next event of that name for which `predicate` holds. */
  waitFor<K extends keyof SimulatorEvents>(event: K, predicate?: (...args: SimulatorEvents[K]) => boolean): Promise<FirstArg<SimulatorEvents[K]>>;
  close(): Promise<void>;
}

function baseUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

export async function startSimulator(options: SimulatorOptions = {}, deps: SimulatorDeps = {}): Promise<Simulator> {
  const opts = parseSimulatorOptions(options);
  const clock = deps.clock ?? { now: () => Date.now() };
  const events = new EventEmitter<SimulatorEvents>();
  events.setMaxListeners(0);
  const stats = new StatsCounters();
  const ledger = new Ledger(opts.ledgerLimit, opts.ledgerFile);
  const scripts = new ScriptBook(opts.script);
  const ids = new IdSource(opts.seed);
  const poster = opts.callbackUrl === null ? null : makeCallbackPoster({ ...opts, callbackUrl: opts.callbackUrl });
  const runner = makeCallRunner({ poster, events, stats });
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const dial = makeDialHandlers({ opts, clock, events, ledger, stats, scripts, runner, ids, held, timers });

  const snapshot = (): SimulatorStats => ({
    requestsTotal: stats.requestsTotal,
    requests: { ...stats.requests },
    answers: { ...stats.answers },
    callsPlaced: stats.callsPlaced,
    callbacksPosted: stats.callbacksPosted,
    callbacksFailed: stats.callbacksFailed,
    callbackRetries: stats.callbackRetries,
    callbacksSkipped: stats.callbacksSkipped,
    callbacksPending: runner.pending,
    cpsCap: opts.cpsCap,
    cpsViolations: stats.cpsViolations,
    maxInAnySecond: stats.arrivals.max,
    maxPlacedInAnySecond: stats.placed.max,
    ledgerSize: ledger.size,
    ledgerDropped: ledger.dropped,
    ledgerTruncated: ledger.dropped > 0,
    ledgerFileError: ledger.error,
  });

  const reset = (): void => {
    runner.cancelAll();
    ledger.clear();
    stats.reset();
    scripts.reset();
    ids.reset();
  };

  async function admin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/_sim/ledger' && method === 'GET') {
      sendJson(res, 200, ledger.entries(), { 'x-ledger-truncated': String(ledger.dropped > 0) });
    } else if (path === '/_sim/stats' && method === 'GET') {
      sendJson(res, 200, snapshot());
    } else if (path === '/_sim/reset' && method === 'POST') {
      await readBody(req, opts.maxBodyBytes);
      reset();
      sendJson(res, 200, { ok: true });
    } else if (path === '/_sim/script' && method === 'POST') {
      const body = await readBody(req, opts.maxBodyBytes);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (err) {
        sendJson(res, 400, { error: `script body must be JSON: ${(err as Error).message}` });
        return;
      }
      try {
        const script = parseScript(parsed, 'script body');
        for (const [number, outcomes] of Object.entries(script)) scripts.set(number, outcomes);
        sendJson(res, 200, { ok: true, numbers: Object.keys(script) });
      } catch (err) {
        if (!(err instanceof SimulatorError)) throw err;
        sendJson(res, 400, { error: err.message });
      }
    } else {
      sendJson(res, 404, { error: `no admin route ${method} ${path}: use GET /_sim/ledger, GET /_sim/stats, POST /_sim/reset, POST /_sim/script` });
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    if (path === '/' || path === '/sipcall') {
      if (method === 'POST') return dial.sipcall(req, res);
      req.resume();
      sendJson(res, 405, { ret: 405, data: {}, msg: 'Illegal request: use POST' }, { allow: 'POST' });
    } else if (path === PBX_PATH) {
      if (method === 'PUT') return dial.pbx(req, res);
      req.resume();
      sendJson(res, 405, { success: 0, message: 'method not allowed: use PUT', data: null }, { allow: 'PUT' });
    } else if (path.startsWith('/_sim/')) {
      await admin(req, res, path);
    } else {
      req.resume();
      sendJson(res, 404, { error: `no route ${method} ${path}` });
    }
  }

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else if (err instanceof BodyTooLargeError) sendJson(res, 413, { error: err.message }, { connection: 'close' });
      else sendJson(res, 500, { error: `simulator failure: ${(err as Error).message}` });
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;

  return {
    url: baseUrl(opts.host, port),
    port,
    options: opts,
    events,
    ledger: () => ledger.entries(),
    stats: snapshot,
    setScript: (number, outcomes) => scripts.set(number, outcomes),
    reset,
    whenIdle: () => runner.whenIdle(),
    waitFor(event, predicate) {
      return new Promise((resolve) => {
        const listener = (...args: unknown[]): void => {
          if (predicate && !(predicate as (...a: unknown[]) => boolean)(...args)) return;
          events.off(event, listener as never);
          resolve(args[0] as never);
        };
        events.on(event, listener as never);
      });
    },
    close() {
      closing ??= (async () => {
        runner.cancelAll();
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const res of held) res.socket?.destroy();
        held.clear();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await poster?.close();
        await ledger.close();
      })();
      return closing;
    },
  };
}
