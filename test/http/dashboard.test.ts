/**
 * The dashboard shows each campaign's pace: its recent rate against its
 * target, its channels and what holds it. The page's own script runs on the
 * data route's answer, with a stand-in document.
 */
import { createContext, Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { keys as makeKeys } from '../../src/store/keys.js';
import { makeQueueRegistry, type QueueRegistry } from '../../src/infra/queues.js';
import { dashboardRoutes } from '../../src/http/dashboard.js';
import type { CampaignStatus } from '../../src/reports/status.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { paceWorld } from '../reports/support.js';

const prefix = testPrefix('dashboard');
const keys = makeKeys(prefix);
const T = Math.floor(Date.now() / 1000) * 1000 + 400;
let redis: Redis;
let queues: QueueRegistry;
let app: FastifyInstance;
let world: ReturnType<typeof paceWorld>;

beforeAll(async () => {
  redis = connectRedis();
  world = paceWorld(redis, keys, prefix, T);
  queues = makeQueueRegistry({ connection: redis, bullPrefix: keys.bullPrefix });
  app = Fastify();
  await app.register(dashboardRoutes, { campaigns: world.campaigns, status: world.status, queues });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await queues.closeAll();
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

/** Runs the page's script against this app; resolves once it has drawn the rows. */
async function renderPage(): Promise<string> {
  const page = (await app.inject({ method: 'GET', url: '/' })).body;
  const script = /<script>([\s\S]*)<\/script>/.exec(page)?.[1] ?? '';
  const elements: Record<string, { innerHTML: string; textContent: string }> = {};
  const fetch = async (path: string) => {
    const res = await app.inject({ method: 'GET', url: path });
    return { status: res.statusCode, json: async () => res.json() };
  };
  const context = createContext({
    document: { getElementById: (k: string) => (elements[k] ??= { innerHTML: '', textContent: '' }) },
    location: { hash: '' },
    URLSearchParams,
    fetch,
    setInterval: () => 0,
  });
  new Script(script).runInContext(context);
  // The script's own first load runs as well; this one ends with the rows drawn.
  await (context.load as () => Promise<void>)();
  return elements.rows?.innerHTML ?? '';
}

describe('dashboard: pace', () => {
  it('shows the rate against the target, the channels and what holds each campaign', async () => {
    const held = await world.campaign({ name: 'held by channels', cps: 20, maxConcurrent: 10 });
    await world.begun(held, [7, 7, 7, 7, 7, 7, 7, 7, 7, 6]);
    for (let i = 0; i < 10; i++) {
      expect((await world.pacer.acquire({ account: 'sipcall', campaignId: held, attemptId: `${held}-a${i}`, holdUntilMs: Date.now() + 3_600_000 })).ok).toBe(true);
    }
    const paused = await world.campaign({ name: 'paused <b>', cps: 0.5, maxConcurrent: 0 });
    await world.campaigns.setState(paused, 'paused', 'provider said <no>');

    const data = (await app.inject({ method: 'GET', url: '/dashboard/data' })).json() as { campaigns: { status: CampaignStatus }[] };
    const byId = new Map(data.campaigns.map((c) => [c.status.id, c.status]));
    expect(byId.get(held)).toMatchObject({ rateNow: 6.9, targetRate: 20, channels: { inUse: 10, cap: 10, capSource: 'campaign' }, heldBy: { kind: 'campaign_channels' } });

    const rows = await renderPage();
    expect(rows).toContain('<td>6.9/s of 20/s<br><small>10/10 channels</small><br><small class="held-campaign_channels">held by channels 10/10 (campaign)</small></td>');
    // Words from the campaign are escaped; a rate under one is written as such.
    expect(rows).toContain('<td>0/s of 0.5/s<br><small>0 channels (no cap)</small><br><small class="held-paused">paused (provider said &lt;no&gt;)</small></td>');
    expect(rows.match(/<tr>/g)).toHaveLength(2);
  });
});
