/**
 * Dispatch ceiling: one worker process with no rate or channel limit dials
 * a campaign against the simulator (callbacks off, so only the dial path is
 * measured); next to it, in the same run and against the same simulator, a
 * raw undici client sends the same request bodies with the same concurrency.
 * Both rates come from the simulator's ledger (arrivals per second over a
 * fixed window after a warm-up). Then, on a primary and its replica of its
 * own, the same worker without and with replica acks
 * (AUTODIALER_REPLICA_ACKS 0 and 1), in turns, in the same run.
 */
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { loadConfig } from '../src/config.js';
import { createContainer, type Container } from '../src/app/container.js';
import { createLogger } from '../src/infra/logger.js';
import { DIAL_GROUP } from '../src/dispatch/feeder.js';
import { encodeMultipart } from '../src/providers/index.js';
import { sipcallFields } from '../src/providers/sipcall/adapter.js';
import { startSimulator, DEFAULT_TOKEN, type Simulator } from '../src/simulator/index.js';
import { spawnWorker, workerEnv, type WorkerProcess } from '../test/discipline/fixtures/spawn-worker.js';
import { startOwnRedis } from '../scripts/redis-server.js';
import { makeAttemptStore, type BeginGuard, type CommitInput } from '../src/store/attempts.js';
import { makeReplicaAcks } from '../src/store/replica-acks.js';
import { keys as makeKeys } from '../src/store/keys.js';
import { benchPrefix, cleanPrefix, percentile, processCpuMs, redisCpuMs, report, REDIS_URL } from './support.js';

const CONCURRENCY = Number(process.env.DISPATCH_CONCURRENCY ?? 50);
const WARMUP_MS = 2_000;
/** Raw and dialer windows alternate this many times (a shared machine's load moves: both see it alike). */
const ROUNDS = 4;
const ROUND_MS = 4_000;
/** After a pause or a resume, before a window opens (calls in hand finish, jobs come back). */
const SETTLE_MS = 1_500;
/** Enough that no dialer window runs out: (warm-up + rounds × (window + settle)) at up to 6,000 calls/s. */
const CONTACTS = 160_000;
const PARAMS = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

const numberOf = (i: number) => `1380${String(i).padStart(7, '0')}`;

function firstArrival(sim: Simulator): Promise<number> {
  return new Promise((resolve) => sim.events.once('request', (e) => resolve(e.at)));
}

