/**
 * The soak: a dialer (one `autodialer server`, N `autodialer worker`
 * processes) on a redis-server of its own, dialing the simulator at a steady
 * rate for a given time, the way a deployment runs campaign after campaign:
 * a new campaign every minute, each exported and deleted once complete,
 * callbacks (with duplicates, late and lost ones) and CRM notifications on.
 * Every minute: each process's RSS and live heap, Redis memory and keys by
 * kind. At the end, once every campaign is deleted and the raw callbacks are
 * past their retention, every key must be one the deployment had before the
 * soak began (its baseline, taken after a first campaign) or one that waits
 * for its expiry; anything else is listed, and the soak fails.
 *
 * Why a redis-server of its own: its key count and memory are the dialer's
 * alone, so the baseline can be compared key by key and INFO memory means
 * something, and a run of half an hour neither disturbs nor is disturbed by
 * other users of a shared server.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { startSimulator, DEFAULT_TOKEN, type Simulator } from '../src/simulator/index.js';
import { keys as makeKeys } from '../src/store/keys.js';
import { makeCallbackLog } from '../src/store/callback-log.js';
import { makeCallbackRetention } from '../src/store/callback-retention.js';
import { startOwnRedis, freePort, type OwnRedis } from './redis-server.js';
import { spawnRole, type DialerProcess } from './soak-dialer.js';
import { processCpuMs, redisCpuMs } from '../bench/support.js';
import { census, compare, snapshot, type Census, type KeyInfo, type Leftovers } from './soak-keys.js';
import { campaignOfField, metricsKey } from '../src/reports/metrics-tally.js';

export interface SoakOptions {
  /** How long new campaigns keep coming. */
  minutes: number;
  /** The account's calls per second (SIPCALL_MAX_CPS): the steady rate. */
  cps: number;
  workers: number;
  /** A new campaign every this many seconds, of 0.7 × cps × campaignSeconds contacts (retries fill the rest). */
  campaignSeconds: number;
  sampleEveryMs: number;
  /** How long the last campaigns get to finish. */
  drainTimeoutMs: number;
  log: (line: string) => void;
}

export const DEFAULT_SOAK: Omit<SoakOptions, 'minutes' | 'log'> = { cps: 20, workers: 2, campaignSeconds: 60, sampleEveryMs: 60_000, drainTimeoutMs: 300_000 };

export interface ProcessMemory {
  role: string;
  pid: number;
  rss: number;
  heapUsed: number;
}

export interface Sample {
  /** Minutes since the steady part began. */
  minute: number;
  requests: number;
  callsPerSec: number;
  liveCampaigns: number;
  processes: ProcessMemory[];
  redisUsed: number;
  /** Redis CPU (INFO cpu) and the dialer processes' CPU (/proc) since the last sample, per dial request. */
  redisUsPerDial: number;
  dialerUsPerDial: number;
  dbsize: number;
  census: Census;
}

export interface SoakResult {
  ok: boolean;
  problems: string[];
  options: Omit<SoakOptions, 'log'>;
  samples: Sample[];
  baseline: { keys: number; redisUsed: number };
  end: { keys: number; redisUsed: number; pruned: number };
  leftovers: Leftovers;
  /** Baseline keys still grown after one /metrics scrape at the end. */
  grownAfterScrape: Leftovers['grown'];
  /** Keys still there once every process had stopped (the deployment at rest). */
  atRest: KeyInfo[];
  campaigns: { created: number; deleted: number; contacts: number; exportedRows: number };
  simulator: { requests: number; callbacks: number };
  webhooks: number;
  processes: { role: string; pid: number; code: number | null; signal: string | null; warnings: number; errors: number; nodeWarnings: string[]; tail: string[] }[];
  heapGrowth: { role: string; pid: number; from: number; to: number; grows: boolean }[];
}

