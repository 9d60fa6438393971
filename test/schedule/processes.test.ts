/**
 * End to end on real Redis: two `autodialer server` processes sync the same
 * definitions directory at start-up and both take due ticks of a 6-field cron
 * every 2 seconds; each tick makes exactly one run, one campaign. A SIGHUP
 * makes a process sync again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { keys as makeKeys } from '../../src/store/keys.js';
import { makeCampaignStore } from '../../src/store/campaigns.js';
import { makeRunStore } from '../../src/schedule/runs.js';
import { runCampaignId } from '../../src/schedule/match.js';
import { SCHEDULE_QUEUE } from '../../src/schedule/queue.js';
import { sleep } from '../../src/infra/clock.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const prefix = testPrefix('sched-procs');
const redis = connectRedis();
const dir = mkdtempSync(join(tmpdir(), 'adtest-sched-procs-'));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await cleanPrefix(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

interface Server {
  synced: Promise<void>;
  exited: Promise<number | null>;
  log: () => string;
  child: ChildProcess;
}

function startServer(name: string): Server {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server'], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL,
      AUTODIALER_PREFIX: prefix,
      AUTODIALER_JOBS_DIR: dir,
      AUTODIALER_HTTP_PORT: '0',
      AUTODIALER_HTTP_HOST: '127.0.0.1',
      AUTODIALER_API_TOKEN: 'test-api-token-0123456789abcdef',
      AUTODIALER_CALLBACK_SECRET: 'test-callback-secret-0123456789',
      AUTODIALER_SHUTDOWN_GRACE_MS: '2000',
      SIPCALL_API_URL: 'http://127.0.0.1:1',
      SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((r) => (markSynced = r));
  const collect = (chunk: string) => {
    out += chunk;
    if (out.includes('"schedules synced"')) markSynced();
  };
  child.stdout!.setEncoding('utf8').on('data', collect);
  child.stderr!.setEncoding('utf8').on('data', collect);
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  void exited.then(() => markSynced());
  return { synced, exited, log: () => `${name}:\n${out.slice(-3000)}`, child };
}

describe('two server processes, one directory', () => {
  it('run each tick of a 6-field cron exactly once, and sync again on SIGHUP', async () => {
    writeFileSync(join(dir, 'fast.csv'), 'name,phone\nLi Zhang,15897366946\nPing Li,15088220482\n');
    writeFileSync(
      join(dir, 'fast.yaml'),
      [
        'action: playvoice',
        'params: { voicetype: 2, voicefile: a.mp3, chengshudu: 1, userid: 1@extGroup-1 }',
        'ingest: { region: CN }',
        'contacts: fast.csv',
        'schedule:',
        '  cron: "*/2 * * * * *"',
        '  timezone: UTC',
        '  overlap: parallel',
        '',
      ].join('\n'),
    );
    const servers = [startServer('p1'), startServer('p2')];
    await Promise.all(servers.map((s) => s.synced));
    for (const s of servers) expect(s.child.exitCode, s.log()).toBeNull();

    const runs = makeRunStore({ redis, prefix, now: () => Date.now() });
    const wanted = 6;
    while ((await runs.list('fast', 100)).filter((r) => r.state === 'started').length < wanted) {
      if (servers.some((s) => s.child.exitCode !== null)) throw new Error(`a server stopped:\n${servers.map((s) => s.log()).join('\n')}`);
      await sleep(200);
    }
    // A new definition, then SIGHUP to one process: it syncs, and the new scheduler is there.
    writeFileSync(join(dir, 'later.yaml'), 'action: playvoice\nparams: { voicetype: 2, voicefile: a.mp3, chengshudu: 1, userid: 1@extGroup-1 }\ncontacts: fast.csv\nschedule:\n  cron: "0 10 * * *"\n  timezone: Asia/Shanghai\n');
    const queue = new Queue(SCHEDULE_QUEUE, { connection: redis, prefix: makeKeys(prefix).bullPrefix });
    servers[0]!.child.kill('SIGHUP');
    while (!(await queue.getJobScheduler('later'))) {
      if (servers[0]!.child.exitCode !== null) throw new Error(`the server stopped on SIGHUP:\n${servers[0]!.log()}`);
      await sleep(100);
    }
    expect(await queue.getJobScheduler('later')).toMatchObject({ pattern: '0 10 * * *', tz: 'Asia/Shanghai' });
    await queue.close();
    expect(servers[0]!.child.exitCode).toBeNull();

    for (const s of servers) s.child.kill('SIGTERM');
    const codes = await Promise.all(servers.map((s) => s.exited));
    expect(codes, servers.map((s) => s.log()).join('\n')).toEqual([0, 0]);

    const all = await runs.list('fast', 1000);
    expect(all.length).toBeGreaterThanOrEqual(wanted);
    const ticks = all.map((r) => r.tick);
    expect(new Set(ticks).size).toBe(ticks.length);
    for (const r of all) {
      expect(r.tick % 2000).toBe(0);
      expect(r).toMatchObject({ state: 'started', campaignId: runCampaignId('fast', r.tick) });
    }
    // Every campaign of the schedule is one run's, and every run has its campaign.
    const campaigns = makeCampaignStore({ redis, keys: makeKeys(prefix), now: () => Date.now() });
    const made: string[] = [];
    for (const id of await campaigns.list()) {
      const c = await campaigns.get(id);
      if (c?.schedule?.name === 'fast') made.push(c.schedule.tick);
    }
    expect(made.sort()).toEqual(ticks.map((t) => new Date(t).toISOString()).sort());
  }, 90_000);
});
