/**
 * Archive throughput: a finished campaign of 100,000 contacts (one answered
 * or missed call each, its CDR received and correlated) moved from Redis to
 * PostgreSQL, against a raw COPY of the same rows into the same PostgreSQL
 * in the same run (the ceiling: rows already encoded, one transaction, no
 * idempotence). Measured twice: the archiver's writes alone on the same rows
 * (target ≥ 50 % of the raw COPY's rows per second), and the archiver end to
 * end, reading Redis (contacts per second against the dialer's rate in its
 * own benchmark).
 * Then the campaign leaves Redis (its contacts written again, changes only,
 * and removed page by page) and what stays in Redis per contact is measured.
 *
 * `HISTORY_BENCH_CONTACTS` makes it smaller for a quick look;
 * `HISTORY_BENCH_PROFILE=<file>` writes a CPU profile of the end-to-end run;
 * `HISTORY_BENCH_PG` is the server's maintenance database (default
 * postgres://postgres@127.0.0.1:5432/postgres): the bench makes two databases
 * there and drops them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createContainer, type Container } from '../src/app/container.js';
import { createLogger } from '../src/infra/logger.js';
import type { ProviderAdapter } from '../src/providers/types.js';
import type { ProviderFamily } from '../src/domain/types.js';
import { openHistoryDatabase } from '../src/history/pg.js';
import { copyInto } from '../src/history/copy.js';
import { makeContactSource } from '../src/history/contact-source.js';
import { historyKeys } from '../src/history/keys.js';
import {
  ATTEMPT_COLUMNS,
  CALLBACK_COLUMNS,
  CONTACT_COLUMNS,
  archivedAttempt,
  archivedCallback,
  archivedContact,
  attemptLine,
  callbackLine,
  contactLine,
  type ArchivedAttempt,
  type ArchivedCallback,
  type ArchivedContact,
} from '../src/history/records.js';
import { makePgHistoryStore } from '../src/history/store.js';
import { HISTORY_SCHEMA } from '../src/history/migrate.js';
import { finishedCampaign } from '../test/history/support.js';
import { benchPrefix, cleanPrefix, mb, processCpuMs, rate, REDIS_URL, report } from './support.js';

const N = Number(process.env.HISTORY_BENCH_CONTACTS ?? 100_000);
const PG_ADMIN = process.env.HISTORY_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TARGET_SHARE = 0.5;
/** As the archiver writes: contacts (with their attempts) and callbacks per transaction. */
const CONTACT_BATCH = 2_500;
const CALLBACK_BATCH = 5_000;
const TARGET_SUMMARY_BYTES = 50;
const fmt = (n: number) => n.toLocaleString('en-US');
/** A share in per cent, one decimal, rounded down: a share just under its target never reads as the target. */
const floorPct = (x: number) => (Math.floor(x * 1000) / 10).toFixed(1);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * `HISTORY_BENCH_PROFILE=<file>`: a CPU profile of the end-to-end run alone
 * (open it in Chrome's DevTools), to see where the archiver spends its time.
 */
async function startProfile(): Promise<{ stop(): Promise<void> } | null> {
  const file = process.env.HISTORY_BENCH_PROFILE;
  if (!file) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** Redis's CPU between two `INFO cpu` + `INFO commandstats` readings, and the three commands that took most of its time. */
async function redisCpu(redis: Redis): Promise<() => Promise<{ ms: number; top: string }>> {
  const read = async () => {
    const text = `${await redis.info('cpu')}\n${await redis.info('commandstats')}`;
    const cpu = ['used_cpu_user', 'used_cpu_sys'].reduce((sum, f) => sum + Number(new RegExp(`${f}:([\\d.]+)`).exec(text)?.[1] ?? 0), 0);
    return { cpu, usec: new Map([...text.matchAll(/cmdstat_(\w+):calls=\d+,usec=(\d+)/g)].map((m) => [m[1]!, Number(m[2])])) };
  };
  const before = await read();
  return async () => {
    const after = await read();
    const spent = [...after.usec].map(([name, usec]) => [name, (usec - (before.usec.get(name) ?? 0)) / 1000] as const);
    const top = spent.filter(([n, ms]) => n !== 'info' && ms > 0).sort((x, y) => y[1] - x[1]);
    return { ms: (after.cpu - before.cpu) * 1000, top: top.slice(0, 3).map(([n, ms]) => `${n} ${Math.round(ms)} ms`).join(', ') };
  };
}

/** CPU (ms) of every PostgreSQL server process on this machine so far, from /proc (Linux; null elsewhere). */
function postgresCpuMs(): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  let ms = 0;
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) continue;
    } catch {
      continue;
    }
    ms += processCpuMs(Number(pid)) ?? 0;
  }
  return ms;
}

