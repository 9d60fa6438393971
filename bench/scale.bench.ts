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
 * SCALE_BENCH_JSON=<file> keeps the figures; SCALE_BENCH_FROM=<file> writes
 * the report again from them, without a run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
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
import { callbacksRun, CALLBACK_WINDOWS, type CallbacksRun } from './scale-callbacks.js';

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
/** (c): the campaign's rate with callbacks on (one server and one worker process must keep up on a shared machine). */
const CALLBACK_CPS = 150;
/** (b): dials not timed, then dials timed. */
const DIAL_SKIP = 2_000;
const DIAL_TIMED = 5_000;
/** (b): a figure for the largest list this much above the smallest's "grows". */
const GROWTH = 0.25;
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
  /** Share of the machine's CPU that Redis, the workers and the simulator used. */
  ours: number;
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
    const [r0, w0, m0, b0] = [await redisCpuMs(redis), sumCpu(ws), machineCpu(), process.cpuUsage()];
    await until(from + WINDOW_MS);
    const [r1, w1, m1, b1] = [await redisCpuMs(redis), sumCpu(ws), machineCpu(), process.cpuUsage(b0)];
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
      // Redis, the workers and this process (the simulator), against what the cores could give in the window.
      ours: (r1! - r0! + (w1 - w0) + (b1.user + b1.system) / 1000) / (WINDOW_MS * cpus().length),
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
  /** CPU of the importing process (this one) per contact. */
  importCpuUs: number;
  waitingBytes: number;
  waitingKeyBytes: number;
  callsPerSec: number;
  redisUsPerDial: number;
  workerUsPerDial: number;
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
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const { id, summary } = await c.createCampaign(definition(c), contacts(n), `scale-${n}.csv`);
    const importMs = performance.now() - started;
    const importCpu = process.cpuUsage(cpuBefore);
    const benchPeakRss = rss.stop();
    const cpu1 = await redisCpuMs(redis);
    const imported = await usedMemory(redis);
    const waitingKeyBytes = await keyBytes(redis);
    if (summary.added !== n) throw new Error(`expected ${n} contacts to dial, the import added ${summary.added}`);

    const arr = arrivals(sim, id);
    ws = workers(1, own, sim);
    await ws[0]!.ready;
    const t0 = await arr.nth(DIAL_SKIP);
    const [r0, w0] = [await redisCpuMs(redis), sumCpu(ws)];
    const t1 = await arr.nth(DIAL_SKIP + DIAL_TIMED);
    const [r1, w1] = [await redisCpuMs(redis), sumCpu(ws)];
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
      importCpuUs: (importCpu.user + importCpu.system) / n,
      workerUsPerDial: ((w1 - w0) * 1000) / DIAL_TIMED,
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

/** Runs (a) and (b). */
async function measure(): Promise<Measured> {
  const own = await startOwnRedis();
  const redis = new Redis(own.url, { maxRetriesPerRequest: null });
  const sim = await startSimulator({ token: DEFAULT_TOKEN, callbackUrl: null, ledgerLimit: 10 });
  const byCount = new Map<number, ProcessRun[]>();
  const sizes: SizeRun[] = [];
  let withCallbacks: CallbacksRun | null = null;
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of r % 2 === 0 ? PROCESSES : [...PROCESSES].reverse()) {
        const run = await processRun(n, own, redis, sim);
        byCount.set(n, [...(byCount.get(n) ?? []), run]);
        process.stdout.write(`${n} worker process(es): ${int(run.callsPerSec)} calls/s, Redis ${us(run.redisUs)} per dial (${pct(run.redisCore)} of a core), machine ${pct(run.machineBusy)} busy\n`);
      }
    }
    withCallbacks = await callbacksRun({ own, redis, prefix: PREFIX, cps: CALLBACK_CPS, contacts, container });
    process.stdout.write(`with callbacks: ${int(withCallbacks.callsPerSec)} calls/s, ${withCallbacks.callbacksPerDial.toFixed(1)} callbacks a call, Redis ${us(withCallbacks.redisUsNet)} per call (net of ${withCallbacks.idleRedisMsPerSec.toFixed(1)} ms/s idle)\n`);
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
  return { processes: PROCESSES.map((n) => ({ n, runs: byCount.get(n) ?? [] })), withCallbacks, sizes };
}

