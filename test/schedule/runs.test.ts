/**
 * Ticks becoming runs on real Redis, through the container's own campaign
 * creation: one campaign per tick however often it is delivered, overlap,
 * runs that cannot start (no list, a list that cannot be read, a provider not
 * configured) leaving no campaign and tried again, lists fetched by URL, and
 * what `schedule runs`, `list` and `run` show.
 */
import { copyFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { loadDefinitions } from '../../src/schedule/parse.js';
import { runCampaignId } from '../../src/schedule/match.js';
import { runPayload, RunBusyError, RunStartError, type RunPayload } from '../../src/schedule/runner.js';
import { openContacts } from '../../src/schedule/contacts.js';
import { makeRunStore } from '../../src/schedule/runs.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

const prefix = testPrefix('sched-runs');
const redis = connectRedis();
const dir = mkdtempSync(join(tmpdir(), 'adtest-sched-runs-'));
const FIXTURES = resolve(import.meta.dirname, '../../fixtures');
const CSV = 'name,phone\nLi Zhang,15897366946\nPing Li,15088220482\nHui Wang,13868202938\n';

const env = (more: Record<string, string> = {}) => ({
  REDIS_URL,
  AUTODIALER_PREFIX: prefix,
  AUTODIALER_JOBS_DIR: dir,
  SIPCALL_API_URL: 'http://127.0.0.1:1',
  SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef',
  LOG_LEVEL: 'silent',
  ...more,
});

let config: Config;
let c: Container;
let http: Server;
let httpUrl = '';

function definition(name: string, schedule: string, contacts = `${name}.csv`, action = 'playvoice'): void {
  const params =
    action === 'originate'
      ? '  caller: "557"\n  context: main_routing\n  caller_id: "557"\n'
      : '  voicetype: 2\n  voicefile: https://media.example.com/a.mp3\n  chengshudu: 1\n  userid: 1@extGroup-1\n';
  writeFileSync(join(dir, `${name}.yaml`), `action: ${action}\nparams:\n${params}ingest: { region: CN }\ncontacts: ${contacts}\nschedule:\n${schedule}`);
}

function payloadOf(name: string): RunPayload {
  const def = loadDefinitions(dir).definitions.find((d) => d.name === name);
  const p = def ? runPayload(def) : null;
  if (!p) throw new Error(`no runnable definition ${name}`);
  return p;
}

const launch = (name: string, tick: string, attempt = 1, lastAttempt = false) =>
  c.schedules.launcher.launch({ payload: payloadOf(name), tick: Date.parse(tick), manual: false, attempt, lastAttempt });

/** Campaigns of a schedule, as their records say. */
async function campaignsOf(name: string): Promise<{ id: string; tick: string }[]> {
  const out: { id: string; tick: string }[] = [];
  for (const id of await c.campaigns.list()) {
    const r = await c.campaigns.get(id);
    if (r?.schedule?.name === name) out.push({ id, tick: r.schedule.tick });
  }
  return out;
}

beforeAll(async () => {
  config = loadConfig(env(), null);
  c = await createContainer(config, { redis, log: createLogger({ level: 'silent' }) });
  http = createServer((req, res) => {
    if (req.url === '/today.csv') res.writeHead(200, { 'content-type': 'text/csv' }).end(CSV);
    else res.writeHead(404).end('no such list');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const a = http.address();
  httpUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

afterAll(async () => {
  await c.close(0);
  await new Promise((r) => http.close(r));
  await cleanPrefix(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('a tick', () => {
  it('makes one campaign from the definition and its list: named by its local time, marked with schedule and tick', async () => {
    definition('reminder', '  cron: "0 10 * * mon-fri"\n  timezone: Asia/Shanghai\n');
    writeFileSync(join(dir, 'reminder.csv'), CSV);
    const r = await launch('reminder', '2026-03-09T02:00:00Z');
    const id = runCampaignId('reminder', Date.parse('2026-03-09T02:00:00Z'));
    expect(r).toMatchObject({ state: 'started', campaignId: id, attempts: 1, error: null });
    const s = await c.status(id);
    expect(s).toMatchObject({ name: 'reminder 2026-03-09 10:00', state: 'running', total: 3, schedule: { name: 'reminder', tick: '2026-03-09T02:00:00.000Z' } });
    expect(await campaignsOf('reminder')).toEqual([{ id, tick: '2026-03-09T02:00:00.000Z' }]);
  });

  it('delivered three times at once and once more later still makes one campaign', async () => {
    const tick = '2026-03-10T02:00:00Z';
    // The first tick's run is still running: this one would be skipped; make the rule parallel for this test.
    definition('reminder', '  cron: "0 10 * * mon-fri"\n  timezone: Asia/Shanghai\n  overlap: parallel\n');
    const settled = await Promise.allSettled([launch('reminder', tick), launch('reminder', tick), launch('reminder', tick)]);
    const id = runCampaignId('reminder', Date.parse(tick));
    for (const s of settled) {
      if (s.status === 'fulfilled') expect(s.value).toMatchObject({ state: 'started', campaignId: id });
      else expect(s.reason).toBeInstanceOf(RunBusyError);
    }
    expect(settled.some((s) => s.status === 'fulfilled')).toBe(true);
    expect(await launch('reminder', tick)).toMatchObject({ state: 'started', campaignId: id });
    expect((await campaignsOf('reminder')).filter((x) => x.tick === '2026-03-10T02:00:00.000Z')).toEqual([{ id, tick: '2026-03-10T02:00:00.000Z' }]);
  });

  it('under overlap skip is skipped while an earlier run is active, and runs once none is', async () => {
    definition('reminder', '  cron: "0 10 * * mon-fri"\n  timezone: Asia/Shanghai\n');
    const skipped = await launch('reminder', '2026-03-11T02:00:00Z');
    expect(skipped).toMatchObject({ state: 'skipped', campaignId: null });
    expect(await c.campaigns.get(runCampaignId('reminder', Date.parse('2026-03-11T02:00:00Z')))).toBeNull();
    // Delivered again, the decision stands.
    expect(await launch('reminder', '2026-03-11T02:00:00Z')).toMatchObject({ state: 'skipped' });
    for (const { id } of await campaignsOf('reminder')) await c.control.cancel(id);
    expect(await launch('reminder', '2026-03-12T02:00:00Z')).toMatchObject({ state: 'started' });
  });

  it('cut short while importing (its process gone) is finished by the next try, in the same campaign', async () => {
    definition('resumed', '  every: 1h\n', 'reminder.csv');
    const tick = '2026-03-09T03:00:00Z';
    const id = runCampaignId('resumed', Date.parse(tick));
    // What a process that died right after creating the campaign leaves: the record, importing, no contacts.
    const def = c.definition({ ...payloadOf('resumed').raw, name: 'resumed 2026-03-09 03:00' });
    expect(await c.campaigns.createWithId(id, def, { name: 'resumed', tick: new Date(tick).toISOString() })).toBe(true);
    await makeRunStore({ redis, prefix, now: () => Date.now() }).save('resumed', Date.parse(tick), { state: 'starting', attempts: 1 });
    // Meanwhile the next tick comes: the run still starting is active, so it is skipped.
    expect(await launch('resumed', '2026-03-09T04:00:00Z')).toMatchObject({ state: 'skipped' });
    expect(await launch('resumed', tick)).toMatchObject({ state: 'started', campaignId: id });
    expect(await c.status(id)).toMatchObject({ state: 'running', total: 3 });
    expect(await campaignsOf('resumed')).toEqual([{ id, tick: '2026-03-09T03:00:00.000Z' }]);
  });

  it('that is not a tick of the schedule (past its end) is ignored', async () => {
    definition('ended', '  every: 1h\n  endDate: "2026-01-01T00:00:00Z"\n', 'reminder.csv');
    expect(await launch('ended', '2026-01-01T01:00:00Z')).toBeNull();
    expect(await campaignsOf('ended')).toEqual([]);
  });
});

describe('a run that cannot start', () => {
  it('without its list leaves no campaign, is recorded with its error, and starts on a later try', async () => {
    definition('later', '  every: 1h\n', 'later.csv');
    const tick = '2026-03-09T05:00:00Z';
    const before = (await c.campaigns.list()).length;
    const err = await launch('later', tick, 1, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunStartError);
    expect((err as RunStartError).final).toBe(false);
    expect((err as RunStartError).record).toMatchObject({ state: 'retrying', attempts: 1, error: expect.stringMatching(/contacts file .*later\.csv cannot be read \(ENOENT\)/) });
    expect((await c.campaigns.list()).length).toBe(before);
    writeFileSync(join(dir, 'later.csv'), CSV);
    expect(await launch('later', tick, 2, false)).toMatchObject({ state: 'started', attempts: 2, error: null });
    expect(await campaignsOf('later')).toHaveLength(1);
  });

  it('with a list that cannot be read is taken away whole, and given up after its last try', async () => {
    definition('headless', '  every: 1h\n', 'headless.csv');
    copyFileSync(join(FIXTURES, 'csv/no-phone-column.csv'), join(dir, 'headless.csv'));
    const tick = '2026-03-09T06:00:00Z';
    const err = await launch('headless', tick, 4, true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunStartError);
    expect((err as RunStartError).final).toBe(true);
    expect((err as RunStartError).record).toMatchObject({ state: 'failed', attempts: 4 });
    expect(await c.campaigns.get(runCampaignId('headless', Date.parse(tick)))).toBeNull();
    expect(await campaignsOf('headless')).toEqual([]);
  });

  it('whose provider is not configured here says which variables to set', async () => {
    definition('tehran', '  cron: "30 9 * * 6,0-3"\n  timezone: Asia/Tehran\n', 'reminder.csv', 'originate');
    const err = await launch('tehran', '2026-03-21T06:00:00Z').catch((e: unknown) => e);
    expect((err as RunStartError).record).toMatchObject({ state: 'retrying', error: expect.stringMatching(/provider pbx is not configured: set PBX_BASE_URL/) });
    expect(await campaignsOf('tehran')).toEqual([]);
  });
});

describe('a list at a URL', () => {
  it('is fetched at run time', async () => {
    definition('remote', '  every: 1h\n', `${httpUrl}/today.csv`);
    expect(await launch('remote', '2026-03-09T07:00:00Z')).toMatchObject({ state: 'started' });
    const [run] = await campaignsOf('remote');
    expect((await c.status(run!.id))?.total).toBe(3);
  });

  it('that answers an error, is too large, or is at a refused address does not start a run', async () => {
    definition('gone', '  every: 1h\n', `${httpUrl}/gone.csv`);
    const err = await launch('gone', '2026-03-09T07:00:00Z').catch((e: unknown) => e);
    expect((err as RunStartError).record?.error).toMatch(/contacts URL .*\/gone\.csv answered HTTP 404/);
    const opts = { timeoutMs: 5000, maxBytes: 20, privateAddresses: 'allow' as const };
    await expect(openContacts({ kind: 'url', url: `${httpUrl}/today.csv` }, opts)).rejects.toThrow(/(sends 83 bytes, over|sent more than) the 20 bytes limit/);
    await expect(openContacts({ kind: 'url', url: `${httpUrl}/today.csv` }, { ...opts, maxBytes: 1e6, privateAddresses: 'deny' })).rejects.toThrow(
      /address 127\.0\.0\.1 is loopback, private or reserved/,
    );
    await expect(openContacts({ kind: 'url', url: 'http://127.0.0.1:1/x.csv' }, { ...opts, maxBytes: 1e6 })).rejects.toThrow(/cannot be fetched \(ECONNREFUSED/);
  });
});

describe('what the commands show', () => {
  it('runs: newest first, with campaign state and counts; skipped ticks as tick and state', async () => {
    const runs = await c.schedules.runs('reminder');
    expect(runs.map((r) => [r.tick, r.state])).toEqual([
      ['2026-03-12T02:00:00.000Z', 'running'],
      ['2026-03-11T02:00:00.000Z', 'skipped'],
      ['2026-03-10T02:00:00.000Z', 'cancelled'],
      ['2026-03-09T02:00:00.000Z', 'cancelled'],
    ]);
    expect(runs[0]).toMatchObject({ id: runCampaignId('reminder', Date.parse('2026-03-12T02:00:00Z')), counts: { pending: 3 } });
  });

  it('list: schedule, next tick in UTC and local time, last run; run: one now, beside the schedule', async () => {
    const { schedules } = await c.schedules.list();
    const reminder = schedules.find((s) => s.name === 'reminder')!;
    expect(reminder).toMatchObject({ cron: '0 10 * * mon-fri', timezone: 'Asia/Shanghai', synced: false, lastRun: { tick: '2026-03-12T02:00:00.000Z', state: 'running' } });
    expect(reminder.next?.local).toMatch(/^\d{4}-\d{2}-\d{2} 10:00 Asia\/Shanghai$/);
    const r = await c.schedules.runNow('reminder');
    expect(r).toMatchObject({ state: 'started', manual: true });
    expect((await c.status(r.campaignId!))?.schedule?.name).toBe('reminder');
    unlinkSync(join(dir, 'later.csv'));
    await expect(c.schedules.runNow('later')).rejects.toThrow(/could not start: contacts file/);
    await expect(c.schedules.runNow('nothing')).rejects.toThrow(/no definition named nothing in/);
  });
});
