/**
 * Redis memory per contact, by MEMORY USAGE (SAMPLES 0: exact, the same on
 * every run) of every key the dialer leaves under its prefix:
 *   (a) per waiting contact: a list imported, nothing dialed yet;
 *   (b) per attempt record, and per dialed contact with its callbacks: a
 *       PlayVoice campaign run to the end against the simulator (the demo's
 *       mix: answered, with and without a keypress, no answer, busy, failed;
 *       duplicate, late and lost CDRs; busy and no answer dialed again),
 *       every status callback and CDR posted to the server and correlated;
 *       measured when the campaign completes, then once its raw callbacks
 *       are past AUTODIALER_CALLBACK_RETENTION (what stays for the history
 *       retention), then once the day-long look-ups have expired.
 * Targets: ≤ 250 B per attempt record, ≤ 1 KB per dialed contact, ≤ 300 B
 * per waiting contact.
 *
 * MEMORY_BENCH_CONTACTS (default 5,000) and MEMORY_BENCH_WAITING (default
 * 100,000) size the two campaigns.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createContainer, type Container } from '../src/app/container.js';
import { createLogger } from '../src/infra/logger.js';
import { createSipcallAdapter } from '../src/providers/index.js';
import type { ProviderAdapter } from '../src/providers/types.js';
import type { ProviderFamily } from '../src/domain/types.js';
import { startSimulator, DEFAULT_TOKEN } from '../src/simulator/index.js';
import { makeCallbackRetention } from '../src/store/callback-retention.js';
import { cleanPrefix, report, REDIS_URL } from './support.js';
import { redisBytes, sumBytes, type KeyGroup } from './redis-bytes.js';

const DIALED = Number(process.env.MEMORY_BENCH_CONTACTS ?? 5_000);
const WAITING = Number(process.env.MEMORY_BENCH_WAITING ?? 100_000);
const TARGET_ATTEMPT = 250;
const TARGET_DIALED = 1024;
const TARGET_WAITING = 300;
const SECRET = 'bench-callback-secret-0123456789';
const API_TOKEN = 'bench-api-token-0123456789abcdef';
const MIX = { answered: 40, answered_key: 20, no_answer: 20, busy: 12, failed: 8 };

const CITIES = ['Beijing', 'Shanghai', 'Guangzhou', 'Shenzhen', 'Chengdu'];

/** A prefix of its own, as long as the default one (`autodialer`): key names count in the bytes measured. */
const prefixOfDefaultLength = () => `adm${randomBytes(4).toString('hex').slice(0, 7)}`;

/** The demo's columns (name, phone, city, userid, memberid), numbers unique. */
function demoList(n: number): Readable {
  const lines = ['name,phone,city,userid,memberid'];
  for (let i = 0; i < n; i++) lines.push(`Contact ${i},15${String(100_000_000 + i * 7).slice(-9)},${CITIES[i % CITIES.length]},${(i % 40) + 1}@extGroup-1,M${1000 + i}`);
  return Readable.from([Buffer.from(`${lines.join('\n')}\n`, 'utf8')]);
}

/** The import benchmark's columns (phone, name, time zone, userid, memberid). */
function importList(n: number): Readable {
  const zones = ['Asia/Shanghai', 'Asia/Shanghai', 'Asia/Shanghai', 'Asia/Urumqi', ''];
  return Readable.from(
    (function* () {
      yield 'phone,name,timezone,userid,memberid\n';
      let chunk = '';
      for (let i = 0; i < n; i++) {
        const d = String(i).padStart(8, '0');
        chunk += `${i % 4 === 0 ? `+86 138 ${d.slice(0, 4)} ${d.slice(4)}` : `138${d}`},Contact ${i},${zones[i % zones.length]},${(i % 40) + 1}@extGroup-1,m${i}\n`;
        if (chunk.length > 64 * 1024) {
          yield chunk;
          chunk = '';
        }
      }
      yield chunk;
    })(),
  );
}