function render(m: Measured): string {
  const sizes = m.sizes;
  const rows = m.processes.map(({ n, runs }) => {
    const avg = (f: (r: ProcessRun) => number) => mean(runs.map(f));
    return { n, runs, calls: avg((r) => r.callsPerSec), redisUs: avg((r) => r.redisUs), redisCore: avg((r) => r.redisCore), workerUs: avg((r) => r.workerUs), busy: avg((r) => r.machineBusy), ours: avg((r) => r.ours) };
  });
  const base = rows[0]?.calls ?? 0;
  const redisUsAll = rows.map((r) => r.redisUs);
  const ceiling = mean(redisUsAll) > 0 ? 1e6 / mean(redisUsAll) : 0;
  const flat = (xs: number[]) => (spread(xs) <= 0.25 ? `stays within ${pct(spread(xs))}` : `moves by ${pct(spread(xs))}`);
  const biggest = Math.max(0, ...sizes.map((x) => x.contacts));
  /** CPU and byte figures of (b), and which grew from the smallest list to the largest. */
  const perSize: [string, (x: SizeRun) => number][] = [
    ['bytes per waiting contact', (x) => x.waitingBytes],
    ['bytes per dialed contact', (x) => x.dialedBytes],
    ['importer CPU per contact', (x) => x.importCpuUs],
    ['Redis CPU per contact imported', (x) => x.importRedisUs],
    ['worker CPU per dial', (x) => x.workerUsPerDial],
    ['Redis CPU per dial', (x) => x.redisUsPerDial],
  ];
  const growing = sizes.length > 1 ? perSize.filter(([, f]) => f(sizes.at(-1)!) > f(sizes[0]!) * (1 + GROWTH)).map(([name]) => name) : [];
  const ours = rows.map((r) => r.ours);
  const first = rows[0];
  const last = rows.at(-1);
  const md = [
    '## Scaling: worker processes and list size',
    '',
    `On a redis-server of the benchmark's own (no persistence; its CPU time and memory are the dialer's alone). The machine has **${cpus().length} cores** (${cpus()[0]?.model ?? 'unknown CPU'}), shared by Redis, the worker processes, the benchmark process (which runs the simulator) and whatever else runs on the machine: with more busy processes than cores, adding worker processes cannot add calls per second here. What (a) shows is what each dial costs Redis and the workers as processes are added, and that nothing degrades; the speed-up needs a host with a core per worker process.`,
    '',
    `### (a) Worker processes on one campaign`,
    '',
    `A PlayVoice campaign of ${int(CONTACTS_A)} contacts, no campaign rate or channel cap and SIPCALL_MAX_CPS=0 (contacts in group jobs of 10), ${CONCURRENCY} contacts in hand per process, simulator callbacks off (the dial path only). Each process count ran ${ROUNDS} times (order ${m.processes.map((x) => x.n).join('-')}, then back), a fresh campaign each time: a ${WINDOW_MS / 1000} s window after ${WARMUP_MS / 1000} s of warm-up. Calls/s from the simulator's arrivals; Redis CPU from INFO cpu; worker CPU from /proc; machine busy from /proc/stat, of which "ours" is Redis, the workers and the simulator.`,
    '',
    '| worker processes | calls/s (runs) | against 1 process | Redis CPU per dial | Redis busy (of one core) | worker CPU per dial (all processes) | machine busy (ours) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.n} | **${int(r.calls)}** (${r.runs.map((x) => int(x.callsPerSec)).join(', ')}) | ${base > 0 ? `${(r.calls / base).toFixed(2)}×` : '—'} | **${us(r.redisUs)}** | ${pct(r.redisCore)} | ${us(r.workerUs)} | ${pct(r.busy)} (${pct(r.ours)}) |`,
    ),
    '',
    first && last
      ? `The calls/s column follows the machine's other load more than the process count: the dialer (Redis, workers, simulator) used ${pct(Math.min(...ours))}–${pct(Math.max(...ours))} of a machine that was ${pct(Math.min(...rows.map((r) => r.busy)))}–${pct(Math.max(...rows.map((r) => r.busy)))} busy. Redis CPU per dial ${flat(redisUsAll)} from ${first.n} to ${last.n} processes (${rows.map((r) => us(r.redisUs)).join(' → ')}): a dial is the same few script calls whichever process makes it. At about ${us(mean(redisUsAll))} per dial, one Redis core would carry about **${int(ceiling)} dials/s** before Redis itself is the limit. Here the cores run out first: the workers spend ${us(first.workerUs)} (1 process) to ${us(last.workerUs)} (${last.n}) of CPU per dial, and ${pct(last.busy)} of the machine was busy with ${last.n} processes.`
      : '',
    '',
    ...(m.withCallbacks ? callbacksSection(m.withCallbacks) : []),
    `### (b) List size: ${sizes.map((x) => int(x.contacts)).join(' → ')} contacts`,
    '',
    `Each list imported into a fresh campaign (phone, name, userid, memberid; region CN) by this process, then one worker process dials it as in (a): dials ${int(DIAL_SKIP + 1)}–${int(DIAL_SKIP + DIAL_TIMED)} are timed, and the worker stops soon after (${sizes.length > 0 ? `${int(Math.min(...sizes.map((s) => s.dials)))}–${int(Math.max(...sizes.map((s) => s.dials)))}` : '—'} dialed). Waiting bytes: Redis used_memory growth over the import (MEMORY USAGE of the campaign's keys in brackets); dialed bytes: used_memory growth over the dials, per call placed (attempt record, call-uuid and callee look-ups, frequency history, contact state, the dial queue's jobs; the call still awaits its result, callbacks being off).`,
    '',
    '| contacts | import | per contact imported (CPU of the importer) | Redis CPU per contact imported | Redis bytes per waiting contact | dial: calls/s | per dial | worker CPU per dial | Redis CPU per dial | Redis bytes per dialed contact | importer RSS peak | Redis used_memory peak |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...sizes.map(
      (s) =>
        `| ${int(s.contacts)} | ${(s.importMs / 1000).toFixed(1)} s | **${us((s.importMs * 1000) / s.contacts)}** (${us(s.importCpuUs)}) | ${us(s.importRedisUs)} | **${s.waitingBytes.toFixed(0)}** (${s.waitingKeyBytes.toFixed(0)}) | ${int(s.callsPerSec)} | **${us(1e6 / s.callsPerSec)}** | ${us(s.workerUsPerDial)} | ${us(s.redisUsPerDial)} | **${s.dialedBytes.toFixed(0)}** | ${mb(s.benchPeakRss)} | ${mb(s.redisPeak)} |`,
    ),
    '',
    sizes.length > 1
      ? `${growing.length === 0 ? `None of the CPU and byte figures grows with the list (each within ${pct(GROWTH)} of its value for the smallest list, or lower)` : `Growing with the list (more than ${pct(GROWTH)} above the smallest list's): ${growing.join(', ')}`}. The wall times follow the machine's other load, not the list: the importer's CPU per contact stays at ${sizes.map((x) => us(x.importCpuUs)).join(' → ')} while its wall time per contact goes ${sizes.map((x) => us((x.importMs * 1000) / x.contacts)).join(' → ')}.`
      : '',
    '',
    `Not measured here: dialing a list of ${int(biggest)} to its end (at the rates above, ${int(biggest / Math.max(1, mean(sizes.map((s) => s.callsPerSec))) / 60)} minutes or more on this machine, longer with callbacks). What a dialed contact costs in Redis with its callbacks is in the memory section; what a long run leaves behind, in the soak's.`,
  ];
  return md.join('\n');
}

