/**
 * What the PBX adapter puts on the wire, against the seed's originate example.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PbxConfig } from '../../src/config.js';
import { basicAuth, createPbxAdapter } from '../../src/providers/pbx/adapter.js';
import type { DialRequest, ProviderAdapter } from '../../src/providers/types.js';
import { seedRecord, seedText } from './support/fixtures.js';
import { reply, startScriptedServer, type ScriptedServer } from './support/server.js';

/** The seed's credentials: its Authorization header is Basic base64("test:Aa123456"). */
const SEED_KEY = 'vZKtIKWsld0egNlkzHo8i5LVBqLNBSWARCQsPOSgDjFmAHM3tG';
const SEED_AUTHORIZATION = 'Basic dGVzdDpBYTEyMzQ1Ng==';

describe('pbx originate request bytes', () => {
  let server: ScriptedServer;
  let adapters: ProviderAdapter[];
  const make = (over: Partial<PbxConfig> = {}) => {
    const a = createPbxAdapter({
      baseUrl: server.url,
      apiKey: SEED_KEY,
      username: 'test',
      password: 'Aa123456',
      timezone: 'Asia/Tehran',
      callIdField: 'originated_call_id',
      connectTimeoutMs: 5_000,
      responseTimeoutMs: 10_000,
      ...over,
    });
    adapters.push(a);
    return a;
  };
  const accept = () => reply({ status: 200, body: seedText('pbx-originate-response.json') });
  const seedRequest = (): DialRequest => {
    const seed = seedRecord('pbx-originate-request.json');
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(seed)) if (k !== 'callee') params[k] = String(v);
    return { action: 'originate', number: String(seed.callee), attemptId: 'cmp1.42.1', params: Object.fromEntries(Object.entries(params).reverse()) };
  };

  beforeEach(async () => {
    server = await startScriptedServer();
    adapters = [];
  });
  afterEach(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await server.close();
  });

  it("PUTs the seed's JSON body to /api/v4/call/originate/act with the seed's headers", async () => {
    server.script(accept());
    const outcome = await make().dial(seedRequest());
    expect(outcome).toEqual({ kind: 'accepted', providerCallId: 'orig.call.1703145054.787335', detail: 'originated' });

    const req = server.requests[0]!;
    expect(req.method).toBe('PUT');
    expect(req.url).toBe('/api/v4/call/originate/act');
    expect(req.headers['x-apikey']).toBe(SEED_KEY);
    expect(req.headers.authorization).toBe(SEED_AUTHORIZATION);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.rawHeaderNames).toContain('X-APIKEY');

    const seed = seedRecord('pbx-originate-request.json');
    const body: unknown = JSON.parse(req.body.toString('utf8'));
    expect(body).toEqual(seed);
    expect(Object.keys(body as object)).toEqual(Object.keys(seed));
    expect(Object.values(body as object).every((v) => typeof v === 'string')).toBe(true);
    expect(req.body.toString('utf8')).toBe(JSON.stringify(seed));
  });

  it('Basic credentials are base64 of user:password in UTF-8', () => {
    expect(basicAuth('test', 'Aa123456')).toBe(SEED_AUTHORIZATION);
    expect(Buffer.from(basicAuth('مدیر', 'p:ss').slice(6), 'base64').toString('utf8')).toBe('مدیر:p:ss');
  });

  it('joins the path to a base URL with a trailing slash or a path prefix', async () => {
    server.script(accept(), accept());
    await make({ baseUrl: `${server.url}/` }).dial(seedRequest());
    await make({ baseUrl: `${server.url}/pbx/` }).dial(seedRequest());
    expect(server.requests.map((r) => r.url)).toEqual(['/api/v4/call/originate/act', '/pbx/api/v4/call/originate/act']);
  });

  it('leaves out trunk_name and timeout when not given, sends an empty trunk_name as given', async () => {
    server.script(accept(), accept());
    const a = make();
    await a.dial({ action: 'originate', number: '09120000000', attemptId: 'c.1.1', params: { caller: '557', context: 'main_routing', caller_id: '557' } });
    await a.dial({ action: 'originate', number: '552', attemptId: 'c.1.2', params: { caller: '557', context: 'main_routing', caller_id: '557', trunk_name: '', timeout: '45' } });
    const [first, second] = server.requests.map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>);
    expect(first).toEqual({ caller: '557', callee: '09120000000', context: 'main_routing', caller_id: '557' });
    expect(second).toEqual({ caller: '557', callee: '552', context: 'main_routing', caller_id: '557', trunk_name: '', timeout: '45' });
  });

  it('the callee is always the contact number; other params are not sent', async () => {
    server.script(accept());
    await make().dial({ ...seedRequest(), number: '09121111111', params: { ...seedRequest().params, callee: '999', name: 'x' } });
    const body = JSON.parse(server.requests[0]!.body.toString('utf8')) as Record<string, unknown>;
    expect(body.callee).toBe('09121111111');
    expect(body).not.toHaveProperty('name');
  });

  it('refuses to send a request with a missing or malformed param, or an action it does not serve', async () => {
    const a = make();
    const missing = await a.dial({ action: 'originate', number: '552', attemptId: 'c.1.1', params: { caller: '557', caller_id: '557' } });
    expect(missing.kind === 'rejected' && missing.reason).toContain('originate needs --param context=');
    expect((await a.dial({ ...seedRequest(), params: { ...seedRequest().params, timeout: 'soon' } })).kind).toBe('rejected');
    expect((await a.dial({ ...seedRequest(), action: 'makecall' })).kind).toBe('fatal');
    expect(server.requests).toHaveLength(0);
  });
});
