/**
 * `autodialer schedule …` as a user runs it (real Redis): sync prints what
 * changed and exits 2 with each file problem on standard error, list and runs
 * give the documented JSON, run prints the new campaign's id.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/shared.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

const prefix = testPrefix('sched-cli');
const dir = mkdtempSync(join(tmpdir(), 'adtest-sched-cli-'));
const env = {
  REDIS_URL,
  AUTODIALER_PREFIX: prefix,
  AUTODIALER_JOBS_DIR: dir,
  SIPCALL_API_URL: 'http://127.0.0.1:1',
  SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef',
  LOG_LEVEL: 'silent',
};
const redis = connectRedis();

afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => (out += t), err: (t) => (err += t), env, isTty: false };
  const code = await main(['node', 'autodialer', ...args], io);
  return { code, out, err };
}

const REMINDER = `action: playvoice
params: { voicetype: 2, voicefile: a.mp3, chengshudu: 1, userid: 1@extGroup-1 }
ingest: { region: CN }
contacts: list.csv
schedule:
  cron: "0 10 * * mon-fri"
  timezone: Asia/Shanghai
`;

describe('autodialer schedule', () => {
  it('sync prints each change; a bad file is reported with its line and the command exits 2', async () => {
    writeFileSync(join(dir, 'reminder.yaml'), REMINDER);
    writeFileSync(join(dir, 'list.csv'), 'name,phone\nLi Zhang,15897366946\nPing Li,15088220482\n');
    writeFileSync(join(dir, 'broken.yaml'), REMINDER.replace('"0 10 * * mon-fri"', '"0 10 * *"'));
    const r = await cli(['schedule', 'sync']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^created\s+reminder\s+next \S+Z \(\d{4}-\d{2}-\d{2} 10:00 Asia\/Shanghai\)$/m);
    expect(r.out).toMatch(/^not scheduled\s+broken\s+its file has errors$/m);
    expect(r.err).toContain(`${join(dir, 'broken.yaml')}:6: schedule.cron: a cron has 5 fields`);
    expect(r.err).toMatch(/1 problem\(s\) in definition files/);
    const again = await cli(['schedule', 'sync', '--dir', dir, '--json']);
    const report = JSON.parse(again.out) as { changes: { name: string; change: string }[] };
    expect(report.changes.find((c) => c.name === 'reminder')?.change).toBe('unchanged');
  });

  it('list --json: name, file, cron, timezone, next in UTC and local time, last run', async () => {
    const r = await cli(['schedule', 'list', '--json']);
    expect(r.code).toBe(0);
    const [s] = JSON.parse(r.out) as Record<string, unknown>[];
    expect(s).toMatchObject({ name: 'reminder', file: join(dir, 'reminder.yaml'), cron: '0 10 * * mon-fri', timezone: 'Asia/Shanghai', lastRun: null, synced: true });
    expect(s!.next).toEqual({ utc: expect.stringMatching(/T02:00:00\.000Z$/), local: expect.stringMatching(/ 10:00 Asia\/Shanghai$/) });
  });

  it('run prints the campaign id; runs --json lists it; its status names schedule and tick', async () => {
    const r = await cli(['schedule', 'run', 'reminder']);
    expect(r.code, r.err).toBe(0);
    const id = r.out.trim();
    expect(id).toMatch(/^[a-z0-9]{8}$/);
    const runs = JSON.parse((await cli(['schedule', 'runs', 'reminder', '--json'])).out) as Record<string, unknown>[];
    expect(runs).toEqual([{ id, tick: expect.any(String), state: 'running', counts: expect.objectContaining({ pending: 2 }), manual: true }]);
    const status = JSON.parse((await cli(['campaign', 'status', id, '--json'])).out) as { name: string; schedule: unknown };
    expect(status.schedule).toEqual({ name: 'reminder', tick: runs[0]!.tick });
    expect(status.name).toMatch(/^reminder \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const text = await cli(['schedule', 'list']);
    expect(text.out).toMatch(new RegExp(`reminder\\s+cron 0 10 \\* \\* mon-fri .*${id} \\S+ running`));
  });

  it('run of a definition that cannot run says why, exit 2', async () => {
    const broken = await cli(['schedule', 'run', 'broken']);
    expect(broken.code).toBe(2);
    expect(broken.err).toBe(`autodialer: broken cannot run: its file has errors: ${join(dir, 'broken.yaml')}:6: schedule.cron: a cron has 5 fields (minute hour day-of-month month day-of-week, e.g. "0 10 * * 1-5") or 6 with seconds first ("*/5 * * * * *"), got 4\n`);
    const missing = await cli(['schedule', 'run', 'nothing']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no definition named nothing in/);
  });
});
