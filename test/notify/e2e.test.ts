import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TOKEN, startHarness, csvSource, type Harness } from '../support/harness.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/shared.js';
import type { DeadLetter } from '../../src/notify/deliveries.js';
import type { NotificationPayload } from '../../src/notify/payload.js';
import { startReceiver, until, verifySignature, type Receiver } from './support.js';
import { launchChromium, watchedPage } from '../browser/support.js';

const SECRET = 'crm-webhook-secret-0123456789';

describe('a campaign with a webhook, end to end against the simulator', () => {
  let h: Harness;
  let rx: Receiver;
  const script: Record<string, string[]> = {
    '13800000101': ['answered:1'],
    '13800000102': ['busy'],
    '13800000103': ['no_answer'],
    '13800000104': ['failed'],
  };

  beforeAll(async () => {
    // The CRM fails its first request, so one notification goes through a retry.
    rx = await startReceiver((n, _req, res) => res.writeHead(n === 1 ? 503 : 200).end());
    h = await startHarness('notify-e2e', { script, mix: { no_answer: 1 } });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100, notifier: { pollMs: 20, backoffMs: [50], jitter: 0.5 } });
  });
  afterAll(async () => {
    await h?.close();
    await rx?.close();
  });

  it('sends one signed notification per dialed contact, with its columns and result', async () => {
    const csv = ['name,phone,plan', 'Ann,13800000101,gold', 'Bob,13800000102,silver', 'Cid,13800000103,gold', 'Dan,13800000104,basic', 'Eve,not-a-number,basic'].join('\n');
    const def = h.container.definition({
      name: 'CRM sync',
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      cps: 50,
      maxConcurrent: 10,
      maxAttempts: 1,
      resultTimeout: '2s',
      webhook: { url: rx.url, secret: SECRET },
    });
    const done = h.container.events.waitFor('campaign:completed', () => true, 60_000);
    const { id } = await h.container.createCampaign(def, csvSource(csv), 'crm.csv');
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;

    await until(async () => (await h.container.status(id))?.notifications.delivered === 4, 'four notifications delivered');
    const status = await h.container.status(id);
    expect(status?.notifications).toEqual({ delivered: 4, retrying: 0, failed: 0 });

    // One accepted request per dialed contact (the invalid row was never dialed), plus the one refused.
    const accepted = rx.received.filter((r) => r.n > 1);
    expect(accepted).toHaveLength(4);
    const payloads = accepted.map((r) => {
      expect(verifySignature(SECRET, r.headers, r.body)).toBe(true);
      return JSON.parse(r.body) as NotificationPayload;
    });
    expect(new Set(payloads.map((p) => p.delivery_id)).size).toBe(4);
    const byName = new Map(payloads.map((p) => [p.contact.columns.name, p]));
    expect([...byName.keys()].sort()).toEqual(['Ann', 'Bob', 'Cid', 'Dan']);
    expect(byName.get('Ann')).toMatchObject({ status: 'answered', userkey: '1', attempts: 1, campaign: { id, name: 'CRM sync' }, contact: { columns: { phone: '13800000101', plan: 'gold' } } });
    expect(byName.get('Bob')).toMatchObject({ status: 'busy', contact: { columns: { plan: 'silver' } } });
    expect(byName.get('Cid')?.status).toBe('no_answer');
    expect(byName.get('Dan')?.status).toBe('failed');

    // The notifications agree with the results export.
    const res = await h.api(`/campaigns/${id}/results?format=jsonl`);
    const rows = (await res.body.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    for (const p of payloads) {
      const row = rows.find((r) => r.name === p.contact.columns.name)!;
      expect(row.status).toBe(p.status);
      expect(row.customuuid).toBe(p.customuuid);
      expect(row.provider_call_id).toBe(p.provider_call_id ?? '');
    }
  });
});

describe('a deployment that refuses webhooks inside its network (AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES=deny)', () => {
  let h: Harness;
  let rx: Receiver;
  const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

  beforeAll(async () => {
    rx = await startReceiver();
    h = await startHarness('notify-deny', { script: { '13800000201': ['answered:1'] } }, { AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES: 'deny' });
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100, notifier: { pollMs: 20 } });
  });
  afterAll(async () => {
    await h?.close();
    await rx?.close();
  });

  it('refuses a campaign whose webhook is written as such an address, naming the setting', () => {
    expect(() => h.container.definition({ action: 'playvoice', params, webhook: { url: 'http://10.0.0.7:8080/hook', secret: SECRET } })).toThrow(
      /webhook\.url: webhook address 10\.0\.0\.7 is loopback, private or reserved, and this dialer refuses those \(AUTODIALER_WEBHOOK_PRIVATE_ADDRESSES=deny\)/,
    );
  });

  it('gives up the notifications of a webhook whose name resolves inside, without posting them', async () => {
    const url = rx.url.replace('127.0.0.1', 'localhost');
    const def = h.container.definition({ action: 'playvoice', params, cps: 10, maxConcurrent: 2, maxAttempts: 1, resultTimeout: '2s', webhook: { url, secret: SECRET } });
    const done = h.container.events.waitFor('campaign:completed', () => true, 60_000);
    const { id } = await h.container.createCampaign(def, csvSource('phone\n13800000201'), 'deny.csv');
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
    await until(async () => (await h.container.status(id))?.notifications.failed === 1, 'the notification given up');
    expect((await h.container.status(id))?.notifications).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    expect(rx.received).toHaveLength(0);
  });
});

