/**
 * Deleting finished campaigns, against the simulator: everything stored for
 * the campaign goes (record, contacts, attempts, queue, pacing, counters),
 * other campaigns stay whole, a live campaign is refused, and a result that
 * arrives afterwards is kept as an orphan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Redis } from 'ioredis';
import { startHarness, csvSource, SECRET, type Harness } from '../support/harness.js';
import { connectRedis } from '../support/redis.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/shared.js';
import { dialQueueName } from '../../src/store/ids.js';
import { sipcallCdr } from '../callbacks/support.js';

const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

describe('deleting a campaign', () => {
  let h: Harness;
  let redis: Redis;

  beforeAll(async () => {
    h = await startHarness('delete', { script: { '13800000401': ['answered:1'], '13800000402': ['busy'], '13800000411': ['answered'] } });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
    redis = connectRedis();
  });
  afterAll(async () => {
    redis?.disconnect();
    await h?.close();
  });

  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: CliIo = { out: (t) => (out += t), err: (t) => (err += t), env: { REDIS_URL: h.config.redisUrl, AUTODIALER_PREFIX: h.config.prefix, LOG_LEVEL: 'silent' }, isTty: false };
    const code = await main(['node', 'autodialer', ...args], io);
    return { code, out, err };
  }

  /** Every key stored for the campaign (its record and hashes, attempts, pacing, dial queue). */
  async function keysOf(id: string): Promise<string[]> {
    const p = h.config.prefix;
    const patterns = [`${p}:cmp:${id}`, `${p}:cmp:${id}:*`, `${p}:att:${id}-*`, `${p}:pace:camp:${id}:*`, `${p}:bull:${dialQueueName(id)}:*`];
    const found: string[] = [];
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
    }
    return found;
  }

  async function finished(csv: string): Promise<string> {
    const def = h.container.definition({ action: 'playvoice', params, cps: 20, maxConcurrent: 5, maxAttempts: 1, resultTimeout: '2s' });
    const done = h.container.events.waitFor('campaign:completed', () => true, 60_000);
    const { id } = await h.container.createCampaign(def, csvSource(csv), 'delete.csv');
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
    return id;
  }

  it('removes everything a completed campaign stored and leaves the others whole; a late result is an orphan', async () => {
    const kept = await finished('phone\n13800000411');
    const id = await finished('phone\n13800000401\n13800000402\nnot-a-number');
    const attempt = `${id}-0-1`;
    expect((await h.container.attempts.get(attempt))?.state).toBe('final');
    expect((await keysOf(id)).length).toBeGreaterThan(5);
    // Pacing keys expire on their own: the other campaign's records are compared.
    const records = async (cid: string) => (await keysOf(cid)).filter((key) => !key.includes(':pace:')).sort();
    const keptBefore = await records(kept);

    const res = await h.api(`/campaigns/${id}`, { method: 'DELETE' });
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { id: string; deleted: boolean; keys: number };
    expect(body).toMatchObject({ id, deleted: true });
    expect(body.keys).toBeGreaterThan(5);
    expect(await keysOf(id)).toEqual([]);
    expect((await h.api(`/campaigns/${id}`)).statusCode).toBe(404);
    expect(await h.container.campaigns.list()).not.toContain(id);
    expect(await records(kept)).toEqual(keptBefore);
    expect((await h.container.status(kept))?.counts.answered).toBe(1);

    // The provider re-sends the CDR of a deleted campaign's call: stored, answered 200, counted as an orphan.
    const orphansBefore = (await h.container.callbackLog.counters(null)).orphan;
    const late = await request(`${h.serverUrl}/callbacks/sipcall/cdr`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-callback-key': SECRET },
      body: JSON.stringify(sipcallCdr({ customuuid: attempt, uuid: 'late-after-delete', destnumber: '13800000401', outcome: 'answered' })),
    });
    expect(late.statusCode).toBe(200);
    await h.container.receiver.idle();
    expect((await h.container.callbackLog.counters(null)).orphan).toBe(orphansBefore + 1);
    expect(await keysOf(id)).toEqual([]);
  });

  it('refuses a live campaign, and asks for --yes on the command line', async () => {
    const def = h.container.definition({ action: 'playvoice', params, cps: 1, maxConcurrent: 1, maxAttempts: 1, resultTimeout: '2s' });
    const { id } = await h.container.createCampaign(def, csvSource('phone\n13800000421\n13800000422\n13800000423'), 'live.csv');
    await h.container.control.pause(id);
    // Active, so a monitoring system sees its contacts.
    const metrics = await (await h.api(`/metrics`)).body.text();
    expect(metrics).toContain(`autodialer_campaign_contacts{campaign="${id}",status="pending"} 3`);
    expect(metrics).toContain(`autodialer_campaign_notifications{campaign="${id}",state="failed"} 0`);
    const refused = await h.api(`/campaigns/${id}`, { method: 'DELETE' });
    expect(refused.statusCode).toBe(409);
    expect(await refused.body.json()).toEqual({ error: { code: 'invalid_state', message: `campaign ${id} is paused: only a completed or cancelled campaign can be deleted (cancel it first)` } });

    const unsure = await cli(['campaign', 'delete', id]);
    expect(unsure.code).toBe(2);
    expect(unsure.err).toMatch(new RegExp(`campaign ${id} \\(".*", 3 contacts, paused\\) would be deleted .*run again with --yes`));

    // Cancelled: the feeder ends what was never dialed; once every contact is final it can go.
    await h.container.control.cancel(id);
    for (let i = 0; i < 400 && (await h.container.campaigns.counts(id)).byStatus.pending > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await h.container.campaigns.counts(id)).byStatus.pending).toBe(0);
    const gone = await cli(['campaign', 'delete', id, '--yes']);
    expect(gone.code).toBe(0);
    expect(gone.out).toMatch(new RegExp(`^campaign ${id} deleted \\(\\d+ keys\\)\\n$`));
    expect(await keysOf(id)).toEqual([]);
    expect((await cli(['campaign', 'delete', id, '--yes'])).code).toBe(2);
  });
});

