import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { makeClient, originate, PBX_AUTH, startReceiver } from './support.js';
import type { Receiver } from './support.js';

let sim: Simulator;
let receiver: Receiver;
const client = makeClient();

beforeAll(async () => {
  receiver = await startReceiver();
  sim = await startSimulator({ callbackUrl: receiver.url, callbackSecret: 'pbx-secret', callbackKeyIn: 'header', callbackDelayMs: 0 });
});

afterAll(async () => {
  await sim.close();
  await receiver.close();
  await client.close();
});

beforeEach(() => {
  sim.reset();
  receiver.received.length = 0;
});

describe('pbx originate', () => {
  it('accepts a call with the seed response shape and a unique originated_call_id', async () => {
    const a = await client.pbx(sim, originate('09121234567'));
    const b = await client.pbx(sim, originate('552', { trunk_name: '' }));
    for (const r of [a, b]) {
      expect(r.statusCode).toBe(200);
      expect(Object.keys(r.json)).toEqual(['success', 'message', 'data']);
      expect(r.json.success).toBe(1);
      expect(r.json.message).toBeNull();
      expect(String((r.json.data as { originated_call_id: string }).originated_call_id)).toMatch(/^orig\.call\.\d{10}\.\d{6}$/);
    }
    const ids = [a, b].map((r) => (r.json.data as { originated_call_id: string }).originated_call_id);
    expect(new Set(ids).size).toBe(2);
    expect(sim.ledger().map((e) => e.originatedCallId)).toEqual(ids);
  });

  it.each([
    ['caller', { caller: undefined }, 'caller is required'],
    ['callee', { callee: '' }, 'callee is required'],
    ['context', { context: undefined }, 'context is required'],
    ['caller_id', { caller_id: undefined }, 'caller_id is required'],
    ['a number where a string is due', { caller: 557 }, 'caller must be a string'],
    ['a numeric timeout', { timeout: 30 }, 'timeout must be a string'],
    ['a timeout that is not seconds', { timeout: 'soon' }, 'timeout must be a whole number of seconds between 1 and 3600'],
    ['a PSTN callee without trunk', { trunk_name: '' }, 'trunk_name is required when callee is a PSTN number'],
  ])('rejects a body with %s', async (_name, patch, message) => {
    const body = { ...originate('09121234567'), ...patch };
    const r = await client.pbx(sim, JSON.parse(JSON.stringify(body)));
    expect(r.statusCode).toBe(200);
    expect(r.json).toEqual({ success: 0, message, data: null });
    expect(sim.ledger()[0]).toMatchObject({ answer: 'rejected', placed: false, reason: message });
  });

  it('rejects a body that is not JSON', async () => {
    const r = await client.send(`${sim.url}/api/v4/call/originate/act`, 'PUT', '{"caller":', { ...PBX_AUTH, 'content-type': 'application/json' });
    expect(r.statusCode).toBe(400);
    expect(r.json.success).toBe(0);
    expect(String(r.json.message)).toMatch(/^request body must be JSON/);
  });

  it.each([
    ['a wrong X-APIKEY', { ...PBX_AUTH, 'x-apikey': 'nope' }],
    ['no X-APIKEY', { authorization: PBX_AUTH.authorization }],
    ['a wrong password', { ...PBX_AUTH, authorization: `Basic ${Buffer.from('sim:wrong').toString('base64')}` }],
    ['a wrong user', { ...PBX_AUTH, authorization: `Basic ${Buffer.from('other:sim-password').toString('base64')}` }],
    ['no Basic auth', { 'x-apikey': PBX_AUTH['x-apikey'] }],
    ['a Bearer token', { ...PBX_AUTH, authorization: 'Bearer abc' }],
  ])('answers %s with HTTP 401', async (_name, headers) => {
    const r = await client.pbx(sim, originate('552'), headers);
    expect(r.statusCode).toBe(401);
    expect(r.json).toEqual({ success: 0, message: 'unauthorized', data: null });
    expect(sim.stats().callsPlaced).toBe(0);
  });

  it('refuses other methods on the originate path', async () => {
    const r = await client.send(`${sim.url}/api/v4/call/originate/act`, 'POST', '{}', PBX_AUTH);
    expect(r.statusCode).toBe(405);
  });
});

describe('pbx CDR', () => {
  it('posts an Asterisk CDR carrying the originated_call_id, authenticated by header', async () => {
    sim.setScript('09121230000', ['answered::25']);
    const r = await client.pbx(sim, originate('09121230000'));
    const id = (r.json.data as { originated_call_id: string }).originated_call_id;
    await sim.whenIdle();
    const cdrs = receiver.on('/callbacks/pbx/cdr');
    expect(cdrs).toHaveLength(1);
    expect(cdrs[0]?.headers['x-callback-key']).toBe('pbx-secret');
    expect(cdrs[0]?.query.has('key')).toBe(false);
    const cdr = cdrs[0]?.body ?? {};
    expect(cdr).toMatchObject({
      originated_call_id: id,
      src: '557',
      dst: '09121230000',
      dcontext: 'main_routing',
      clid: '"557" <557>',
      lastapp: 'Dial',
      lastdata: 'PJSIP/09121230000@cisco,30',
      disposition: 'ANSWERED',
      billsec: 25,
    });
    expect(cdr.uniqueid).toBe(id.slice('orig.call.'.length));
    expect(cdr.calldate).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(cdr.duration as number).toBeGreaterThan(25);
    expect(receiver.received).toHaveLength(1);
  });

  it.each([
    ['no_answer', 'NO ANSWER'],
    ['busy', 'BUSY'],
    ['failed', 'FAILED'],
  ])('maps %s to disposition %s', async (outcome, disposition) => {
    sim.setScript('09120000001', [outcome]);
    await client.pbx(sim, originate('09120000001'));
    await sim.whenIdle();
    expect(receiver.on('/callbacks/pbx/cdr').map((c) => [c.body.disposition, c.body.billsec])).toEqual([[disposition, 0]]);
  });

  it('sends no CDR at all when the first party does not answer', async () => {
    sim.setScript('09120000002', ['agent_no_answer']);
    sim.setScript('09120000003', ['answered']);
    const first = await client.pbx(sim, originate('09120000002'));
    const second = await client.pbx(sim, originate('09120000003'));
    expect([first.json.success, second.json.success]).toEqual([1, 1]);
    await sim.whenIdle();
    const secondId = (second.json.data as { originated_call_id: string }).originated_call_id;
    expect(receiver.received.map((c) => c.body.originated_call_id)).toEqual([secondId]);
    expect(sim.ledger()[0]).toMatchObject({ placed: true, outcome: 'agent_no_answer', result: { cdrs: 0 } });
  });
});
