/**
 * A chaos run: a whole dialer in processes of its own — its own
 * redis-server (AOF), one `autodialer server`, worker processes — against
 * the provider simulator (in this process, faults on), dialing one
 * campaign while the run SIGKILLs a worker every few seconds and starts
 * another, kills Redis (-9) and later shuts it down cleanly, starting it
 * again each time, and kills and restarts the server once. Then every
 * promise is checked (checks.ts) and every process stopped by its PID.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, DEFAULT_TOKEN, type CallbackEvent, type LedgerEntry, type Simulator } from '../simulator/index.js';
import { makeRng } from '../simulator/rng.js';
import { sleep } from '../infra/clock.js';
import { freePort, startRedisServer, stopChild, Supervisor, type Child } from './processes.js';
import { startServer, startWorkerPool, type DialerSettings } from './dialer.js';
import { archivedContacts, dialerApi, pendingCallbacks, readHistory } from './collect.js';
import { checkChaos, type CdrDelivery, type CheckResult, type HistoryView, type PendingCallback } from './checks.js';
import { formatEvents, formatReport, type ChaosEvent, type ChaosFigures } from './report.js';
import { traceViolations } from './trace.js';
import { parseChaosOptions, type ChaosOptionsInput } from './options.js';

export interface ChaosDeps {
  /** The checkout (bin/autodialer.js is run from it). */
  root: string;
  /** Progress lines as the run goes (default: none). */
  log?: (line: string) => void;
  /** Aborting ends the run early: processes stopped, checks made on what happened. */
  signal?: AbortSignal;
}

export interface ChaosOutcome {
  ok: boolean;
  checks: CheckResult[];
  figures: ChaosFigures;
  report: string;
}

const SECRET = 'chaos-callback-secret-0123456789';
const API_TOKEN = 'chaos-api-token-0123456789abcdef';
/** Progress (share of the contacts dialed at least once) at which each of the run's big events happens. */
const AT = { redisKill: 0.2, serverRestart: 0.45, redisShutdown: 0.7 } as const;

/** The contact list: numbers 1390000000… in the simulator's dialing plan. */
const numberOf = (i: number) => `139${String(i).padStart(8, '0')}`;

