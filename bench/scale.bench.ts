/**
 * The scaling curve, on a redis-server of the benchmark's own (so that its
 * CPU time and memory are the dialer's alone):
 *   (a) 1, 2 and 4 worker processes on one campaign with no limits (no
 *       campaign rate or cap, SIPCALL_MAX_CPS=0) against the simulator,
 *       callbacks off: calls/s per process count, Redis CPU per dial (INFO
 *       cpu deltas), worker CPU per dial, how busy the machine was;
 *   (b) contact lists of 10k, 100k and 1M: import time and Redis bytes per
 *       waiting contact, then one worker dials the same 5,000 contacts of
 *       each (after 2,000 of warm-up): time, Redis CPU and Redis bytes per
 *       dial. Both should stay flat as the list grows.
 * SCALE_BENCH_SIZES (e.g. `10000,100000`) and SCALE_BENCH_PROCESSES
 * (e.g. `1,2`) make a quicker run; the report says what it used.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/app/container.js';
import { createLogger } from '../src/infra/logger.js';
import type { ProviderAdapter } from '../src/providers/types.js';
import type { ProviderFamily } from '../src/domain/types.js';
import { startSimulator, DEFAULT_TOKEN, type Simulator } from '../src/simulator/index.js';
import { spawnWorker, workerEnv, type WorkerProcess } from '../test/discipline/fixtures/spawn-worker.js';
import { startOwnRedis, type OwnRedis } from '../scripts/redis-server.js';
import { mb, peakRss, processCpuMs, redisCpuMs, report } from './support.js';

const list = (v: string | undefined, fallback: number[]) => (v ? v.split(',').map((s) => Number(s.trim())) : fallback);
const PROCESSES = list(process.env.SCALE_BENCH_PROCESSES, [1, 2, 4]);
const SIZES = list(process.env.SCALE_BENCH_SIZES, [10_000, 100_000, 1_000_000]);
const CONCURRENCY = 50;
/** (a): each process count runs this many times, in the order 1-2-4 then 4-2-1 (a shared machine's load drifts). */
const ROUNDS = 2;
const WARMUP_MS = 2_000;
const WINDOW_MS = 6_000;
/** (a): more than any window can dial. */
const CONTACTS_A = 60_000;
/** (b): dials not timed, then dials timed. */
const DIAL_SKIP = 2_000;
const DIAL_TIMED = 5_000;
const PREFIX = 'adscale';
const PARAMS = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

/** phone, name, userid, memberid: unique Chinese mobile numbers, written nationally. */
function contacts(n: number): Readable {
  return Readable.from(
    (function* () {
      let chunk = 'phone,name,userid,memberid\n';
      for (let i = 0; i < n; i++) {
        chunk += `138${String(i).padStart(8, '0')},Contact ${i},${(i % 40) + 1}@extGroup-1,m${i}\n`;
        if (chunk.length > 64 * 1024) {
          yield chunk;
          chunk = '';
        }
      }
      yield chunk;
    })(),
  );
}

/** Busy and total jiffies of the whole machine (/proc/stat), to say how loaded it was. */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

/** Arrivals of one campaign at the simulator: their times, and a promise for the n-th. */
function arrivals(sim: Simulator, campaignId: string) {
  const at: number[] = [];
  const waiters = new Map<number, (t: number) => void>();
  const on = (e: { customuuid: string | null; at: number }) => {
    if (e.customuuid?.startsWith(`${campaignId}-`) !== true) return;
    at.push(e.at);
    waiters.get(at.length)?.(e.at);
  };
  sim.events.on('request', on);
  return {
    count: () => at.length,
    within: (from: number, to: number) => at.filter((t) => t >= from && t < to).length,
    nth: (n: number) => new Promise<number>((resolve) => (at.length >= n ? resolve(at[n - 1]!) : waiters.set(n, resolve))),
    stop: () => sim.events.off('request', on),
  };
}

async function container(redisUrl: string, simUrl: string) {
  const config = loadConfig({ REDIS_URL: redisUrl, AUTODIALER_PREFIX: PREFIX, SIPCALL_API_URL: simUrl, SIPCALL_TOKEN: DEFAULT_TOKEN, LOG_LEVEL: 'error' }, null);
  return createContainer(config, { log: createLogger({ level: 'error' }), providers: new Map<ProviderFamily, ProviderAdapter>() });
}

type Container = Awaited<ReturnType<typeof container>>;