describe('given-up notifications, listed and sent again (API and command line)', () => {
  let h: Harness;
  let rx: Receiver;
  let up = false;
  const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

  async function cli(args: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const io: CliIo = { out: (t) => (out += t), err: () => undefined, env: { REDIS_URL: h.config.redisUrl, AUTODIALER_PREFIX: h.config.prefix, LOG_LEVEL: 'silent' }, isTty: false };
    const code = await main(['node', 'autodialer', ...args], io);
    return { code, out };
  }

  beforeAll(async () => {
    rx = await startReceiver((_n, _req, res) => res.writeHead(up ? 200 : 503).end());
    h = await startHarness('notify-resend', { script: { '13800000301': ['answered:2'], '13800000302': ['busy'] } });
    // One try only: the CRM's outage outlasts the schedule.
    h.container.startWorker({ feedEveryMs: 50, sweepEveryMs: 100, notifier: { pollMs: 20, maxTries: 1 } });
  });
  afterAll(async () => {
    await h?.close();
    await rx?.close();
  });

  it('lists them with their last error, and delivers them once sent again', async () => {
    const def = h.container.definition({ action: 'playvoice', params, cps: 10, maxConcurrent: 2, maxAttempts: 1, resultTimeout: '2s', webhook: { url: rx.url, secret: SECRET } });
    const done = h.container.events.waitFor('campaign:completed', () => true, 60_000);
    const { id } = await h.container.createCampaign(def, csvSource('phone\n13800000301\n13800000302'), 'outage.csv');
    if ((await h.container.campaigns.get(id))?.state !== 'completed') await done;
    await until(async () => (await h.container.status(id))?.notifications.failed === 2, 'both given up');

    const listed = await h.api(`/campaigns/${id}/notifications/failed?limit=10`);
    expect(listed.statusCode).toBe(200);
    const { failed } = (await listed.body.json()) as { failed: DeadLetter[] };
    expect(failed.map((f) => [f.status, f.tries, f.reason, f.lastError, f.resendable]).sort()).toEqual([
      ['answered', 1, 'max_tries', 'HTTP 503', true],
      ['busy', 1, 'max_tries', 'HTTP 503', true],
    ]);
    const bad = await h.api(`/campaigns/${id}/notifications/failed?limit=none`);
    expect(bad.statusCode).toBe(400);
    expect(await bad.body.text()).toMatch(/limit must be a number/);

    const table = await cli(['campaign', 'notifications', id]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^failed at +contact +status +tries +reason +resendable +last error\n/);
    expect(table.out).toMatch(/busy +1 +max_tries +yes +HTTP 503/);

    // The campaign page shows them, with a button that sends them again (in a real browser, as an operator would).
    const dash = (await (await h.api(`/dashboard/data`)).body.json()) as { campaigns: { status: { id: string; notifications: unknown } }[] };
    expect(dash.campaigns.find((c) => c.status.id === id)?.status.notifications).toEqual({ delivered: 0, retrying: 0, failed: 2 });
    const browser = await launchChromium();
    try {
      const { page, problems } = await watchedPage(browser, { strictPolicy: true });
      await page.goto(`${h.serverUrl}/#token=${encodeURIComponent(API_TOKEN)}`);
      await page.locator(`tr[data-campaign="${id}"] a.name`).click();
      const resend = page.locator('#detail-actions button[data-action="notifications/resend"]');
      await resend.waitFor();
      expect(await resend.innerText()).toBe('resend 2 given-up webhooks');
      up = true;
      await resend.click();
      await expect.poll(() => page.locator('#flash').innerText(), { timeout: 30_000 }).toContain('2 webhook notification(s) sent again');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
    await until(async () => (await h.container.status(id))?.notifications.delivered === 2, 'both delivered');
    expect((await h.container.status(id))?.notifications).toEqual({ delivered: 2, retrying: 0, failed: 0 });
    expect(rx.received.filter((r) => r.n > 2).map((r) => r.headers['x-autodialer-delivery']).sort()).toEqual(
      rx.received.filter((r) => r.n <= 2).map((r) => r.headers['x-autodialer-delivery']).sort(),
    );

    expect(await cli(['campaign', 'notifications', id])).toEqual({ code: 0, out: `campaign ${id}: no notification given up\n` });
    expect(await cli(['campaign', 'notifications', id, '--resend', '--json'])).toEqual({ code: 0, out: `${JSON.stringify({ id, resent: 0, kept: 0 })}\n` });
    expect((await cli(['campaign', 'notifications', 'zzzzzzzz'])).code).toBe(2);
  });
});