const SECRET = 'soak-callback-secret-0123456789';
const API_TOKEN = 'soak-api-token-0123456789abcdef';
const PREFIX = 'soak';
const PARAMS = { voicetype: '2', voicefile: 'https://media.example.com/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };
const MIX = { answered: 40, answered_key: 20, no_answer: 20, busy: 12, failed: 8 };
/** Elements a baseline key may hold beyond its baseline (structures bounded by time: the last second's sends, say). */
const SLACK = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

/** A CRM stand-in for the campaigns' webhooks: answers 204, and 503 to one in fifty (the notifier tries again). */
async function webhookSink(): Promise<{ server: Server; url: string; received: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(n % 50 === 0 ? 503 : 204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return { server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks`, received: () => n };
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const problems: string[] = [];
  const own: OwnRedis = await startOwnRedis();
  const redis = new Redis(own.url, { maxRetriesPerRequest: null });
  const jobsDir = mkdtempSync(join(tmpdir(), 'autodialer-soak-jobs-'));
  const httpPort = await freePort();
  const serverUrl = `http://127.0.0.1:${httpPort}`;
  const sink = await webhookSink();
  const sim: Simulator = await startSimulator({
    callbackUrl: serverUrl,
    callbackSecret: SECRET,
    token: DEFAULT_TOKEN,
    seed: 2026,
    mix: MIX,
    duplicateCdrRate: 0.05,
    outOfOrderRate: 0.1,
    lostCdrRate: 0.03,
    timeScale: 0.002,
    ledgerLimit: 1000,
  });
  const env: Record<string, string> = {
    REDIS_URL: own.url,
    AUTODIALER_PREFIX: PREFIX,
    AUTODIALER_HTTP_PORT: String(httpPort),
    AUTODIALER_HTTP_HOST: '127.0.0.1',
    AUTODIALER_PUBLIC_URL: serverUrl,
    AUTODIALER_CALLBACK_SECRET: SECRET,
    AUTODIALER_API_TOKEN: API_TOKEN,
    AUTODIALER_JOBS_DIR: jobsDir,
    AUTODIALER_CALLBACK_RETENTION: '1h',
    SIPCALL_API_URL: sim.url,
    SIPCALL_TOKEN: DEFAULT_TOKEN,
    SIPCALL_TIMEZONE: 'Asia/Shanghai',
    SIPCALL_MAX_CPS: String(opts.cps),
    LOG_LEVEL: 'warn',
  };
  const processes: DialerProcess[] = [spawnRole('server', env), ...Array.from({ length: opts.workers }, () => spawnRole('worker', env))];
  const k = makeKeys(PREFIX);
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  const api = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => {
    const res = await request(`${serverUrl}${path}`, {
      method,
      headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.statusCode, text: await res.body.text() };
  };

  const perCampaign = Math.max(1, Math.round(opts.cps * opts.campaignSeconds * 0.7));
  const live: string[] = [];
  const tally = { created: 0, deleted: 0, contacts: 0, exportedRows: 0 };
  async function createCampaign(n: number): Promise<void> {
    const first = tally.created * perCampaign;
    const contacts = Array.from({ length: n }, (_, i) => ({ phone: `139${String(first + i).padStart(8, '0')}`, name: `Soak ${first + i}` }));
    const res = await api('POST', '/campaigns', {
      name: `soak ${tally.created + 1}`,
      action: 'playvoice',
      params: PARAMS,
      maxAttempts: 2,
      retry: ['busy=5s', 'no_answer=5s', 'failed=never', 'no_result=never'],
      resultTimeout: '15s',
      ingest: { region: 'CN', numberFormat: 'national' },
      webhook: { url: sink.url, secret: SECRET },
      contacts,
    });
    if (res.status !== 201) throw new Error(`POST /campaigns answered ${res.status}: ${res.text.slice(0, 300)}`);
    live.push((JSON.parse(res.text) as { id: string }).id);
    tally.created++;
    tally.contacts += n;
  }
  /** Completed campaigns: results exported, then deleted. */
  async function settle(): Promise<void> {
    for (const id of [...live]) {
      const status = await api('GET', `/campaigns/${id}`);
      const state = status.status === 200 ? (JSON.parse(status.text) as { state: string }).state : `HTTP ${status.status}`;
      if (state === 'running' || state === 'importing') continue;
      if (state !== 'completed') {
        problems.push(`campaign ${id} is ${state}`);
        live.splice(live.indexOf(id), 1);
        continue;
      }
      const exported = await api('GET', `/campaigns/${id}/results?format=csv`);
      if (exported.status !== 200) problems.push(`export of ${id} answered ${exported.status}`);
      tally.exportedRows += exported.text.split('\n').filter((l) => l !== '').length - 1;
      const deleted = await api('DELETE', `/campaigns/${id}`);
      if (deleted.status !== 200) problems.push(`DELETE /campaigns/${id} answered ${deleted.status}: ${deleted.text.slice(0, 200)}`);
      else tally.deleted++;
      live.splice(live.indexOf(id), 1);
    }
  }
  async function drain(timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (live.length > 0) {
      await settle();
      if (live.length === 0) return;
      if (Date.now() > end) {
        problems.push(`${what}: campaigns ${live.join(', ')} not complete after ${Math.round(timeoutMs / 1000)} s`);
        return;
      }
      await sleep(1000);
    }
  }

  const samples: Sample[] = [];
  let started = Date.now();
  let lastRequests = 0;
  let lastAt = Date.now();
  let lastCpu = { redis: 0, dialer: 0 };
  const cpuNow = async () => ({ redis: (await redisCpuMs(redis)) ?? 0, dialer: processes.reduce((a, p) => a + (processCpuMs(p.pid) ?? 0), 0) });
  async function sample(): Promise<Sample> {
    const cpu = await cpuNow();
    const requests = sim.stats().requestsTotal;
    const mem = await Promise.all(processes.map(async (p) => ({ role: p.role, ...(await p.sample()) })));
    const now = Date.now();
    const dials = Math.max(1, requests - lastRequests);
    const s: Sample = {
      minute: (now - started) / 60_000,
      requests,
      callsPerSec: ((requests - lastRequests) * 1000) / Math.max(1, now - lastAt),
      liveCampaigns: live.length,
      processes: mem.map((m) => ({ role: m.role, pid: m.pid, rss: m.rss, heapUsed: m.heapUsed })),
      redisUsed: await usedMemory(redis),
      redisUsPerDial: ((cpu.redis - lastCpu.redis) * 1000) / dials,
      dialerUsPerDial: ((cpu.dialer - lastCpu.dialer) * 1000) / dials,
      dbsize: await redis.dbsize(),
      census: await census(redis, PREFIX),
    };
    lastRequests = requests;
    lastAt = now;
    lastCpu = cpu;
    samples.push(s);
    opts.log(formatSample(s));
    return s;
  }

  try {
    // Ready: the server answers /readyz, every process answers the probe.
    const readyBy = Date.now() + 60_000;
    for (;;) {
      const r = await api('GET', '/readyz').catch(() => ({ status: 0, text: '' }));
      if (r.status === 200) break;
      if (Date.now() > readyBy) throw new Error(`the server did not become ready within 60 s: ${JSON.stringify(processes[0]!.log().tail.slice(-3))}`);
      await sleep(250);
    }
    await Promise.all(processes.map((p) => p.sample(60_000)));
    // The baseline: the deployment's own keys once a first campaign has run and gone.
    opts.log(`warm-up: one campaign of ${Math.round(perCampaign / 4)} contacts, run, exported and deleted`);
    await createCampaign(Math.max(1, Math.round(perCampaign / 4)));
    await drain(opts.drainTimeoutMs, 'warm-up');
    const baseline = await snapshot(redis, PREFIX);
    const baselineUsed = await usedMemory(redis);
    opts.log(`baseline: ${baseline.size} keys, Redis used_memory ${(baselineUsed / 2 ** 20).toFixed(1)} MB`);
    opts.log(header(processes));

    started = Date.now();
    lastRequests = sim.stats().requestsTotal;
    lastAt = started;
    lastCpu = await cpuNow();
    const endAt = started + opts.minutes * 60_000;
    let nextCampaign = started;
    let nextSample = started + opts.sampleEveryMs;
    await sample();
    while (Date.now() < endAt) {
      if (Date.now() >= nextCampaign) {
        await createCampaign(perCampaign);
        nextCampaign += opts.campaignSeconds * 1000;
      }
      await settle();
      if (Date.now() >= nextSample) {
        await sample();
        nextSample += opts.sampleEveryMs;
      }
      await sleep(Math.max(0, Math.min(1000, nextCampaign - Date.now(), nextSample - Date.now(), endAt - Date.now())));
    }
    opts.log('no new campaigns: the last ones finish, are exported and deleted');
    await drain(opts.drainTimeoutMs, 'end');
    await sim.whenIdle();
    const callbackLog = makeCallbackLog({ redis, keys: k });
    const pendingBy = Date.now() + 60_000;
    while ((await callbackLog.pendingCount()) > 0 && Date.now() < pendingBy) await sleep(250);
    if ((await callbackLog.pendingCount()) > 0) problems.push(`${await callbackLog.pendingCount()} callbacks still pending interpretation a minute after the simulator went idle`);
    // The raw callbacks as once AUTODIALER_CALLBACK_RETENTION has passed (the server prunes them then).
    const pruned = await makeCallbackRetention({ redis, keys: k }).prune(Date.now() + 1);
    await sample();
    const end = await snapshot(redis, PREFIX);
    const endUsed = await usedMemory(redis);
    const leftovers = compare(baseline, end, SLACK);
    // What a /metrics scrape does to the deployment's keys (it drops the series of deleted campaigns it finds).
    const scrape = await api('GET', '/metrics');
    const afterScrape = compare(baseline, await snapshot(redis, PREFIX), SLACK).grown;

    const exits = await Promise.all(processes.map((p) => p.stop(30_000)));
    const atRest = [...(await snapshot(redis, PREFIX)).values()].filter((i) => i.ttlMs < 0).sort((a, b) => a.key.localeCompare(b.key));
    const procs = processes.map((p, i) => ({ role: p.role, pid: p.pid, code: exits[i]!.code, signal: exits[i]!.signal, ...p.log() }));
    for (const p of procs) {
      if (p.code !== 0) problems.push(`autodialer ${p.role} (pid ${p.pid}) exited with ${p.code ?? p.signal}`);
      if (p.errors > 0) problems.push(`autodialer ${p.role} (pid ${p.pid}) logged ${p.errors} errors`);
    }
    if (leftovers.left.length > 0) problems.push(`${leftovers.left.length} keys left that the baseline did not have and that never expire`);
    // The tally may keep a bucket of a deployment-wide series met for the first time late in the run (bounded by its
    // labels and buckets); a field of a campaign that a scrape did not take away is growth with the campaigns run.
    const lasting = afterScrape.filter((g) => g.key !== metricsKey(PREFIX) || g.after - g.before > g.added.length || g.added.some((f) => campaignOfField(f) !== null));
    if (lasting.length > 0) {
      problems.push(`baseline keys grew: ${leftovers.grown.map((g) => `${g.key} ${g.before} → ${g.after}`).join(', ')} (after a /metrics scrape: ${afterScrape.map((g) => `${g.key} ${g.after}`).join(', ') || 'back to the baseline'})`);
    }
    if (scrape.status !== 200) problems.push(`GET /metrics answered ${scrape.status}`);
    const heapGrowth = heapVerdicts(samples, opts.minutes);
    for (const h of heapGrowth.filter((x) => x.grows)) problems.push(`autodialer ${h.role} (pid ${h.pid}): live heap grew from ${mbs(h.from)} to ${mbs(h.to)}`);
    return {
      ok: problems.length === 0,
      problems,
      options: { minutes: opts.minutes, cps: opts.cps, workers: opts.workers, campaignSeconds: opts.campaignSeconds, sampleEveryMs: opts.sampleEveryMs, drainTimeoutMs: opts.drainTimeoutMs },
      samples,
      baseline: { keys: baseline.size, redisUsed: baselineUsed },
      end: { keys: end.size, redisUsed: endUsed, pruned: pruned.removed },
      leftovers,
      grownAfterScrape: afterScrape,
      atRest,
      campaigns: tally,
      simulator: { requests: sim.stats().requestsTotal, callbacks: sim.stats().callbacksPosted },
      webhooks: sink.received(),
      processes: procs,
      heapGrowth,
    };
  } finally {
    await Promise.all(processes.map((p) => p.stop(5_000)));
    await sim.close();
    sink.server.closeAllConnections();
    sink.server.close();
    redis.disconnect();
    await own.stop();
    rmSync(jobsDir, { recursive: true, force: true });
  }
}

/**
 * Live heap (after a full collection) at the start of the steady part against
 * its end: medians of the first and last thirds of the samples, minute 0 left
 * out. Growth above 10 % and 4 MB is flagged, for runs of 10 minutes or more.
 */
function heapVerdicts(samples: readonly Sample[], minutes: number) {
  const steady = samples.slice(1);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const pids = samples[0]?.processes ?? [];
  return pids.map((p) => {
    const series = steady.map((s) => s.processes.find((x) => x.pid === p.pid)?.heapUsed ?? 0);
    const from = median(series.slice(0, third));
    const to = median(series.slice(-third));
    return { role: p.role, pid: p.pid, from, to, grows: minutes >= 10 && to > from * 1.1 && to - from > 4 * 2 ** 20 };
  });
}

const mbs = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
const pad = (s: string, n: number) => s.padStart(n);

function header(processes: readonly DialerProcess[]): string {
  return [
    pad('min', 5),
    pad('calls/s', 8),
    pad('live', 5),
    ...processes.map((p, i) => pad(`${p.role === 'server' ? 'server' : `worker${i}`} rss/heap`, 20)),
    pad('redis mem', 10),
    pad('cpu % redis/dialer', 19),
    pad('keys', 7),
    pad('campaign', 9),
    pad('attempt', 8),
    pad('look-up', 8),
    pad('deploy', 7),
    pad('cb log', 7),
  ].join(' ');
}

export function formatSample(s: Sample): string {
  return [
    pad(s.minute.toFixed(1), 5),
    pad(s.callsPerSec.toFixed(1), 8),
    pad(String(s.liveCampaigns), 5),
    ...s.processes.map((p) => pad(`${(p.rss / 2 ** 20).toFixed(0)}/${(p.heapUsed / 2 ** 20).toFixed(1)} MB`, 20)),
    pad(mbs(s.redisUsed), 10),
    pad(`${((s.redisUsPerDial * s.callsPerSec) / 1e4).toFixed(1)}/${((s.dialerUsPerDial * s.callsPerSec) / 1e4).toFixed(1)}`, 19),
    pad(String(s.dbsize), 7),
    pad(String(s.census.keys.campaign), 9),
    pad(String(s.census.keys.attempt), 8),
    pad(String(s.census.keys['look-up']), 8),
    pad(String(s.census.keys.deployment), 7),
    pad(String(s.census.callbackEntries), 7),
  ].join(' ');
}