describe("a deleted campaign's dial queue", () => {
  let h: Harness;
  let redis: Redis;
  let workers: { refresh(): Promise<void>; campaigns(): string[] };

  beforeAll(async () => {
    h = await startHarness('delete-race', { script: { '13800000431': ['answered'] } });
    // Workers opened and closed only when this test asks (refresh), not every second.
    workers = h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100, workersEveryMs: 3_600_000 }).workers;
    redis = connectRedis();
  });
  afterAll(async () => {
    redis?.disconnect();
    await h?.close();
  });

  it('leaves nothing behind when a worker still open wrote to it after the deletion', async () => {
    const def = h.container.definition({ action: 'playvoice', params, cps: 20, maxConcurrent: 5, maxAttempts: 1, resultTimeout: '2s' });
    const done = h.container.events.waitFor('campaign:completed', () => true, 60_000);
    const { id } = await h.container.createCampaign(def, csvSource('phone\n13800000431'), 'race.csv');
    await workers.refresh();
    expect(workers.campaigns()).toContain(id);
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
    expect((await h.api(`/campaigns/${id}`, { method: 'DELETE' })).statusCode).toBe(200);
    const queue = `${h.config.prefix}:bull:${dialQueueName(id)}`;
    expect(await redis.exists(`${queue}:meta`, `${queue}:id`, `${queue}:events`)).toBe(0);
    // The Worker still open in this process runs its stalled-jobs check before it notices the deletion: BullMQ trims
    // the queue's events stream first, and writes the stream's bound into the queue's meta hash when it is missing.
    await redis.hset(`${queue}:meta`, 'opts.maxLenEvents', '10000');
    await workers.refresh();
    expect(workers.campaigns()).not.toContain(id);
    const left: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${queue}:*`, 'COUNT', 1000);
      cursor = next;
      left.push(...keys);
    } while (cursor !== '0');
    expect(left).toEqual([]);
  });
});