const definition = (c: Container) =>
  c.definition({ action: 'playvoice', params: PARAMS, cps: 0, maxConcurrent: 0, maxAttempts: 1, resultTimeout: '10m', ingest: { region: 'CN', numberFormat: 'national' } });

function workers(n: number, own: OwnRedis, sim: Simulator): WorkerProcess[] {
  // No account limit (the built-in default is 10 calls/s): the processes' own ceiling is measured.
  const env = workerEnv({ redisUrl: own.url, prefix: PREFIX, sipcallUrl: sim.url, token: DEFAULT_TOKEN, extra: { SIPCALL_MAX_CPS: '0' } });
  return Array.from({ length: n }, () => spawnWorker({ env, concurrency: CONCURRENCY, feedEveryMs: 100, graceMs: 5_000 }));
}

const sumCpu = (ws: readonly WorkerProcess[]) => ws.reduce((s, w) => s + (processCpuMs(w.pid) ?? NaN), 0);

interface ProcessRun {
  processes: number;
  callsPerSec: number;
  redisUs: number;
  redisCore: number;
  workerUs: number;
  machineBusy: number;
}

/** (a) `n` worker processes on one fresh campaign: a window after the warm-up. */
async function processRun(n: number, own: OwnRedis, redis: Redis, sim: Simulator): Promise<ProcessRun> {
  await redis.flushdb();
  const ws = workers(n, own, sim);
  const c = await container(own.url, sim.url);
  try {
    await Promise.all(ws.map((w) => w.ready));
    const { id } = await c.createCampaign(definition(c), contacts(CONTACTS_A), 'scale.csv');
    const arr = arrivals(sim, id);
    const first = await arr.nth(1);
    await until(first + WARMUP_MS);
    const from = Date.now();
    const [r0, w0, m0] = [await redisCpuMs(redis), sumCpu(ws), machineCpu()];
    await until(from + WINDOW_MS);
    const [r1, w1, m1] = [await redisCpuMs(redis), sumCpu(ws), machineCpu()];
    await until(from + WINDOW_MS + 300);
    const dials = arr.within(from, from + WINDOW_MS);
    arr.stop();
    if (dials >= CONTACTS_A - 100) throw new Error(`the campaign ran out of contacts during the window: raise CONTACTS_A`);
    return {
      processes: n,
      callsPerSec: (dials * 1000) / WINDOW_MS,
      redisUs: ((r1! - r0!) * 1000) / dials,
      redisCore: (r1! - r0!) / WINDOW_MS,
      workerUs: ((w1 - w0) * 1000) / dials,
      machineBusy: (m1.busy - m0.busy) / (m1.total - m0.total),
    };
  } finally {
    await Promise.all(ws.map((w) => w.stop(15_000)));
    await c.close(1000);
  }
}

interface SizeRun {
  contacts: number;
  importMs: number;
  importRedisUs: number;
  waitingBytes: number;
  waitingKeyBytes: number;
  callsPerSec: number;
  redisUsPerDial: number;
  dialedBytes: number;
  dials: number;
  benchPeakRss: number;
  redisPeak: number;
}

/** MEMORY USAGE (SAMPLES 0: every element counted) of every key of the deployment. */
async function keyBytes(redis: Redis): Promise<number> {
  let cursor = '0';
  let bytes = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 2000);
    cursor = next;
    const m = redis.pipeline();
    for (const key of keys) m.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    for (const [, v] of (await m.exec()) ?? []) bytes += Number(v ?? 0);
  } while (cursor !== '0');
  return bytes;
}