async function database(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: PG_ADMIN });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** A finished campaign of `n` contacts: each begun, accepted, and ended by its CDR (received and correlated in this process). */
interface Records {
  contacts: ArchivedContact[];
  attempts: ArchivedAttempt[];
  callbacks: ArchivedCallback[];
}

/** The campaign's rows as the archiver makes them, read from Redis (not timed). */
async function recordsOf(c: Container, cid: string): Promise<Records> {
  const source = makeContactSource({ redis: c.redis, keys: c.keys, hk: historyKeys(c.keys, c.config.prefix), log: c.log });
  const out: Records = { contacts: [], attempts: [], callbacks: [] };
  for (let from = 0; from < N; from += 1000) {
    for (const it of await source.page(cid, from, Math.min(1000, N - from), { all: true })) {
      const last = it.attempts.find((a) => a.id === it.state.a)?.a ?? null;
      out.contacts.push(archivedContact(cid, it.idx, it.row, it.state, last));
      for (const a of it.attempts) if (a.a) out.attempts.push(archivedAttempt(a.a, it.row?.e ?? null));
    }
  }
  for await (const cb of c.callbackLog.read({ pageSize: 1000 })) {
    const [settled = null] = await c.callbackLog.results([cb.id]);
    out.callbacks.push(archivedCallback(cb, settled));
  }
  return out;
}

function linesOf(r: Records): Rows {
  const text = (l: string | Buffer) => (typeof l === 'string' ? l : l.toString());
  return { contacts: r.contacts.map(contactLine), attempts: r.attempts.map((a) => attemptLine(a, a.e164)), callbacks: r.callbacks.map((cb) => text(callbackLine(cb))) };
}

/**
 * The archiver's write path alone on the same rows: transactions of
 * CONTACT_BATCH contacts with their attempts and of CALLBACK_BATCH
 * callbacks, each encoded and written as the archiver writes a batch.
 * Returns ms.
 */
async function writePath(url: string, r: Records): Promise<number> {
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  await admin.query(`TRUNCATE ${HISTORY_SCHEMA}.contacts, ${HISTORY_SCHEMA}.attempts, ${HISTORY_SCHEMA}.callbacks`);
  await admin.query('CHECKPOINT');
  await admin.end();
  const db = openHistoryDatabase(url, createLogger({ level: 'silent' }));
  const store = makePgHistoryStore(db);
  await store.ready();
  try {
    const started = performance.now();
    for (let i = 0; i < r.callbacks.length; i += CALLBACK_BATCH) await store.write({ callbacks: r.callbacks.slice(i, i + CALLBACK_BATCH) }, { fresh: true });
    for (let i = 0; i < r.contacts.length; i += CONTACT_BATCH) {
      const contacts = r.contacts.slice(i, i + CONTACT_BATCH);
      const last = contacts[contacts.length - 1]!.idx;
      const attempts = r.attempts.filter((a) => a.idx >= contacts[0]!.idx && a.idx <= last);
      await store.write({ contacts, attempts }, { fresh: true });
    }
    return performance.now() - started;
  } finally {
    await db.close();
  }
}

