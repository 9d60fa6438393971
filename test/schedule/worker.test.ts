/**
 * The tick worker on real Redis: a run that cannot start is recorded as
 * retrying and started by BullMQ's next try of the same tick, with the
 * schedule's own retry delays (short ones here).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { sleep } from '../../src/infra/clock.js';
import { makeSchedules, type Schedules } from '../../src/schedule/index.js';
import { makeRunStore } from '../../src/schedule/runs.js';
import { runCampaignId } from '../../src/schedule/match.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

const prefix = testPrefix('sched-worker');
const redis = connectRedis();
const dir = mkdtempSync(join(tmpdir(), 'adtest-sched-worker-'));
let c: Container;
let schedules: Schedules;

beforeAll(async () => {
  const config = loadConfig(
    { REDIS_URL, AUTODIALER_PREFIX: prefix, SIPCALL_API_URL: 'http://127.0.0.1:1', SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef', LOG_LEVEL: 'silent' },
    null,
  );
  const log = createLogger({ level: 'silent' });
  c = await createContainer(config, { redis, log });
  schedules = makeSchedules({
    connection: redis,
    redis: c.redis,
    prefix,
    bullPrefix: c.keys.bullPrefix,
    jobsDir: dir,
    campaigns: c.campaigns,
    definition: c.definition,
    createCampaign: c.createCampaign,
    discard: async (id) => void (await c.purge.purge(id)),
    now: () => Date.now(),
    log,
    // Short, and enough of them that the list written after the first failure is always in time.
    retryDelaysMs: [300, 1000, 2000, 4000, 8000],
  });
});

afterAll(async () => {
  await schedules.close();
  await c.close(0);
  await cleanPrefix(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | null | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await probe();
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('the tick worker', () => {
  it('tries a run that could not start again, and it starts once its list is there', async () => {
    writeFileSync(
      join(dir, 'tick.yaml'),
      'action: playvoice\nparams: { voicetype: 2, voicefile: a.mp3, chengshudu: 1, userid: 1@extGroup-1 }\ningest: { region: CN }\ncontacts: tick.csv\nschedule:\n  cron: "* * * * * *"\n  timezone: UTC\n',
    );
    expect((await schedules.sync()).changes.map((x) => x.change)).toEqual(['created']);
    schedules.startRunner();
    const runs = makeRunStore({ redis, prefix, now: () => Date.now() });
    const failed = await until('a run waiting for a retry', async () => (await runs.list('tick', 50)).find((r) => r.state === 'retrying'));
    expect(failed.error).toMatch(/contacts file .*tick\.csv cannot be read/);
    expect(await c.campaigns.get(runCampaignId('tick', failed.tick))).toBeNull();
    writeFileSync(join(dir, 'tick.csv'), 'name,phone\nLi Zhang,15897366946\n');
    const started = await until('the retried run started', async () => {
      const r = await runs.get('tick', failed.tick);
      return r?.state === 'started' ? r : null;
    });
    expect(started).toMatchObject({ campaignId: runCampaignId('tick', failed.tick), error: null });
    expect(started.attempts).toBeGreaterThanOrEqual(2);
    expect((await c.status(started.campaignId!))?.schedule).toEqual({ name: 'tick', tick: new Date(failed.tick).toISOString() });
  });
});