function callbacksSection(w: CallbacksRun): string[] {
  return [
    '### (a′) A call with its callbacks',
    '',
    `One \`autodialer server\` process (it receives the callbacks and correlates them) and one worker process; a campaign at ${w.cps} calls/s (one job per contact, as for any campaign with a rate), the simulator posting every status callback and CDR (its default mix, nothing duplicated or lost). Redis CPU over ${CALLBACK_WINDOWS.idleMs / 1000} s with the campaign paused gives what the two processes cost Redis doing nothing (polling, timers); over ${CALLBACK_WINDOWS.windowMs / 1000} s of steady dialing (after ${CALLBACK_WINDOWS.warmupMs / 1000} s of warm-up), less that, per call: the call's own cost.`,
    '',
    '| campaign rate | calls/s | callbacks per call | Redis CPU, nothing to do | Redis CPU per call (gross) | Redis CPU per call, net | worker CPU per call | server CPU per call |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${w.cps} | ${int(w.callsPerSec)} | ${w.callbacksPerDial.toFixed(1)} | ${w.idleRedisMsPerSec.toFixed(1)} ms a second | ${us(w.redisUsGross)} | **${us(w.redisUsNet)}** | ${us(w.workerUs)} | ${us(w.serverUs)} |`,
    '',
    `With its callbacks a call costs Redis about ${us(w.redisUsNet)}: one Redis core would carry about **${int(1e6 / Math.max(1, w.redisUsNet))} calls/s with their callbacks**${w.callsPerSec < w.cps * 0.9 ? ` (the two processes did not reach the campaign's rate on this machine: ${int(w.callsPerSec)} calls/s)` : ''}.`,
    '',
  ];
}

interface Measured {
  processes: { n: number; runs: ProcessRun[] }[];
  withCallbacks: CallbacksRun | null;
  sizes: SizeRun[];
}

// SCALE_BENCH_JSON=<file>: the figures also written there; SCALE_BENCH_FROM=<file>: written out again from such a file, without a run.
const from = process.env.SCALE_BENCH_FROM;
const measured: Measured = from ? (JSON.parse(readFileSync(from, 'utf8')) as Measured) : await measure();
if (process.env.SCALE_BENCH_JSON && !from) writeFileSync(process.env.SCALE_BENCH_JSON, JSON.stringify(measured, null, 1));
report('scale', render(measured));