/** The dialer's rate in its benchmark (calls/s, all rounds), when that benchmark has run here. */
function dialerRate(): number | null {
  try {
    const m = /^\| \*\*all\*\* \| \*\*\d+\*\* \| \*\*(\d+)\*\*/m.exec(readFileSync(join(import.meta.dirname, 'results', 'dispatch.md'), 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

type Rows = { contacts: string[]; attempts: string[]; callbacks: string[] };

/** The rows kept in files between the runs, so that the archiver runs beside a heap of its own size. */
function saveRows(dir: string, rows: Rows): void {
  for (const [name, lines] of Object.entries(rows)) writeFileSync(join(dir, name), lines.join(''));
}

function loadRows(dir: string): Rows {
  const lines = (name: string) => readFileSync(join(dir, name), 'utf8').split(/(?<=\n)/).filter((l) => l !== '');
  return { contacts: lines('contacts'), attempts: lines('attempts'), callbacks: lines('callbacks') };
}

/** A full garbage collection, so that what the setup left does not count against the archiver. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** A raw COPY of the rows into empty tables of the same schema (indexes included), in one transaction; returns ms. */
async function rawCopy(url: string, dir: string): Promise<number> {
  const rows = loadRows(dir);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const client = await pool.connect();
  try {
    await client.query(`TRUNCATE ${HISTORY_SCHEMA}.contacts, ${HISTORY_SCHEMA}.attempts, ${HISTORY_SCHEMA}.callbacks`);
    await client.query('CHECKPOINT');
    const started = performance.now();
    await client.query('BEGIN');
    await copyInto(client, `${HISTORY_SCHEMA}.contacts`, CONTACT_COLUMNS, rows.contacts);
    await copyInto(client, `${HISTORY_SCHEMA}.attempts`, ATTEMPT_COLUMNS, rows.attempts);
    await copyInto(client, `${HISTORY_SCHEMA}.callbacks`, CALLBACK_COLUMNS, rows.callbacks);
    await client.query('COMMIT');
    return performance.now() - started;
  } finally {
    client.release();
    await pool.end();
  }
}

/** Runs archiver passes until `done`; returns ms. */
async function passesUntil(c: Container, done: () => Promise<boolean>): Promise<{ ms: number; passes: number; contacts: number; byThread: number }> {
  const started = performance.now();
  let passes = 0;
  let contacts = 0;
  let byThread = 0;
  while (!(await done())) {
    const pass = await c.history.archiver!.pass();
    contacts += pass.contacts;
    byThread += pass.contactsByThread;
    if (++passes > 100_000) throw new Error('the archiver does not get there');
  }
  return { ms: performance.now() - started, passes, contacts, byThread };
}

async function campaignBytes(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let bytes = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) bytes += (await redis.memory('USAGE', k, 'SAMPLES', 0)) ?? 0;
  } while (cursor !== '0');
  return bytes;
}

async function main(): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const [history, raw] = await Promise.all([database(`adbench_history_${tag}`), database(`adbench_history_raw_${tag}`)]);
  const prefix = benchPrefix('history');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const config = loadConfig(
    {
      REDIS_URL,
      AUTODIALER_PREFIX: prefix,
      SIPCALL_API_URL: 'http://127.0.0.1:1',
      SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef',
      SIPCALL_TIMEZONE: 'Asia/Shanghai',
      DATABASE_URL: history.url,
      AUTODIALER_REDIS_KEEP: '1h',
      LOG_LEVEL: 'silent',
    },
    null,
  );
  const c = await createContainer(config, { redis, providers: new Map<ProviderFamily, ProviderAdapter>(), log: createLogger({ level: 'silent' }) });
  const rawDb = openHistoryDatabase(raw.url, c.log);
  const dir = mkdtempSync(join(tmpdir(), 'history-bench-'));
  try {
    await Promise.all([c.history.store!.ready(), rawDb.ready()]);
    await rawDb.close();
    const setupStarted = performance.now();
    const cid = await finishedCampaign(c, N);
    let records: Records | null = await recordsOf(c, cid);
    const rows = linesOf(records);
    const expected = { contacts: rows.contacts.length, attempts: rows.attempts.length, callbacks: rows.callbacks.length };
    const total = expected.contacts + expected.attempts + expected.callbacks;
    const bytes = [...rows.contacts, ...rows.attempts, ...rows.callbacks].reduce((s, l) => s + Buffer.byteLength(l), 0);
    saveRows(dir, rows);
    const setupMs = performance.now() - setupStarted;
    const beforeBytes = await campaignBytes(redis, `${prefix}:cmp:${cid}*`);

    // The ceiling before and after the archiver's run, so that a machine's changing load falls on both. A first COPY
    // is not timed: a new database's first writes (its WAL segments and table files made, not reused) ran 10-40 %
    // slower than the next here, and would lower the ceiling.
    await rawCopy(raw.url, dir);
    const rawBefore = await rawCopy(raw.url, dir);
    const writeMs = await writePath(raw.url, records);
    records = null;
    collectGarbage();
    const hk = historyKeys(c.keys, prefix);
    let gcMs = 0;
    const gcWatch = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcMs += e.duration;
    });
    gcWatch.observe({ entryTypes: ['gc'] });
    // As in a running archiver: its store migrated and its callback thread started before the work comes.
    await c.history.archiver!.ready();
    const redisSince = await redisCpu(redis);
    const pgBefore = postgresCpuMs();
    const profiler = await startProfile();
    const cpuBefore = process.cpuUsage();
    const archived = await passesUntil(c, async () => (await redis.hget(hk.marker(cid), 'archivedAt')) !== null && (await c.callbackLog.length()) === 0);
    const cpu = process.cpuUsage(cpuBefore);
    await profiler?.stop();
    const redisTime = await redisSince();
    const pgAfter = postgresCpuMs();
    const pgMs = pgBefore === null || pgAfter === null ? null : pgAfter - pgBefore;
    gcWatch.disconnect();
    const archiverCpuUs = (cpu.user + cpu.system) / total;
    const rawAfter = await rawCopy(raw.url, dir);
    const counts = await c.history.store!.counts(cid);
    if (counts.contacts !== expected.contacts || counts.attempts !== expected.attempts || counts.callbacks !== expected.callbacks) {
      throw new Error(`archived ${JSON.stringify(counts)}, expected ${JSON.stringify(expected)}`);
    }

    // Leaving Redis: the keep has passed.
    await c.history.archiver!.requestPurge(cid);
    const purged = await passesUntil(c, () => c.history.archiver!.purged(cid));
    const afterBytes = await campaignBytes(redis, `${prefix}:cmp:${cid}*`);
    const attemptsLeft = await campaignBytes(redis, `${prefix}:att:${cid}-*`);

    const rawMs = (rawBefore + rawAfter) / 2;
    const rawRate = rate(total, rawMs);
    const writeRate = rate(total, writeMs);
    const writeShare = writeRate / rawRate;
    const archiveRate = rate(total, archived.ms);
    const share = archiveRate / rawRate;
    const dialer = dialerRate();
    const contactsRate = rate(N, archived.ms);
    const perContact = (afterBytes + attemptsLeft) / N;
    const verdict = (ok: boolean) => (ok ? 'met' : '**MISSED**');
    report(
      'history',
      [
        '## History: archive throughput',
        '',
        `A finished PlayVoice campaign of ${fmt(N)} contacts, each with one call ended by its CDR (received and correlated), moved from Redis to PostgreSQL 15 on the same machine: ${fmt(expected.contacts)} contacts, ${fmt(expected.attempts)} attempts, ${fmt(expected.callbacks)} raw callbacks (${fmt(total)} rows, ${mb(bytes)} of COPY text).`,
        'Ceiling: a raw COPY of the same rows (already encoded) into empty tables of the same schema and indexes, one transaction, mean of one run before the archiver and one after (a first, untimed run before them).',
        `The archiver's writes: the same rows as records, encoded and written in its transactions (${fmt(CONTACT_BATCH)} contacts with their attempts, ${fmt(CALLBACK_BATCH)} callbacks): COPYed straight in when new (a row already there sends the batch through temporary tables and INSERT … ON CONFLICT, so writing it again changes nothing).`,
        `The archiver end to end: its passes as shipped (pages of 500 contacts read from Redis, the next asked for while one is encoded as COPY text, written ${fmt(CONTACT_BATCH)} at a time while the next are read, then marked in Redis; callbacks, in the archiver's worker thread, read 1,000 at a time and written ${fmt(CALLBACK_BATCH)} at a time, those tied to an attempt removed from Redis once written; the worker thread also takes a share of the contacts, ${fmt(CONTACT_BATCH)} at a time, whenever it is free; campaigns go round again while a pass's callbacks are still being written), into a database of its own; its callback thread started before, as a running archiver's is. The CPU figures below are what the end-to-end run cost the archiver's process (both threads), PostgreSQL and Redis: on this machine's cores they share, their sum bounds the rate.`,
        `Setup (import, dial, ${fmt(N)} CDRs, reading the rows) is not timed: ${secs(setupMs)}.`,
        '',
        '| measure | value | target | verdict |',
        '| --- | --- | --- | --- |',
        `| raw COPY (ceiling): before / after the archiver | ${fmt(rawRate)} rows/s (${secs(rawBefore)} / ${secs(rawAfter)}) | — | ceiling |`,
        `| the archiver's writes on the same rows, encoded and written in its transactions | **${fmt(writeRate)} rows/s** (${secs(writeMs)}) | — | — |`,
        `| its writes / raw COPY | **${floorPct(writeShare)} %** | ≥ ${TARGET_SHARE * 100} % | ${verdict(writeShare >= TARGET_SHARE)} |`,
        `| the archiver end to end: read from Redis (attempts decoded by their store), written, Redis told, callbacks removed | **${fmt(archiveRate)} rows/s** (${secs(archived.ms)}, ${archived.passes} passes; ${Math.round((100 * archived.byThread) / Math.max(1, archived.contacts))} % of the contacts by the worker thread) | — | — |`,
        `| end to end / raw COPY | ${floorPct(share)} % | ≥ ${TARGET_SHARE * 100} % | ${verdict(share >= TARGET_SHARE)} |`,
        `| the archiver's own CPU per row, end to end (its process: reading, decoding, encoding, writing, garbage collection) | ${archiverCpuUs.toFixed(1)} µs, of which garbage collection ${((gcMs * 1000) / total).toFixed(1)} µs | — | — |`,
        `| PostgreSQL's CPU in the end-to-end run (its processes, from /proc), per row | ${pgMs === null ? 'not measured (no /proc)' : `${((pgMs * 1000) / total).toFixed(1)} µs (${secs(pgMs)})`} | — | — |`,
        `| Redis's CPU serving the end-to-end run (INFO cpu), per row | ${((redisTime.ms * 1000) / total).toFixed(1)} µs (${secs(redisTime.ms)}; most of its command time: ${redisTime.top}, scripts with the commands they run) | — | — |`,
        `| the three together, against the wall time × ${cpus().length} cores | ${pgMs === null ? '—' : `${secs((cpu.user + cpu.system) / 1000 + redisTime.ms + pgMs)} of ${secs(archived.ms * cpus().length)}`} | — | — |`,
        `| end to end, contacts (with their call and its callback) per second, against the dialer's rate in its benchmark | ${fmt(contactsRate)} contacts/s${dialer === null ? ' (dispatch benchmark not run)' : ` against ${fmt(dialer)} calls/s`} | ≥ the dialer's rate | ${dialer === null ? '—' : verdict(contactsRate >= dialer)} |`,
        `| leaving Redis once the keep has passed (written again, changes only, and removed page by page) | ${fmt(rate(N, purged.ms))} contacts/s (${secs(purged.ms)}) | — | — |`,
        `| Redis held by the campaign: before archiving / once it left | ${fmt(Math.round(beforeBytes / N))} / **${perContact.toFixed(1)} B per contact** (the summary: record, counts, sums, counters) | ≤ ${TARGET_SUMMARY_BYTES} B | ${verdict(perContact <= TARGET_SUMMARY_BYTES)} |`,
        '',
        `Every row once in PostgreSQL: ${fmt(counts.contacts)} contacts, ${fmt(counts.attempts)} attempts, ${fmt(counts.callbacks)} callbacks.`,
      ].join('\n'),
    );
  } finally {
    await c.close(0);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
    await Promise.all([history.drop(), raw.drop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