/** (b) A list of `n` imported, then the same stretch of it dialed by one worker process. */
async function sizeRun(n: number, own: OwnRedis, redis: Redis, sim: Simulator): Promise<SizeRun> {
  await redis.flushdb();
  const c = await container(own.url, sim.url);
  let ws: WorkerProcess[] = [];
  try {
    const before = await usedMemory(redis);
    const cpu0 = await redisCpuMs(redis);
    const rss = peakRss(25);
    const started = performance.now();
    const { id, summary } = await c.createCampaign(definition(c), contacts(n), `scale-${n}.csv`);
    const importMs = performance.now() - started;
    const benchPeakRss = rss.stop();
    const cpu1 = await redisCpuMs(redis);
    const imported = await usedMemory(redis);
    const waitingKeyBytes = await keyBytes(redis);
    if (summary.added !== n) throw new Error(`expected ${n} contacts to dial, the import added ${summary.added}`);

    const arr = arrivals(sim, id);
    ws = workers(1, own, sim);
    await ws[0]!.ready;
    const t0 = await arr.nth(DIAL_SKIP);
    const r0 = await redisCpuMs(redis);
    const t1 = await arr.nth(DIAL_SKIP + DIAL_TIMED);
    const r1 = await redisCpuMs(redis);
    await Promise.all(ws.map((w) => w.stop(15_000)));
    ws = [];
    arr.stop();
    const dials = arr.count();
    const dialed = await usedMemory(redis);
    const redisPeak = Number(/used_memory_peak:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
    return {
      contacts: n,
      importMs,
      importRedisUs: ((cpu1! - cpu0!) * 1000) / n,
      waitingBytes: (imported - before) / n,
      waitingKeyBytes: waitingKeyBytes / n,
      callsPerSec: (DIAL_TIMED * 1000) / (t1 - t0),
      redisUsPerDial: ((r1! - r0!) * 1000) / DIAL_TIMED,
      dialedBytes: (dialed - imported) / dials,
      dials,
      benchPeakRss,
      redisPeak,
    };
  } finally {
    await Promise.all(ws.map((w) => w.stop(15_000)));
    await c.close(1000);
  }
}

async function until(t: number): Promise<void> {
  const ms = t - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

const int = (x: number) => Math.round(x).toLocaleString('en-US');
const us = (x: number) => `${Math.round(x)} µs`;
const pct = (x: number) => `${Math.round(x * 100)} %`;
const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / Math.min(...xs);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function main(): Promise<void> {
  const own = await startOwnRedis();
  const redis = new Redis(own.url, { maxRetriesPerRequest: null });
  const sim = await startSimulator({ token: DEFAULT_TOKEN, callbackUrl: null, ledgerLimit: 10 });
  const byCount = new Map<number, ProcessRun[]>();
  const sizes: SizeRun[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of r % 2 === 0 ? PROCESSES : [...PROCESSES].reverse()) {
        const run = await processRun(n, own, redis, sim);
        byCount.set(n, [...(byCount.get(n) ?? []), run]);
        process.stdout.write(`${n} worker process(es): ${int(run.callsPerSec)} calls/s, Redis ${us(run.redisUs)} per dial (${pct(run.redisCore)} of a core), machine ${pct(run.machineBusy)} busy\n`);
      }
    }
    for (const n of SIZES) {
      const run = await sizeRun(n, own, redis, sim);
      sizes.push(run);
      process.stdout.write(`${int(n)} contacts: import ${(run.importMs / 1000).toFixed(1)} s (${us((run.importMs * 1000) / n)} each, ${run.waitingBytes.toFixed(0)} B each); dial ${int(run.callsPerSec)} calls/s, ${run.dialedBytes.toFixed(0)} B per dialed contact\n`);
    }
  } finally {
    await sim.close();
    redis.disconnect();
    await own.stop();
  }

  const rows = PROCESSES.map((n) => {
    const runs = byCount.get(n) ?? [];
    const avg = (f: (r: ProcessRun) => number) => mean(runs.map(f));
    return { n, runs, calls: avg((r) => r.callsPerSec), redisUs: avg((r) => r.redisUs), redisCore: avg((r) => r.redisCore), workerUs: avg((r) => r.workerUs), busy: avg((r) => r.machineBusy) };
  });
  const base = rows[0]?.calls ?? 0;
  const redisUsAll = rows.map((r) => r.redisUs);
  const ceiling = mean(redisUsAll) > 0 ? 1e6 / mean(redisUsAll) : 0;
  const md = [
    '## Scaling: worker processes and list size',
    '',
    `On a redis-server of the benchmark's own (no persistence; its CPU time and memory are the dialer's alone). The machine has **${cpus().length} cores** (${cpus()[0]?.model ?? 'unknown CPU'}), shared by Redis, the worker processes and the benchmark process (which runs the simulator): more processes than cores cannot add calls per second here, so what (a) shows is the cost per dial as processes are added, not a speed-up.`,
    '',
    `### (a) Worker processes on one campaign`,
    '',
    `A PlayVoice campaign of ${int(CONTACTS_A)} contacts, no campaign rate or channel cap and SIPCALL_MAX_CPS=0 (contacts in group jobs of 10), ${CONCURRENCY} contacts in hand per process, simulator callbacks off (the dial path only). Each process count ran ${ROUNDS} times (order 1-2-4, then 4-2-1), a fresh campaign each time: a ${WINDOW_MS / 1000} s window after ${WARMUP_MS / 1000} s of warm-up. Calls/s from the simulator's arrivals; Redis CPU from INFO cpu; worker CPU from /proc; machine busy from /proc/stat.`,
    '',
    '| worker processes | calls/s (runs) | against 1 process | Redis CPU per dial | Redis busy (of one core) | worker CPU per dial (all processes) | machine busy |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.n} | **${int(r.calls)}** (${r.runs.map((x) => int(x.callsPerSec)).join(', ')}) | ${base > 0 ? `${(r.calls / base).toFixed(2)}×` : '—'} | **${us(r.redisUs)}** | ${pct(r.redisCore)} | ${us(r.workerUs)} | ${pct(r.busy)} |`,
    ),
    '',
    `Redis CPU per dial varies by ${pct(spread(redisUsAll))} between 1 and ${PROCESSES.at(-1)} processes (it does not grow with the number of workers: each dial is the same few script calls whoever makes it). At about ${us(mean(redisUsAll))} per dial, one Redis core would carry about **${int(ceiling)} dials/s** before Redis itself is the limit; here the ${cpus().length} cores run out first (the worker processes spend about ${us(mean(rows.map((r) => r.workerUs)))} of CPU per dial), so the figure to plan with is that ceiling, reached on a host with enough cores for the workers.`,
    '',
    `### (b) List size: ${SIZES.map(int).join(' → ')} contacts`,
    '',
    `Each list imported into a fresh campaign (phone, name, userid, memberid; region CN), then one worker process dials it as in (a): dials ${int(DIAL_SKIP + 1)}–${int(DIAL_SKIP + DIAL_TIMED)} are timed, and the dialer stops soon after (${SIZES.length > 0 ? `${int(Math.min(...sizes.map((s) => s.dials)))}–${int(Math.max(...sizes.map((s) => s.dials)))}` : '—'} dialed). Waiting bytes: Redis used_memory growth over the import (and MEMORY USAGE of the campaign's keys); dialed bytes: used_memory growth over the dials, per call placed (attempt record, call-uuid and callee look-ups, frequency history, contact state, its place in the dial queue; the call still awaits its result, callbacks being off).`,
    '',
    '| contacts | import | per contact imported | Redis CPU per contact imported | Redis bytes per waiting contact | dial: calls/s | per dial | Redis CPU per dial | Redis bytes per dialed contact | benchmark RSS peak (import) | Redis used_memory peak |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...sizes.map(
      (s) =>
        `| ${int(s.contacts)} | ${(s.importMs / 1000).toFixed(1)} s | **${us((s.importMs * 1000) / s.contacts)}** | ${us(s.importRedisUs)} | **${s.waitingBytes.toFixed(0)}** (keys ${s.waitingKeyBytes.toFixed(0)}) | ${int(s.callsPerSec)} | **${us(1e6 / s.callsPerSec)}** | ${us(s.redisUsPerDial)} | **${s.dialedBytes.toFixed(0)}** | ${mb(s.benchPeakRss)} | ${mb(s.redisPeak)} |`,
    ),
    '',
    sizes.length > 1
      ? `From the smallest to the largest list: time per contact imported varies by ${pct(spread(sizes.map((s) => s.importMs / s.contacts)))}, bytes per waiting contact by ${pct(spread(sizes.map((s) => s.waitingBytes)))}, time per dial by ${pct(spread(sizes.map((s) => 1 / s.callsPerSec)))}, Redis CPU per dial by ${pct(spread(sizes.map((s) => s.redisUsPerDial)))}, bytes per dialed contact by ${pct(spread(sizes.map((s) => s.dialedBytes)))} (a small list's import is dominated by its fixed start; a shared machine moves rates by tens of per cent from one minute to the next).`
      : '',
    '',
    `Not measured here: dialing a whole list of ${int(Math.max(...SIZES))} to the end (at the rates above that takes ${int(Math.max(...SIZES) / Math.max(1, mean(sizes.map((s) => s.callsPerSec))) / 60)} minutes or more on this machine, and longer with callbacks); what it costs in Redis per dialed contact, callbacks included, is in the memory section.`,
  ];
  report('scale', md.join('\n'));
}

await main();
