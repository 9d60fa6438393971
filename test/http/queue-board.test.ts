/**
 * The queue dashboard at /admin/queues on the real server: behind the token
 * (Bearer, or the login form's cookie: HttpOnly, SameSite=Strict), every
 * campaign's dial queue and the schedule queue listed, numbers masked in
 * job data, job names that say what the job is, read only; its page and
 * static files load under the security headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startHarness, csvSource, API_TOKEN, AUTH, type Harness } from '../support/harness.js';
import { maskJobData, maskNumbers } from '../../src/http/queue-board.js';

const params = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };

describe('queue dashboard', () => {
  let h: Harness;
  let id: string;

  beforeAll(async () => {
    h = await startHarness('board');
    // No worker: the jobs stay waiting in the campaign's queue.
    const def = h.container.definition({ action: 'playvoice', params, cps: 1, maxAttempts: 1 });
    ({ id } = await h.container.createCampaign(def, csvSource('phone,name\n13800000701,Ann\n13800000702,Bob'), 'b.csv'));
    await h.container.queues.get(id).add('dial', { idx: 0, n: 1, row: '["13800000701","Ann"]' }, { jobId: `${id}-0-1` });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('masks numbers and hides secrets in job data', () => {
    expect(maskNumbers('call +86 138-0000-0701 now')).toBe('call +861********01 now');
    expect(maskNumbers('order 1234')).toBe('order 1234');
    expect(maskJobData({ idx: 3, row: '13800000701,Ann', webhook: { url: 'https://x', secret: 'abcdefghijklmnop' }, group: [[1, 1, '13900000001', 's']] })).toEqual({
      idx: 3,
      row: '138******01,Ann',
      webhook: { url: 'https://x', secret: '[hidden]' },
      group: [[1, 1, '139******01', 's']],
    });
  });

  it('needs the token: a program gets 401, a browser the login form', async () => {
    const api = await request(`${h.serverUrl}/admin/queues/api/queues`);
    expect(api.statusCode).toBe(401);
    expect(await api.body.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const page = await request(`${h.serverUrl}/admin/queues/`, { headers: { accept: 'text/html' } });
    await page.body.dump();
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe('/admin/queues/login');
    const login = await request(`${h.serverUrl}/admin/queues/login`);
    expect(login.statusCode).toBe(200);
    expect(login.headers['content-security-policy']).toContain("default-src 'none'");
    expect(await login.body.text()).toContain('name="token"');
  });

  it('lists every dial queue and the schedule queue with masked data and named jobs (Bearer)', async () => {
    const res = await request(`${h.serverUrl}/admin/queues/api/queues?activeQueue=${encodeURIComponent(`dial-${id}`)}&status=waiting&page=1`, { headers: AUTH });
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { queues: { name: string; displayName?: string; readOnlyMode: boolean; jobs: { name: string; data: unknown }[] }[] };
    const names = body.queues.map((q) => q.name);
    expect(names).toContain(`dial-${id}`);
    expect(names).toContain('schedules');
    const dial = body.queues.find((q) => q.name === `dial-${id}`)!;
    expect(dial.readOnlyMode).toBe(true);
    expect(dial.jobs.length).toBeGreaterThan(0);
    const text = JSON.stringify(dial.jobs);
    expect(text).not.toContain('13800000701');
    expect(text).toContain('138******01');
    expect(dial.jobs.map((j) => j.name)).toContain(`dial contact #0, attempt 1 (campaign ${id})`);
  });

  it('signs a browser in with a cookie (HttpOnly, SameSite=Strict) that opens the board, its files loading under the headers', async () => {
    const wrong = await request(`${h.serverUrl}/admin/queues/login`, { method: 'POST', body: 'token=nope', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    await wrong.body.dump();
    expect(wrong.statusCode).toBe(401);
    // A form posted from another site is refused by the cross-site guard.
    const foreign = await request(`${h.serverUrl}/admin/queues/login`, {
      method: 'POST',
      body: `token=${API_TOKEN}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.headers['set-cookie']).toBeUndefined();
    await foreign.body.dump();

    const ok = await request(`${h.serverUrl}/admin/queues/login`, { method: 'POST', body: `token=${encodeURIComponent(API_TOKEN)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    await ok.body.dump();
    expect(ok.statusCode).toBe(303);
    const setCookie = String(ok.headers['set-cookie']);
    expect(setCookie).toMatch(/^autodialer_board=[A-Za-z0-9_-]+; Path=\/admin\/queues; HttpOnly; SameSite=Strict/);
    expect(setCookie).not.toContain(API_TOKEN);
    const cookie = setCookie.split(';')[0]!;

    const page = await request(`${h.serverUrl}/admin/queues/`, { headers: { cookie, accept: 'text/html' } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const html = await page.body.text();
    const all = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((a) => !a.startsWith('#'));
    // bull-board links web fonts of its own; the policy leaves them out (the board falls back to system fonts).
    const external = all.filter((a) => /^(https?:)?\/\//.test(a));
    for (const a of external) expect(a).toMatch(/^https:\/\/fonts\.(googleapis|gstatic)\.com\//);
    expect(page.headers['content-security-policy']).not.toMatch(/fonts\.googleapis/);
    const assets = all.filter((a) => !external.includes(a));
    expect(assets.length).toBeGreaterThan(0);
    for (const a of assets) {
      const res = await request(new URL(a, `${h.serverUrl}/admin/queues/`).toString(), { headers: { cookie } });
      await res.body.dump();
      expect(res.statusCode, a).toBe(200);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    // The cookie opens the board's API too, and nothing else.
    const api = await request(`${h.serverUrl}/admin/queues/api/queues`, { headers: { cookie } });
    await api.body.dump();
    expect(api.statusCode).toBe(200);
    const campaigns = await request(`${h.serverUrl}/campaigns`, { headers: { cookie } });
    await campaigns.body.dump();
    expect(campaigns.statusCode).toBe(401);
  });
});
