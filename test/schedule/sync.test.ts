/**
 * `schedule sync` on real Redis: the BullMQ job schedulers follow the files
 * (created, unchanged, updated, removed, kept while a file has errors, ended),
 * one scheduler and one pending tick per definition even when two processes
 * sync the same directory at once.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { nextTick } from '../../src/schedule/match.js';
import { loadDefinitions } from '../../src/schedule/parse.js';
import { SCHEDULE_QUEUE } from '../../src/schedule/queue.js';
import type { SyncReport } from '../../src/schedule/index.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

const prefix = testPrefix('sched-sync');
const redis = connectRedis();
const dir = mkdtempSync(join(tmpdir(), 'adtest-sched-sync-'));
const PARAMS = 'params: { voicetype: 2, voicefile: a.mp3, chengshudu: 1, userid: 1@extGroup-1 }\n';
let a: Container;
let b: Container;
let queue: Queue;

function write(name: string, schedule: string): void {
  writeFileSync(join(dir, `${name}.yaml`), `action: playvoice\n${PARAMS}contacts: list.csv\nschedule:\n${schedule}`);
}

const changes = (r: SyncReport) => Object.fromEntries(r.changes.map((c) => [c.name, c.change]));

/** Each scheduler's pending tick jobs (BullMQ's own view). */
async function pendingTicks(): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const job of await queue.getJobs(['delayed', 'wait'])) {
    const m = /^repeat:(.+):(\d+)$/.exec(job.id ?? '');
    if (m) (out[m[1]!] ??= []).push(Number(m[2]));
  }
  return out;
}

beforeAll(async () => {
  const config = loadConfig({ REDIS_URL, AUTODIALER_PREFIX: prefix, AUTODIALER_JOBS_DIR: dir, LOG_LEVEL: 'silent' }, null);
  a = await createContainer(config, { redis, log: createLogger({ level: 'silent' }) });
  b = await createContainer(config, { redis: redis.duplicate(), log: createLogger({ level: 'silent' }) });
  queue = new Queue(SCHEDULE_QUEUE, { connection: redis, prefix: a.keys.bullPrefix });
});

afterAll(async () => {
  await queue.close();
  await a.close(0);
  await b.close(0);
  await cleanPrefix(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('schedule sync', () => {
  it('two processes syncing one directory at once leave one scheduler and one pending tick per definition', async () => {
    write('morning', '  cron: "0 9 * * *"\n  timezone: Asia/Shanghai\n');
    write('evening', '  cron: "0 18 * * mon-fri"\n  timezone: Asia/Tehran\n');
    write('hourly', '  every: 1h\n');
    writeFileSync(join(dir, 'plain.json'), '{"action": "makecall", "params": {"extnumber": "20280003"}}');
    const [ra, rb] = await Promise.all([a.schedules.sync(), b.schedules.sync()]);
    expect(ra.problems).toEqual([]);
    for (const r of [ra, rb]) {
      expect(changes(r).plain).toBe('not scheduled');
      for (const n of ['morning', 'evening', 'hourly']) expect(['created', 'updated', 'unchanged']).toContain(changes(r)[n]);
    }
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers.map((s) => s.key).sort()).toEqual(['evening', 'hourly', 'morning']);
    expect(schedulers.find((s) => s.key === 'morning')).toMatchObject({ pattern: '0 9 * * *', tz: 'Asia/Shanghai' });
    expect(schedulers.find((s) => s.key === 'hourly')).toMatchObject({ every: 3_600_000 });
    const pending = await pendingTicks();
    const now = Date.now();
    for (const d of loadDefinitions(dir).definitions.filter((x) => x.schedule)) {
      // The pending tick is the rule's next one (computed a moment earlier or later: at most one tick apart).
      expect(pending[d.name]).toHaveLength(1);
      expect([nextTick(d.schedule!, now - 60_000), nextTick(d.schedule!, now)]).toContain(pending[d.name]![0]);
    }
    expect(pending.hourly![0]! % 3_600_000).toBe(0);
  });

  it('a second sync changes nothing; a changed file is updated, its pending tick following the new rule', async () => {
    expect(changes(await a.schedules.sync())).toMatchObject({ morning: 'unchanged', evening: 'unchanged', hourly: 'unchanged' });
    write('morning', '  cron: "30 7 * * *"\n  timezone: Asia/Shanghai\n');
    const r = await a.schedules.sync();
    expect(changes(r)).toMatchObject({ morning: 'updated', evening: 'unchanged' });
    const morning = loadDefinitions(dir).definitions.find((d) => d.name === 'morning')!;
    const next = r.changes.find((c) => c.name === 'morning')!.next!;
    expect(next).toBe(nextTick(morning.schedule!, next - 1));
    expect(new Date(next).getUTCHours() * 60 + new Date(next).getUTCMinutes()).toBe(23 * 60 + 30);
    expect((await pendingTicks()).morning).toEqual([next]);
  });

  it('a file with errors keeps its last good scheduler; a removed file or schedule takes its scheduler away; a past end date ends it', async () => {
    writeFileSync(join(dir, 'evening.yaml'), 'action: playvoice\nschedule: [\n');
    unlinkSync(join(dir, 'hourly.yaml'));
    write('ended', '  every: 1h\n  endDate: "2020-01-01"\n');
    writeFileSync(join(dir, 'morning.yaml'), `action: playvoice\n${PARAMS}contacts: list.csv\n`);
    const r = await a.schedules.sync();
    expect(changes(r)).toEqual({ ended: 'ended', evening: 'kept', hourly: 'removed', morning: 'removed', plain: 'not scheduled' });
    expect(r.problems.map((p) => p.file)).toEqual([join(dir, 'evening.yaml')]);
    expect((await queue.getJobSchedulers()).map((s) => s.key)).toEqual(['evening']);
    expect(Object.keys(await pendingTicks())).toEqual(['evening']);
  });

  it('a directory that cannot be read changes nothing', async () => {
    const r = await a.schedules.sync(join(dir, 'missing'));
    expect(changes(r)).toEqual({ evening: 'kept' });
    expect((await queue.getJobSchedulers()).map((s) => s.key)).toEqual(['evening']);
  });
});