async function until(t: number): Promise<void> {
  const ms = t - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/** The same bodies the adapter sends, from CONCURRENCY loops, for `ms`; returns when the last request is answered. */
async function rawFor(sim: Simulator, agent: Agent, ms: number, seq: { next: number }): Promise<void> {
  const end = Date.now() + ms;
  const loop = async (): Promise<void> => {
    while (Date.now() < end) {
      const i = seq.next++;
      const fields = sipcallFields({ token: DEFAULT_TOKEN }, { attemptId: `raw-${i}-1`, number: numberOf(i), action: 'playvoice', params: PARAMS });
      const body = encodeMultipart(fields);
      const res = await request(sim.url, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': body.contentType, accept: 'application/json' },
        body: body.body,
      });
      await res.body.text();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
}

/** Arrivals per second in [from, from + ms) whose customuuid starts with `idPrefix`. */
function rateOf(sim: Simulator, idPrefix: string, from: number, ms: number): number {
  const n = sim.ledger().filter((e) => e.at >= from && e.at < from + ms && e.customuuid?.startsWith(idPrefix) === true).length;
  return (n * 1000) / ms;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function contactsCsv(n: number): Readable {
  const lines = ['name,phone'];
  for (let i = 0; i < n; i++) lines.push(`c${i},${numberOf(i)}`);
  return Readable.from([Buffer.from(lines.join('\n'), 'utf8')]);
}

const fmtUs = (us: number | null): string => (us === null ? 'n/a' : `${Math.round(us)} µs`);

/** Contacts of each side of the replica-acks rounds: more than either dials in its windows. */
const ACK_CONTACTS = 100_000;

/** Rounds of the replica-acks comparison (two windows each): more than the raw one's, its two sides being closer. */
const ACK_ROUNDS = 6;

/** Turns of CONCURRENCY begins timed on each side (acks 0, acks 1), alternating. */
const BEGIN_TURNS = 300;

/** A begin as the processor makes it (fields, contact state and guard), of contact `idx` of campaign `cid`. */
function beginInput(cid: string, idx: number): CommitInput & { guard: BeginGuard } {
  const id = `${cid}-${idx}-1`;
  return {
    cuuid: id,
    base: null,
    fields: { cid, idx, n: 1, family: 'sipcall', number: numberOf(idx), state: 'dialing', dialingAt: Date.now(), deadline: Date.now() + 600_000 },
    contact: { idx, expectedRaw: '', next: { s: 'pending', n: 1, p: 0, ph: 'dialing', a: id, ld: Date.now() }, oldStatus: 'pending', newStatus: 'pending' },
    dueAt: null,
    deadline: Date.now() + 600_000,
    now: Date.now(),
    index: { by: 'callee', family: 'sipcall', number: numberOf(idx), ttlMs: 600_000 },
    guard: { windowUntil: null, e164: `+86${numberOf(idx)}`, dnc: [], caps: [], keepMs: 0 },
  };
}

/**
 * How long a turn of CONCURRENCY begins takes to return, from the call to the
 * last answer, without and with replica acks: the attempt store alone, on the
 * primary with a replica, the two sides alternating turn by turn.
 */
async function beginTurns(redis: Redis): Promise<[number[], number[]]> {
  const k = makeKeys(benchPrefix('dispatch-begins'));
  const conn = redis.duplicate({ enableAutoPipelining: true });
  const acksConn = redis.duplicate();
  const sides = [
    makeAttemptStore({ redis: conn, keys: k }),
    makeAttemptStore({ redis: conn, keys: k, acks: makeReplicaAcks({ redis: acksConn, replicas: 1, timeoutMs: 1000 }) }),
  ];
  const cid = 'benchbgn';
  await redis.hset(k.campaign(cid), { state: 'running', total: String(2 * BEGIN_TURNS * CONCURRENCY), importDone: '1' });
  const times: [number[], number[]] = [[], []];
  let idx = 0;
  try {
    for (let t = 0; t < BEGIN_TURNS; t++) {
      for (const side of t % 2 === 0 ? [0, 1] : [1, 0]) {
        const start = performance.now();
        const answers = await Promise.all(Array.from({ length: CONCURRENCY }, () => sides[side]!.begin(beginInput(cid, idx++))));
        times[side as 0 | 1].push(performance.now() - start);
        const wrong = answers.find((a) => a !== 'ok');
        if (wrong !== undefined) throw new Error(`a begin answered ${JSON.stringify(wrong)}`);
      }
    }
  } finally {
    conn.disconnect();
    acksConn.disconnect();
  }
  return times;
}

/** One window of one side of the replica-acks rounds. */
interface AckWindow {
  rate: number;
  workerUs: number | null;
  redisUs: number | null;
}

/**
 * What replica acks cost: a primary and its replica of this benchmark's own,
 * two deployments (prefixes) on it, each with one worker process and one
 * campaign, one with AUTODIALER_REPLICA_ACKS=0 and one with 1; they dial in
 * turns (one campaign resumed, the other paused), the order swapped each
 * round. Returns each round's windows, [acks 0, acks 1].
 */
async function replicaAckRounds(): Promise<{ rounds: [AckWindow, AckWindow][]; begins: [number[], number[]] }> {
  const primary = await startOwnRedis();
  const replica = await startOwnRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const redis = new Redis(primary.url, { maxRetriesPerRequest: null });
  const sim = await startSimulator({ token: DEFAULT_TOKEN, callbackUrl: null, ledgerLimit: 1_000_000 });
  const sides: { acks: number; c: Container; id: string; worker: WorkerProcess }[] = [];
  try {
    while (!/^slave0:.*state=online/m.test(await redis.info('replication'))) await until(Date.now() + 100);
    const begins = await beginTurns(redis);
    for (const acks of [0, 1]) {
      const prefix = benchPrefix(`dispatch-acks${acks}`);
      const config = loadConfig({ REDIS_URL: primary.url, AUTODIALER_PREFIX: prefix, SIPCALL_API_URL: sim.url, SIPCALL_TOKEN: DEFAULT_TOKEN, LOG_LEVEL: 'error' }, null);
      const c = await createContainer(config, { log: createLogger({ level: 'error' }) });
      const def = c.definition({ action: 'playvoice', params: PARAMS, cps: 0, maxConcurrent: 0, maxAttempts: 1, resultTimeout: '10m', ingest: { numberFormat: 'as_written' } });
      const { id } = await c.createCampaign(def, contactsCsv(ACK_CONTACTS), `dispatch-acks${acks}.csv`);
      await c.control.pause(id, 'benchmark: waits its turn');
      const worker = spawnWorker({
        env: workerEnv({ redisUrl: primary.url, prefix, sipcallUrl: sim.url, token: DEFAULT_TOKEN, extra: { SIPCALL_MAX_CPS: '0', AUTODIALER_REPLICA_ACKS: String(acks) } }),
        concurrency: CONCURRENCY,
        feedEveryMs: 100,
        graceMs: 5_000,
      });
      sides.push({ acks, c, id, worker });
    }
    await Promise.all(sides.map((s) => s.worker.ready));
    for (const s of sides) {
      await s.c.control.resume(s.id);
      await until(Date.now() + WARMUP_MS);
      await s.c.control.pause(s.id, 'benchmark: the other side warms up');
    }
    const rounds: [AckWindow, AckWindow][] = [];
    for (let r = 0; r < ACK_ROUNDS; r++) {
      const windows = new Map<number, AckWindow>();
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        await s.c.control.resume(s.id);
        await until(Date.now() + SETTLE_MS);
        const from = Date.now();
        const cpu0 = processCpuMs(s.worker.pid);
        const redis0 = await redisCpuMs(redis);
        await until(from + ROUND_MS);
        const cpu1 = processCpuMs(s.worker.pid);
        const redis1 = await redisCpuMs(redis);
        await s.c.control.pause(s.id, "benchmark: the other side's turn");
        await until(from + ROUND_MS + 300);
        const rate = rateOf(sim, `${s.id}-`, from, ROUND_MS);
        const dials = (rate * ROUND_MS) / 1000;
        windows.set(s.acks, {
          rate,
          workerUs: cpu0 !== null && cpu1 !== null && dials > 0 ? ((cpu1 - cpu0) * 1000) / dials : null,
          redisUs: redis0 !== null && redis1 !== null && dials > 0 ? ((redis1 - redis0) * 1000) / dials : null,
        });
      }
      const round: [AckWindow, AckWindow] = [windows.get(0)!, windows.get(1)!];
      rounds.push(round);
      process.stdout.write(`replica round ${r + 1}: acks 0 ${Math.round(round[0].rate)} calls/s, acks 1 ${Math.round(round[1].rate)} calls/s\n`);
    }
    return { rounds, begins };
  } finally {
    await Promise.all(sides.map((s) => s.worker.stop(15_000)));
    for (const s of sides) await s.c.close(2000);
    await sim.close();
    redis.disconnect();
    await replica.stop();
    await primary.stop();
  }
}

async function main(): Promise<void> {
  const prefix = benchPrefix('dispatch');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const sim = await startSimulator({ token: DEFAULT_TOKEN, callbackUrl: null, ledgerLimit: 1_000_000 });
  const config = loadConfig(
    { REDIS_URL, AUTODIALER_PREFIX: prefix, SIPCALL_API_URL: sim.url, SIPCALL_TOKEN: DEFAULT_TOKEN, LOG_LEVEL: 'error' },
    null,
  );
  const c = await createContainer(config, { redis, log: createLogger({ level: 'error' }) });
  const rounds: { raw: number; dialer: number; workerUs: number | null; redisUs: number | null }[] = [];
  try {
    const agent = new Agent({ pipelining: 1, keepAliveTimeout: 4_000 });
    const seq = { next: 0 };
    await rawFor(sim, agent, WARMUP_MS, seq);

    const def = c.definition({
      action: 'playvoice',
      params: PARAMS,
      cps: 0,
      maxConcurrent: 0,
      maxAttempts: 1,
      resultTimeout: '10m',
      ingest: { numberFormat: 'as_written' },
    });
    const { id } = await c.createCampaign(def, contactsCsv(CONTACTS), 'dispatch.csv');
    const worker = spawnWorker({
      // No account limit either (the built-in default is 10 calls/s): the worker's own ceiling is measured.
      env: workerEnv({ redisUrl: REDIS_URL, prefix, sipcallUrl: sim.url, token: DEFAULT_TOKEN, extra: { SIPCALL_MAX_CPS: '0' } }),
      concurrency: CONCURRENCY,
      feedEveryMs: 100,
      graceMs: 5_000,
    });
    try {
      await worker.ready;
      const first = await firstArrival(sim);
      await until(first + WARMUP_MS);
      for (let r = 0; r < ROUNDS; r++) {
        await c.control.pause(id, 'benchmark: raw client window');
        await until(Date.now() + SETTLE_MS);
        const rawFrom = Date.now();
        await rawFor(sim, agent, ROUND_MS, seq);
        const raw = rateOf(sim, 'raw-', rawFrom, ROUND_MS);
        await c.control.resume(id);
        await until(Date.now() + SETTLE_MS);
        const from = Date.now();
        const cpu0 = processCpuMs(worker.pid);
        const redis0 = await redisCpuMs(redis);
        await until(from + ROUND_MS);
        const cpu1 = processCpuMs(worker.pid);
        const redis1 = await redisCpuMs(redis);
        await until(from + ROUND_MS + 300);
        const dialer = rateOf(sim, `${id}-`, from, ROUND_MS);
        const dials = (dialer * ROUND_MS) / 1000;
        rounds.push({
          raw,
          dialer,
          workerUs: cpu0 !== null && cpu1 !== null && dials > 0 ? ((cpu1 - cpu0) * 1000) / dials : null,
          redisUs: redis0 !== null && redis1 !== null && dials > 0 ? ((redis1 - redis0) * 1000) / dials : null,
        });
        process.stdout.write(`round ${r + 1}: raw undici ${Math.round(raw)} requests/s, dialer ${Math.round(dialer)} calls/s\n`);
      }
    } finally {
      await worker.stop(15_000);
      await agent.close();
    }
  } finally {
    await c.close(2000);
    await sim.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  }
  const { rounds: acked, begins } = await replicaAckRounds();

  const raw = rounds.reduce((a, r) => a + r.raw, 0) / Math.max(1, rounds.length);
  const dialer = rounds.reduce((a, r) => a + r.dialer, 0) / Math.max(1, rounds.length);
  const workerUsPerDial = median(rounds.map((r) => r.workerUs ?? NaN).filter(Number.isFinite));
  const redisUsPerDial = median(rounds.map((r) => r.redisUs ?? NaN).filter(Number.isFinite));
  const medianShare = median(rounds.map((r) => (r.raw > 0 ? r.dialer / r.raw : 0)));
  const share = raw > 0 ? dialer / raw : 0;
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const meanRate = (side: 0 | 1) => acked.reduce((a, r) => a + r[side].rate, 0) / Math.max(1, acked.length);
  const medianUs = (side: 0 | 1, k: 'workerUs' | 'redisUs') => median(acked.map((r) => r[side][k] ?? NaN).filter(Number.isFinite));
  const ackShare = meanRate(0) > 0 ? meanRate(1) / meanRate(0) : 0;
  const medianAckShare = median(acked.map(([a, b]) => (a.rate > 0 ? b.rate / a.rate : 0)));
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const turnsOf = (side: 0 | 1) => {
    const sorted = [...begins[side]].sort((a, b) => a - b);
    return `${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 90))} | ${ms(percentile(sorted, 99))}`;
  };
  const beginCost = median(begins[1]) - median(begins[0]);
  report(
    'dispatch',
    [
      '## Dispatch: dial rate of one worker process against the raw HTTP ceiling',
      '',
      `One worker process (${CONCURRENCY} contacts in hand, no cps or channel limit, so the campaign's contacts are enqueued in groups of ${DIAL_GROUP} per job: ${Math.ceil(CONCURRENCY / DIAL_GROUP)} group jobs in hand) against the simulator (in the benchmark process) with callbacks off; a raw undici client with the same request bodies and ${CONCURRENCY} requests in flight, same simulator, same run. The two take turns: ${ROUNDS} rounds of a ${ROUND_MS / 1000} s raw window (campaign paused) then a ${ROUND_MS / 1000} s dialer window (campaign resumed), each after ${SETTLE_MS / 1000} s to settle, so that a shared machine's changing load falls on both alike. Rates are simulator ledger arrivals per second; the worker had ${WARMUP_MS / 1000} s of warm-up first.`,
      '',
      '| round | raw undici (req/s) | dialer worker (calls/s) | share | worker CPU per dial | Redis CPU per dial |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rounds.map((r, i) => `| ${i + 1} | ${Math.round(r.raw)} | ${Math.round(r.dialer)} | ${pct(r.raw > 0 ? r.dialer / r.raw : 0)} | ${fmtUs(r.workerUs)} | ${fmtUs(r.redisUs)} |`),
      `| **all** | **${Math.round(raw)}** | **${Math.round(dialer)}** | **${pct(share)}** (median of rounds ${pct(medianShare)}; target ≥ 40 %: ${share >= 0.4 ? 'met' : 'MISSED'}) | ${fmtUs(workerUsPerDial)} | ${fmtUs(redisUsPerDial)} |`,
      '',
      'CPU per dial from /proc (worker) and INFO cpu (Redis, other clients included), median of the rounds: on a shared machine the rate moves with the load, these move less.',
      '',
      `Where a dial's time goes (one worker, in order): contact row and state read; pacing acquire; attempt begun (one commit script that also indexes the callee); send-time admission and landing (only when a cps limit applies); the HTTP request; dial answer applied from what the begin wrote (one commit, no read); then, once per group of ${DIAL_GROUP} contacts, BullMQ completion and next fetch and the feeder's job add. The reads, acquires and commits that the contacts in hand ask for in one turn of the event loop go to Redis as one script call each (at most 32 items), written together. The worker is CPU-bound: ioredis (building and writing commands, parsing replies), undici, garbage collection and our record keeping take most of it; BullMQ, shared by the group, about a tenth. With one job per contact (as for a rated or capped campaign) the same worker reached 26–29 % of the raw client here, at about 355 µs of worker CPU and 185 µs of Redis CPU per dial: BullMQ's job handling was a quarter of the worker's busy time.`,
      '',
      '### With a replica: what replica acks cost',
      '',
      `A primary and its replica of the benchmark's own (loopback, no persistence) and a simulator of their own; two deployments (prefixes) on that primary, each one worker process as above (${CONCURRENCY} in hand, no limits) with a campaign of ${ACK_CONTACTS.toLocaleString('en')} contacts: one with AUTODIALER_REPLICA_ACKS=0 (the request leaves once the primary answers the begin), one with AUTODIALER_REPLICA_ACKS=1 (each turn's begins then wait for one WAIT, on a connection of their own, until the replica holds them). They dial in turns, one campaign resumed while the other is paused, ${ACK_ROUNDS} rounds of a ${ROUND_MS / 1000} s window each (after ${SETTLE_MS / 1000} s to settle), the order swapped each round; same run as above. Primary CPU per dial from its INFO cpu (both deployments' clients; the paused one only polls).`,
      '',
      '| round | acks 0 (calls/s) | acks 1 (calls/s) | acks 1 / acks 0 | worker CPU per dial, 0 / 1 | primary CPU per dial, 0 / 1 |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...acked.map(([a, b], i) => `| ${i + 1} | ${Math.round(a.rate)} | ${Math.round(b.rate)} | ${pct(a.rate > 0 ? b.rate / a.rate : 0)} | ${fmtUs(a.workerUs)} / ${fmtUs(b.workerUs)} | ${fmtUs(a.redisUs)} / ${fmtUs(b.redisUs)} |`),
      `| **all** | **${Math.round(meanRate(0))}** | **${Math.round(meanRate(1))}** | **${pct(ackShare)}** (median of rounds ${pct(medianAckShare)}) | ${fmtUs(medianUs(0, 'workerUs'))} / ${fmtUs(medianUs(1, 'workerUs'))} | ${fmtUs(medianUs(0, 'redisUs'))} / ${fmtUs(medianUs(1, 'redisUs'))} |`,
      '',
      `The begin alone, on the same primary and replica before those rounds: ${BEGIN_TURNS} turns of ${CONCURRENCY} begins on each side, alternating turn by turn, each timed from the calls to the last answer (the attempt store's batched commit; with acks, then one WAIT for the turn).`,
      '',
      '| turn of begins | p50 | p90 | p99 |',
      '| --- | ---: | ---: | ---: |',
      `| acks 0 | ${turnsOf(0)} |`,
      `| acks 1 | ${turnsOf(1)} |`,
      '',
      `A begin with acks costs one more round trip (the WAIT, sent once its commit is answered, shared by the begins of that turn) and the time the replica takes to confirm its offset: ${ms(beginCost)} more per turn at the median here. With a fixed number of contacts in hand that time is taken from the rate; a rated campaign below the ceiling keeps its rate and sees it as latency before each request.`,
    ].join('\n'),
  );
  process.stdout.write(`dialer share of raw: ${pct(share)} (median of rounds ${pct(medianShare)})\n`);
}

await main();