export async function runChaos(raw: ChaosOptionsInput, deps: ChaosDeps): Promise<ChaosOutcome> {
  const o = parseChaosOptions(raw);
  const log = deps.log ?? (() => undefined);
  const rng = makeRng(`chaos|${o.seed}`);
  const dir = mkdtempSync(join(tmpdir(), 'autodialer-chaos-'));
  const logDir = join(dir, 'logs');
  const redisDir = join(dir, 'redis');
  for (const d of [logDir, redisDir, join(dir, 'jobs')]) mkdirSync(d);
  const sup = new Supervisor(logDir);
  const t0 = Date.now();
  const events: ChaosEvent[] = [];
  const note = (what: string) => {
    events.push({ at: Date.now() - t0, what });
    log(`+${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s ${what}`);
  };
  const outages: ChaosFigures['redisOutages'] = [];
  let kills = 0;
  let serverRestarts = 0;
  let serverUnexpected = 0;
  let completedAt: number | null = null;
  let done = false;
  const stopped = () => done || deps.signal?.aborted === true;
  let sim: Simulator | null = null;
  let workers: ReturnType<typeof startWorkerPool> | null = null;
  let id: string | null = null;
  let results: Awaited<ReturnType<ReturnType<typeof dialerApi>['results']>> = [];
  let attempts: Awaited<ReturnType<ReturnType<typeof dialerApi>['attempts']>> = [];
  let state = 'unknown';
  let history: HistoryView | undefined;
  let pending: PendingCallback[] = [];
  let leftRunning: number[] = [];
  const cdrs = new Map<string, CdrDelivery>();
  const dialed = new Set<string>();
  try {
    const [redisPort, httpPort] = await Promise.all([freePort(), freePort()]);
    let redis = await startRedisServer(sup, { port: redisPort, dir: redisDir });
    note(`redis-server on port ${redisPort} (pid ${redis.pid}), AOF in ${redisDir}`);
    const serverUrl = `http://127.0.0.1:${httpPort}`;
    sim = await startSimulator({
      callbackUrl: serverUrl,
      callbackSecret: SECRET,
      token: DEFAULT_TOKEN,
      seed: o.seed,
      timeScale: 0.01,
      callbackRetries: 20,
      callbackRetryBaseMs: 200,
      ledgerLimit: Math.max(100_000, o.contacts * (o.maxAttempts + 2) * 2),
      ledgerFile: join(dir, 'ledger.jsonl'),
      cpsCap: o.cps,
      http5xxRate: o.http5xxRate,
      http429Rate: o.http429Rate,
      resetRate: o.resetRate,
      timeoutRate: o.timeoutRate,
      duplicateCdrRate: o.duplicateCdrRate,
      outOfOrderRate: o.outOfOrderRate,
      lostCdrRate: o.lostCdrRate,
      slowResponseMs: o.slowResponseMs,
    });
    const onCdr = (e: CallbackEvent, delivered: boolean) => {
      if (e.kind !== 'sipcall-cdr' || !e.customuuid) return;
      const c = cdrs.get(e.customuuid);
      if (!c) cdrs.set(e.customuuid, { firstAt: Date.now(), delivered });
      else if (delivered) c.delivered = true;
    };
    sim.events.on('callback:sent', (e) => onCdr(e, true));
    sim.events.on('callback:failed', (e) => onCdr(e, false));
    sim.events.on('request', (e) => void (e.number !== null && dialed.add(e.number)));
    note(`simulator on ${sim.url}`);

    const settings: DialerSettings = {
      root: deps.root,
      cwd: dir,
      sources: o.sources,
      env: {
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        AUTODIALER_PREFIX: 'chaos',
        AUTODIALER_HTTP_HOST: '127.0.0.1',
        AUTODIALER_HTTP_PORT: String(httpPort),
        AUTODIALER_PUBLIC_URL: serverUrl,
        AUTODIALER_CALLBACK_SECRET: SECRET,
        AUTODIALER_API_TOKEN: API_TOKEN,
        AUTODIALER_JOBS_DIR: join(dir, 'jobs'),
        AUTODIALER_SHUTDOWN_GRACE_MS: '3000',
        SIPCALL_API_URL: sim.url,
        SIPCALL_TOKEN: DEFAULT_TOKEN,
        SIPCALL_TIMEZONE: 'Asia/Shanghai',
        SIPCALL_MAX_CPS: String(o.cps),
        SIPCALL_CONNECT_TIMEOUT_MS: '1000',
        SIPCALL_RESPONSE_TIMEOUT_MS: String(o.responseTimeoutMs),
        ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}),
      },
    };
    const api = dialerApi(serverUrl, API_TOKEN);
    let server: Child = startServer(sup, settings);
    /** A server that exits when the run did not stop it is noted and started again. */
    const watchServer = (srv: Child) => {
      void srv.exited.then((e) => {
        if (stopped() || killedByRun.has(srv)) return;
        serverUnexpected++;
        note(`${srv.name} (pid ${srv.pid}) exited by itself (code ${e.code}, signal ${e.signal}): started again`);
        server = startServer(sup, settings);
        watchServer(server);
      });
    };
    const killedByRun = new Set<Child>();
    watchServer(server);
    await server.ready;
    await until(() => api.ready(), 'the server is ready', 60_000);
    note(`${server.name} (pid ${server.pid}) ready on ${serverUrl}`);
    workers = startWorkerPool(sup, settings, o.workers, note);
    const pool = workers;
    await until(async () => pool.ready().length >= o.workers, `${o.workers} workers ready`, 120_000);
    note(`${o.workers} workers ready (pids ${pool.ready().map((w) => w.pid).join(', ')})`);

    const csv = ['name,phone', ...Array.from({ length: o.contacts }, (_, i) => `c${i},${numberOf(i)}`)].join('\n');
    id = await api.createCampaign(
      {
        name: 'chaos',
        action: 'playvoice',
        params: { voicetype: '2', voicefile: 'http://example.invalid/chaos.mp3', chengshudu: '1', userid: '1@extGroup-1' },
        maxAttempts: o.maxAttempts,
        retryDelay: `${o.retryDelaySeconds}s`,
        resultTimeout: `${o.resultTimeoutSeconds}s`,
        ingest: { numberFormat: 'as_written' },
      },
      csv,
    );
    const cid = id;
    note(`campaign ${cid}: ${o.contacts} contacts, account at ${o.cps} calls/s, at most ${o.maxAttempts} attempts, retries after ${o.retryDelaySeconds} s`);

    const killer = (async () => {
      if (o.killEverySeconds === 0) return;
      while (!stopped()) {
        // Each kill waits for a full pool (a replacement still starting is not killed again before it works).
        while (!stopped() && pool.ready().length < o.workers) await sleep(100);
        await sleep(o.killEverySeconds * 1000 * (0.5 + rng.next()), deps.signal);
        if (stopped()) break;
        const victim = await pool.killOne((n) => rng.int(0, n - 1));
        if (victim) {
          kills++;
          note(`SIGKILL ${victim.name} (pid ${victim.pid}); another worker started`);
        }
      }
    })();
    const progress = async (share: number) => {
      while (!stopped() && dialed.size < share * o.contacts) await sleep(100);
      return !stopped();
    };
    const redisDown = async (how: string, sig: NodeJS.Signals) => {
      const before = redis;
      const t = Date.now();
      note(`Redis: ${how} (pid ${before.pid})`);
      before.signal(sig);
      await before.exited;
      await sleep(o.redisDownSeconds * 1000);
      redis = await startRedisServer(sup, { port: redisPort, dir: redisDir });
      outages.push({ how, downMs: Date.now() - t });
      note(`Redis started again (pid ${redis.pid}) after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    };
    const scenario = (async () => {
      if (await progress(AT.redisKill)) await redisDown('kill -9', 'SIGKILL');
      if (await progress(AT.serverRestart)) {
        note(`SIGKILL ${server.name} (pid ${server.pid})`);
        killedByRun.add(server);
        server.signal('SIGKILL');
        await server.exited;
        server = startServer(sup, settings);
        watchServer(server);
        await server.ready;
        serverRestarts++;
        note(`${server.name} (pid ${server.pid}) started again`);
      }
      if (await progress(AT.redisShutdown)) await redisDown('clean shutdown (SIGTERM)', 'SIGTERM');
    })();

    const deadline = t0 + o.timeoutSeconds * 1000;
    while (!deps.signal?.aborted && Date.now() < deadline) {
      const s = await api.state(cid);
      if (s !== null) state = s;
      if (s === 'completed' || s === 'cancelled') break;
      await sleep(1000, deps.signal);
    }
    if (state === 'completed') {
      completedAt = Date.now() - t0;
      note(`campaign ${state}`);
    } else note(`campaign not completed (${state}) when the run ${deps.signal?.aborted ? 'was interrupted' : 'timed out'}`);
    done = true;
    pool.freeze();
    await Promise.all([killer, scenario]);
    // No dialing from here on (the run may have timed out or been interrupted): the exports read a still state.
    await Promise.all(sup.all().filter((p) => p.name.startsWith('worker') && p.running()).map((w) => stopChild(w, 15_000)));

    // The last callbacks: posted by the simulator, then interpreted by the server.
    const simulator = sim;
    await Promise.race([simulator.whenIdle(), sleep(120_000, deps.signal)]);
    // An entry stored twice (its append answered after a Redis restart, and sent again) is interpreted once, under its
    // second id; the first waits for the servers' recovery, which takes entries a minute old every 30 s: up to 90 s.
    await until(async () => (await api.callbacksPending()) === 0, 'no stored callback left to interpret', 100_000).catch((e: Error) => note(e.message));
    pending = await pendingCallbacks(settings.env.REDIS_URL!, settings.env.AUTODIALER_PREFIX!);
    if (o.databaseUrl) {
      const url = o.databaseUrl;
      await until(async () => (await archivedContacts(url, cid)) >= o.contacts, 'every contact in the history store', 120_000).catch((e: Error) => note(e.message));
      history = await readHistory(url, cid);
    }
    const s = await api.state(cid);
    if (s !== null) state = s;
    [results, attempts] = await Promise.all([api.results(cid), api.attempts(cid)]);
    note(`exports read: ${results.length} contacts, ${attempts.length} attempts`);
  } finally {
    done = true;
    workers?.freeze();
    // Dialers first, their Redis last; each by its PID.
    leftRunning = await sup.stopAll(15_000, (c) => (c.name.startsWith('redis') ? 1 : 0));
    await sim?.close();
  }

  const ledger: LedgerEntry[] = sim.ledger().filter((e) => id !== null && e.customuuid?.startsWith(`${id}-`) === true);
  const checks = checkChaos({
    policy: { contacts: o.contacts, maxAttempts: o.maxAttempts, resultTimeoutMs: o.resultTimeoutSeconds * 1000, cps: o.cps },
    campaignId: id ?? '',
    campaignState: state,
    ledger,
    cdrs,
    results,
    attempts,
    pendingCallbacks: pending,
    ...(history ? { history } : {}),
  });
  const stats = sim.stats();
  const statuses: Record<string, number> = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const answers: Record<string, number> = {};
  for (const e of ledger) answers[e.answer] = (answers[e.answer] ?? 0) + 1;
  const ok = checks.every((c) => c.ok) && leftRunning.length === 0;
  const kept = !ok || o.keep;
  const figures: ChaosFigures = {
    contacts: o.contacts,
    cps: o.cps,
    workers: o.workers,
    durationMs: Date.now() - t0,
    completedAtMs: completedAt,
    events,
    workerKills: kills,
    workersExitedByThemselves: workers?.unexpected.length ?? 0,
    serversExitedByThemselves: serverUnexpected,
    redisOutages: outages,
    serverRestarts,
    requests: ledger.length,
    callsPlaced: ledger.filter((e) => e.placed).length,
    answers,
    cdrsLost: ledger.filter((e) => e.placed && e.result?.cdrs === 0).length,
    cdrsDuplicated: ledger.filter((e) => (e.result?.cdrs ?? 0) > 1).length,
    callbacksPosted: stats.callbacksPosted,
    callbacksFailed: stats.callbacksFailed,
    callbackRetries: stats.callbackRetries,
    simulatorCapRefusals: stats.cpsViolations,
    statuses,
    errorLogLines: sup.all().reduce((n, c) => n + c.errorLines(), 0),
    leftRunning,
    dir,
    kept,
  };
  const located = traceViolations({ checks, ledger, cdrs, events, t0, logDir });
  const report = formatReport(figures, checks, located);
  if (kept) {
    writeFileSync(join(dir, 'report.txt'), report);
    writeFileSync(join(dir, 'events.txt'), formatEvents(events));
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
  return { ok, checks, figures, report };
}

/** Polls `check` every 250 ms until it holds; rejects with `what` after `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