async function drained(c: Container, cid: string, limitMs: number): Promise<void> {
  const until = Date.now() + limitMs;
  for (;;) {
    const [campaign, pending] = await Promise.all([c.campaigns.get(cid), c.callbackLog.pendingCount()]);
    if (campaign?.state === 'completed' && pending === 0) return;
    if (Date.now() > until) throw new Error(`campaign ${cid} not done after ${limitMs} ms: ${campaign?.state}, ${pending} callbacks pending`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until no callee look-up is left (they expire on their own); returns how long that took. */
async function calleesGone(redis: Redis, prefix: string, limitMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const [, keys] = await redis.scan('0', 'MATCH', `${prefix}:callee:*`, 'COUNT', 100_000);
    if (keys.length === 0) return Date.now() - started;
    if (Date.now() - started > limitMs) throw new Error(`callee look-ups still there after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const per = (bytes: number, n: number) => (n > 0 ? bytes / n : 0);
const verdict = (x: number, target: number) => (x <= target ? 'met' : '**MISSED**');

function groupRows(groups: readonly KeyGroup[], n: number, label: string): string[] {
  return groups.filter((g) => g.bytes > 0).map((g) => `| \`${g.group}\` | ${fmt(g.keys)} | ${fmt(g.bytes)} | ${per(g.bytes, n).toFixed(1)} |`).concat([`| **all** (${label}) | ${fmt(groups.reduce((a, g) => a + g.keys, 0))} | ${fmt(sumBytes(groups))} | **${per(sumBytes(groups), n).toFixed(1)}** |`]);
}

/** (a) A list imported into a campaign that nobody dials. */
async function waiting(redis: Redis): Promise<{ perContact: number; groups: KeyGroup[]; added: number }> {
  const prefix = prefixOfDefaultLength();
  const config = loadConfig({ REDIS_URL, AUTODIALER_PREFIX: prefix, SIPCALL_API_URL: 'http://127.0.0.1:1', SIPCALL_TOKEN: DEFAULT_TOKEN, LOG_LEVEL: 'error' }, null);
  const c = await createContainer(config, { redis, log: createLogger({ level: 'error' }), providers: new Map() });
  try {
    const def = c.definition({ action: 'playvoice', params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' }, ingest: { region: 'CN' } });
    const { summary } = await c.createCampaign(def, importList(WAITING), 'waiting.csv');
    const groups = (await redisBytes(redis, prefix)).filter((g) => g.group.startsWith('<prefix>:cmp:<cid>'));
    return { perContact: per(sumBytes(groups), summary.added), groups, added: summary.added };
  } finally {
    await c.close(1000);
    await cleanPrefix(redis, prefix);
  }
}

/** (b) A campaign dialed to the end, every callback correlated. */
async function dialed(redis: Redis) {
  const prefix = prefixOfDefaultLength();
  const config = loadConfig(
    {
      REDIS_URL,
      AUTODIALER_PREFIX: prefix,
      AUTODIALER_CALLBACK_SECRET: SECRET,
      AUTODIALER_API_TOKEN: API_TOKEN,
      SIPCALL_API_URL: 'http://127.0.0.1:1',
      SIPCALL_TOKEN: DEFAULT_TOKEN,
      SIPCALL_TIMEZONE: 'Asia/Shanghai',
      SIPCALL_MAX_CPS: '0',
      LOG_LEVEL: 'error',
    },
    null,
  );
  const providers = new Map<ProviderFamily, ProviderAdapter>();
  const c = await createContainer(config, { redis, log: createLogger({ level: 'error' }), providers });
  const app = await c.startServer({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const serverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const sim = await startSimulator({
    callbackUrl: serverUrl,
    callbackSecret: SECRET,
    token: DEFAULT_TOKEN,
    seed: 2026,
    mix: MIX,
    duplicateCdrRate: 0.05,
    outOfOrderRate: 0.1,
    lostCdrRate: 0.03,
    timeScale: 0.0005,
    ledgerLimit: 10,
  });
  providers.set('sipcall', createSipcallAdapter({ ...config.providers.sipcall!, apiUrl: sim.url }));
  try {
    c.startWorker({ concurrency: 100, feedEveryMs: 100, sweepEveryMs: 200 });
    const def = c.definition({
      name: 'memory benchmark',
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'https://media.example.com/promo-2026.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      cps: 0,
      maxConcurrent: 0,
      maxAttempts: 2,
      retry: ['busy=1s', 'no_answer=1s', 'failed=never', 'no_result=never'],
      resultTimeout: '10s',
      ingest: { region: 'CN', numberFormat: 'national' },
    });
    const started = Date.now();
    const { id, summary } = await c.createCampaign(def, demoList(DIALED), 'dialed.csv');
    await drained(c, id, 600_000);
    await sim.whenIdle();
    await c.receiver.idle();
    const runMs = Date.now() - started;
    const callbacks = await c.callbackLog.length();
    const atCompletion = await redisBytes(redis, prefix);
    const attempts = atCompletion.find((g) => g.group === '<prefix>:att:*') ?? { group: '', keys: 0, bytes: 0 };
    // The largest record: a call answered, with its uuid, times, CDR fields and callback id.
    let maxRecord = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:att:*`, 'COUNT', 2000);
      cursor = next;
      const m = redis.pipeline();
      for (const key of keys) m.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
      for (const [, v] of (await m.exec()) ?? []) maxRecord = Math.max(maxRecord, Number(v));
    } while (cursor !== '0');
    const sample = await redis.get((await redis.scan('0', 'MATCH', `${prefix}:att:${id}-*`, 'COUNT', 5000))[1][0] ?? '');
    // What the server's retention prune leaves once every callback is past AUTODIALER_CALLBACK_RETENTION,
    // and once the live calls' callee look-ups (kept until 30 s after each call's result deadline) are gone.
    const pruned = await makeCallbackRetention({ redis, keys: c.keys }).prune(Date.now() + 1);
    const calleeWaitMs = await calleesGone(redis, prefix, 180_000);
    const afterRetention = await redisBytes(redis, prefix);
    // A day on: the call-uuid look-ups (24 h) and the numbers' frequency history (1 d by default) have expired.
    const dayLong = (g: KeyGroup) => g.group === '<prefix>:calluuid:*' || g.group === '<prefix>:freq:*' || g.group === '<prefix>:callee:sipcall:*';
    const afterDay = afterRetention.filter((g) => !dayLong(g));
    return { id, summary, runMs, callbacks, atCompletion, afterRetention, afterDay, attempts, maxRecord, sample, pruned, calleeWaitMs };
  } finally {
    await c.close(2000);
    await sim.close();
    await cleanPrefix(redis, prefix);
  }
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  try {
    const b = await dialed(redis);
    const a = await waiting(redis);
    const contacts = b.summary.added;
    const attemptMean = per(b.attempts.bytes, b.attempts.keys);
    const atCompletion = per(sumBytes(b.atCompletion), contacts);
    const afterRetention = per(sumBytes(b.afterRetention), contacts);
    const afterDay = per(sumBytes(b.afterDay), contacts);
    const callbackBytes = sumBytes(b.atCompletion, (g) => g.group.startsWith('<prefix>:callbacks'));
    report(
      'memory',
      [
        '## Redis memory per contact',
        '',
        `MEMORY USAGE (SAMPLES 0: every element counted) of every key under the dialer's prefix. Dialed: a PlayVoice campaign of ${fmt(contacts)} contacts (the demo's columns) run to the end against the simulator (the demo's mix; 5 % duplicate, 10 % out-of-order and 3 % lost CDRs; busy and no answer dialed once more), every status callback and CDR posted to the server and correlated: ${fmt(b.attempts.keys)} attempts, ${fmt(b.callbacks)} callbacks (${(b.callbacks / contacts).toFixed(2)} a contact), run in ${(b.runMs / 1000).toFixed(1)} s. Waiting: ${fmt(a.added)} contacts imported (the import benchmark's columns), nobody dialed.`,
        '',
        '| measure | bytes | target | verdict |',
        '| --- | ---: | ---: | --- |',
        `| per attempt record (mean of ${fmt(b.attempts.keys)}; largest ${fmt(b.maxRecord)}) | **${attemptMean.toFixed(0)}** | ≤ ${TARGET_ATTEMPT} | ${verdict(attemptMean, TARGET_ATTEMPT)} |`,
        `| per dialed contact, everything, once its raw callbacks are past AUTODIALER_CALLBACK_RETENTION (1 h) and its call has ended (what it costs for the rest of the run and the history retention) | **${afterRetention.toFixed(0)}** | ≤ ${TARGET_DIALED} | ${verdict(afterRetention, TARGET_DIALED)} |`,
        `| per dialed contact a day on (its call-uuid look-ups and its number's frequency history expired) | ${afterDay.toFixed(0)} | — | — |`,
        `| per dialed contact at completion, its raw callbacks still in the log and its callee look-ups still live | ${atCompletion.toFixed(0)} | — | — |`,
        `| of which the raw callback log and its results, per callback | ${per(callbackBytes, b.callbacks).toFixed(0)} | — | — |`,
        `| per waiting contact | **${a.perContact.toFixed(0)}** | ≤ ${TARGET_WAITING} | ${verdict(a.perContact, TARGET_WAITING)} |`,
        '',
        `A finished call's record: \`${b.sample ?? ''}\` (${Buffer.byteLength(b.sample ?? '')} bytes of value).`,
        '',
        `### Dialed, at completion (per dialed contact)`,
        '',
        '| key | keys | bytes | per contact |',
        '| --- | ---: | ---: | ---: |',
        ...groupRows(b.atCompletion, contacts, 'at completion'),
        '',
        `### Dialed, raw callbacks past their retention (${fmt(b.pruned.removed)} entries pruned), calls ended (callee look-ups gone ${(b.calleeWaitMs / 1000).toFixed(0)} s later)`,
        '',
        '| key | keys | bytes | per contact |',
        '| --- | ---: | ---: | ---: |',
        ...groupRows(b.afterRetention, contacts, 'past the callback retention'),
        '',
        '### Waiting (per waiting contact)',
        '',
        '| key | keys | bytes | per contact |',
        '| --- | ---: | ---: | ---: |',
        ...groupRows(a.groups, a.added, 'waiting'),
        '',
        `Targets: ${[attemptMean <= TARGET_ATTEMPT, afterRetention <= TARGET_DIALED, a.perContact <= TARGET_WAITING].every(Boolean) ? 'all met' : 'NOT all met'}.`,
      ].join('\n'),
    );
  } finally {
    redis.disconnect();
  }
}

await main();
