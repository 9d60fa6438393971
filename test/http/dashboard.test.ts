/**
 * The campaign page's data and how the page draws it: each campaign's pace
 * (its recent rate against its target, its channels and what holds it) and
 * its calling window, from the data route, and the page in chromium showing
 * them, words from a campaign written as text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import type { Redis } from 'ioredis';
import { keys as makeKeys } from '../../src/store/keys.js';
import { makeQueueRegistry, type QueueRegistry } from '../../src/infra/queues.js';
import { dashboardRoutes } from '../../src/http/dashboard.js';
import { securityHeaders } from '../../src/http/guards.js';
import type { CampaignOverview } from '../../src/http/dashboard-data.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';
import { paceWorld } from '../reports/support.js';
import { launchChromium, SHOTS, watchedPage } from '../browser/support.js';

const prefix = testPrefix('dashboard');
const keys = makeKeys(prefix);
const T = Math.floor(Date.now() / 1000) * 1000 + 400;
let redis: Redis;
let queues: QueueRegistry;
let app: FastifyInstance;
let url: string;
let world: ReturnType<typeof paceWorld>;
let browser: Browser;

beforeAll(async () => {
  redis = connectRedis();
  world = paceWorld(redis, keys, prefix, T);
  queues = makeQueueRegistry({ connection: redis, bullPrefix: keys.bullPrefix });
  app = Fastify();
  app.addHook('onSend', securityHeaders);
  await app.register(dashboardRoutes, { campaigns: world.campaigns, status: world.status, queues, now: () => T });
  // The API's schedules route, which the page reads too: none here.
  app.get('/schedules', async () => ({ schedules: [], problems: [] }));
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app.close();
  await queues.closeAll();
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

describe('the campaign page: pace and calling window', () => {
  let held: string;
  let paused: string;
  let closed: string;

  beforeAll(async () => {
    held = await world.campaign({ name: 'held by channels', cps: 20, maxConcurrent: 10 });
    await world.begun(held, [7, 7, 7, 7, 7, 7, 7, 7, 7, 6]);
    for (let i = 0; i < 10; i++) {
      expect((await world.pacer.acquire({ account: 'sipcall', campaignId: held, attemptId: `${held}-a${i}`, holdUntilMs: Date.now() + 3_600_000 })).ok).toBe(true);
    }
    paused = await world.campaign({ name: 'paused <b>', cps: 0.5, maxConcurrent: 0 });
    await world.campaigns.setState(paused, 'paused', 'provider said <no>');
    // Open 09:00-10:00 UTC on Mondays only: closed at T unless T is a Monday at 09:xx UTC.
    closed = await world.campaign({ name: 'mondays', cps: 2, window: { hours: '09:00-10:00', days: 'mon', timezone: 'UTC' } });
  });

  it('gives each campaign its rate against its target, its channels, what holds it and its window', async () => {
    const res = await app.inject({ method: 'GET', url: '/dashboard/data' });
    const data = res.json() as { campaigns: CampaignOverview[] };
    const byId = new Map(data.campaigns.map((c) => [c.status.id, c]));
    expect(byId.get(held)!.status).toMatchObject({ rateNow: 6.9, targetRate: 20, channels: { inUse: 10, cap: 10, capSource: 'campaign' }, heldBy: { kind: 'campaign_channels' } });
    expect(byId.get(held)!.window).toEqual({ open: true, opensAt: null, closesAt: null, zone: 'Asia/Shanghai', hours: null, days: null });
    expect(byId.get(held)!.queue).toEqual({ waiting: 0, active: 0, delayed: 0, prioritized: 0 });
    const monday = new Date(T).getUTCDay() === 1 && new Date(T).getUTCHours() === 9;
    if (!monday) {
      const w = byId.get(closed)!.window!;
      expect(w).toMatchObject({ open: false, closesAt: null, zone: 'UTC', hours: '09:00-10:00', days: 'mon' });
      const opens = new Date(w.opensAt!);
      expect([opens.getUTCDay(), opens.getUTCHours(), opens.getUTCMinutes()]).toEqual([1, 9, 0]);
      expect(opens.getTime()).toBeGreaterThan(T);
    }
    expect(data.campaigns.map((c) => c.status.id).sort()).toEqual([closed, paused, held].sort());
  });

  it('draws them in chromium, a campaign\u2019s words as text', async () => {
    const { page, problems } = await watchedPage(browser, { strictPolicy: true });
    await page.goto(`${url}/#token=any`);
    const row = (id: string) => page.locator(`tr[data-campaign="${id}"] td`);
    await row(held).first().waitFor();
    expect(await row(held).nth(4).innerText()).toBe('6.9/s of 20/s\nheld by channels 10/10 (campaign)');
    expect(await row(held).nth(5).innerText()).toBe('10 / 10\ncampaign');
    expect(await row(paused).nth(0).locator('a.name').innerText()).toBe('paused <b>');
    expect(await row(paused).nth(4).innerText()).toBe('0/s of 0.5/s\npaused (provider said <no>)');
    expect(await row(paused).nth(5).innerText()).toBe('0\nno cap');
    expect(await row(paused).locator('button').allInnerTexts()).toEqual(['resume', 'cancel']);
    expect(await row(held).locator('button').allInnerTexts()).toEqual(['pause', 'cancel']);
    expect(await row(closed).nth(6).innerText()).toMatch(/^(opens |open until)/);
    await page.screenshot({ path: `${SHOTS}/dashboard-pace.png`, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
