/**
 * Secure by default: the API token on every route but callbacks, health and
 * the page (several tokens during a rotation; one made and kept in Redis
 * when none is set), the page working from the token in its fragment,
 * callbacks refused without a secret, no cross-site writes, security headers.
 * Real Redis, the real server on a port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadConfig, ConfigError } from '../../src/config.js';
import { apiTokenKey } from '../../src/http/api-token.js';
import { campaignWithAttempts, numberOf, SIPCALL_DEF, sipcallCdr, startRig, stopRigKeepingKeys, type Rig } from '../callbacks/support.js';
import { multipartBody, playvoiceDefinition } from '../upload/form.js';
import { testPrefix } from '../support/redis.js';

const NEW = 'new-api-token-0123456789abcdef';
const OLD = 'old-api-token-0123456789abcdef';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

const PROTECTED: [string, string][] = [
  ['GET', '/campaigns'],
  ['GET', '/campaigns/abcdefgh'],
  ['GET', '/campaigns/abcdefgh/results'],
  ['GET', '/campaigns/abcdefgh/attempts'],
  ['GET', '/campaigns/abcdefgh/rejects'],
  ['GET', '/campaigns/abcdefgh/notifications/failed'],
  ['POST', '/campaigns/abcdefgh/pause'],
  ['POST', '/campaigns/abcdefgh/resume'],
  ['POST', '/campaigns/abcdefgh/cancel'],
  ['POST', '/campaigns/abcdefgh/pace'],
  ['POST', '/campaigns/abcdefgh/notifications/resend'],
  ['DELETE', '/campaigns/abcdefgh'],
  ['POST', '/campaigns'],
  ['POST', '/campaigns/abcdefgh/contacts'],
  ['GET', '/metrics'],
  ['GET', '/dashboard/data'],
  ['GET', '/dashboard/campaigns/abcdefgh/timeline'],
  // A route that does not exist says no more than one that does.
  ['GET', '/no/such/route'],
];

async function call(rig: Rig, method: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${rig.url}${path}`, { method: method as 'GET', headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

describe('the API token', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('http-auth', { AUTODIALER_API_TOKEN: `${NEW}, ${OLD}` });
  });
  afterAll(async () => rig?.close());

  it('is needed by every route but callbacks, health and the page', async () => {
    const wrong = [{}, bearer('wrong-token-0123456789abcdef'), bearer(`${NEW}x`), bearer(NEW.slice(0, -1)), { authorization: `Basic ${NEW}` }, { authorization: 'Bearer' }, { authorization: NEW }];
    for (const [method, path] of PROTECTED) {
      for (const headers of wrong) {
        const res = await call(rig, method, path, headers);
        expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'unauthorized' } });
      }
      expect((await call(rig, method, path, bearer(NEW))).status, `${method} ${path}`).not.toBe(401);
    }
    expect((await call(rig, 'GET', '/')).status).toBe(200);
    expect((await call(rig, 'GET', '/healthz')).status).toBe(200);
    expect((await call(rig, 'GET', '/readyz')).status).toBe(200);
    expect((await rig.post('/callbacks/sipcall/status', JSON.stringify({ uuid: 'u-x', status: 'ring', callee: '1', starttime: '1581124302' }))).status).toBe(200);
  });

  it('accepts each token of a rotation', async () => {
    expect((await call(rig, 'GET', '/campaigns', bearer(NEW))).status).toBe(200);
    expect((await call(rig, 'GET', '/campaigns', bearer(OLD))).status).toBe(200);
    expect((await call(rig, 'GET', '/campaigns', { authorization: `bearer ${OLD}` })).status).toBe(200);
  });

  it('serves the page and its files without the token (they hold no data), its data only with it', async () => {
    // The page driven from the token in its fragment, data and buttons alike: test/browser/campaign-page.test.ts.
    const page = await call(rig, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const files = [...page.text.matchAll(/(?:src|href)="(\/[^"]*)"/g)].map((m) => m[1]!);
    expect(files).toEqual(expect.arrayContaining(['/app.js', '/style.css']));
    const app = await call(rig, 'GET', '/app.js');
    for (const m of app.text.matchAll(/from '\.\/([\w-]+\.js)'/g)) files.push(`/${m[1]!}`);
    for (const f of files) expect((await call(rig, 'GET', f)).status, f).toBe(200);
    expect((await call(rig, 'GET', '/dashboard/data')).status).toBe(401);
    expect((await call(rig, 'GET', '/dashboard/data', bearer(NEW))).status).toBe(200);
  });
});

describe('a deployment without AUTODIALER_API_TOKEN', () => {
  const prefix = testPrefix('http-gen');
  let first: Rig | null = null;
  let second: Rig | null = null;
  afterAll(async () => {
    if (first) await stopRigKeepingKeys(first);
    await second?.close();
  });

  it('makes a token at its first start, keeps it in Redis and logs the dashboard address with it once', async () => {
    first = await startRig('http-gen', { AUTODIALER_API_TOKEN: '' }, { prefix });
    const lines = first
      .logs()
      .split('\n')
      .filter((l) => l.includes('#token='));
    expect(lines).toHaveLength(1);
    const dashboard = (JSON.parse(lines[0]!) as { dashboard: string }).dashboard;
    expect(dashboard).toMatch(new RegExp(`^${first.url}/#token=[A-Za-z0-9_-]{43}$`));
    const token = decodeURIComponent(dashboard.split('#token=')[1]!);
    expect(await first.c.redis.get(apiTokenKey(prefix))).toBe(token);
    expect((await call(first, 'GET', '/campaigns')).status).toBe(401);
    expect((await call(first, 'GET', '/campaigns', bearer(token))).status).toBe(200);

    // The next server of the deployment takes the same token, and does not show it again.
    second = await startRig('http-gen', { AUTODIALER_API_TOKEN: '' }, { prefix });
    expect(second.logs()).not.toContain(token);
    expect(second.logs()).toContain('the one this deployment made at its first start');
    expect((await call(second, 'GET', '/campaigns', bearer(token))).status).toBe(200);
  });
});

describe('callbacks without a secret', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('http-nosecret', { AUTODIALER_CALLBACK_SECRET: '' });
  });
  afterAll(async () => rig?.close());

  it('are refused, so that a forged CDR for a guessable attempt id changes nothing', async () => {
    const { attempts } = await campaignWithAttempts(rig.c, SIPCALL_DEF, 1);
    const a = attempts[0]!;
    const before = await rig.c.callbackLog.counters(null);
    const forged = { ...sipcallCdr({ customuuid: a.id, uuid: 'u-forged', destnumber: numberOf(a.idx), outcome: 'answered' }), billsec: 42 };
    const res = await rig.post('/callbacks/sipcall/cdr', JSON.stringify(forged), { key: null });
    expect(res.status).toBe(401);
    expect(String(res.json.error)).toMatch(/AUTODIALER_CALLBACK_SECRET.*AUTODIALER_CALLBACK_AUTH=none/);
    const after = await rig.c.callbackLog.counters(null);
    expect(after.unauthorized - before.unauthorized).toBe(1);
    expect(after.received - before.received).toBe(0);
    expect((await rig.c.attempts.get(a.id))?.state).toBe('accepted');
    expect(rig.logs()).toContain('every callback is refused');
  });

  it('are taken without a key only when AUTODIALER_CALLBACK_AUTH=none says so', async () => {
    const open = await startRig('http-cbnone', { AUTODIALER_CALLBACK_SECRET: '', AUTODIALER_CALLBACK_AUTH: 'none' });
    try {
      const res = await open.post('/callbacks/pbx/cdr', JSON.stringify({ originated_call_id: 'orig.x', disposition: 'BUSY', calldate: '2026-01-05 10:20:54', duration: 3, billsec: 0 }), { key: null });
      expect(res.status).toBe(200);
    } finally {
      await open.close();
    }
    let problems: string[] = [];
    try {
      loadConfig({ AUTODIALER_CALLBACK_AUTH: 'none', AUTODIALER_CALLBACK_SECRET: 'a-secret-of-16-characters' }, null);
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual(['AUTODIALER_CALLBACK_AUTH: none takes callbacks without a key, but AUTODIALER_CALLBACK_SECRET is set: remove one of them']);
    expect(() => loadConfig({ AUTODIALER_CALLBACK_AUTH: 'open' }, null)).toThrow(/AUTODIALER_CALLBACK_AUTH must be 'key' or 'none'/);
    expect(() => loadConfig({ AUTODIALER_API_TOKEN: `${NEW},short` }, null)).toThrow(/AUTODIALER_API_TOKEN: token 2 must be at least 16 characters, got 5/);
  });
});

describe('cross-site requests and headers', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig('http-xsite', { AUTODIALER_API_TOKEN: NEW });
  });
  afterAll(async () => rig?.close());

  it('refuses a write from a page of another site, even with the token, and lets the same origin and non-browsers through', async () => {
    const form = multipartBody([
      { name: 'definition', value: playvoiceDefinition() },
      { name: 'file', filename: 'list.csv', content: 'phone\n13900000001' },
    ]);
    const create = (headers: Record<string, string>) =>
      request(`${rig.url}/campaigns`, { method: 'POST', body: form.body, headers: { 'content-type': form.contentType, ...bearer(NEW), ...headers } });
    const foreign: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: `${rig.url}.evil.example` }];
    for (const headers of foreign) {
      const res = await create(headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect(await res.body.json()).toMatchObject({ error: { code: 'cross_site_request' } });
    }
    for (const [method, path] of [['POST', '/campaigns/abcdefgh/pause'], ['DELETE', '/campaigns/abcdefgh']] as const) {
      expect((await call(rig, method, path, { ...bearer(NEW), origin: 'https://evil.example' })).status).toBe(403);
      expect((await call(rig, method, path, { ...bearer(NEW), origin: rig.url, 'sec-fetch-site': 'same-origin' })).status).toBe(404);
    }
    expect(await rig.c.campaigns.list()).toEqual([]);
    // Reading is not writing; and a program (no Origin) may create.
    expect((await call(rig, 'GET', '/campaigns', { ...bearer(NEW), origin: 'https://evil.example' })).status).toBe(200);
    const made = await create({});
    expect(made.statusCode).toBe(201);
    expect(made.headers['set-cookie']).toBeUndefined();
  });

  it('sends security headers: the page a strict policy, answers no sniffing and no caching', async () => {
    const page = await call(rig, 'GET', '/');
    const csp = String(page.headers['content-security-policy']);
    for (const rule of ["default-src 'none'", "frame-ancestors 'none'", "connect-src 'self'", "base-uri 'none'", "form-action 'self'"]) expect(csp).toContain(rule);
    expect(page.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'cross-origin-opener-policy': 'same-origin' });
    const api = await call(rig, 'GET', '/campaigns', bearer(NEW));
    expect(api.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
    expect(api.headers['content-security-policy']).toBeUndefined();
  });
});
