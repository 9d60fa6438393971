import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FormData } from 'undici';
import { request } from 'undici';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { doubleCall, makeCall, makeClient, playVoice, startReceiver, TOKEN } from './support.js';
import type { Receiver } from './support.js';

let sim: Simulator;
let receiver: Receiver;
const client = makeClient();

beforeAll(async () => {
  receiver = await startReceiver();
  sim = await startSimulator({ callbackUrl: receiver.url, callbackSecret: 'callback-secret-123', callbackDelayMs: 0 });
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

describe('sipcall requests', () => {
  it.each([
    ['PlayVoice', playVoice('13333333333'), 'Play command sent successfully'],
    ['MakeCall', makeCall('13333333334'), 'Call command sent successfully'],
    ['DoubleCall', doubleCall('13333333335'), 'The double call command is sent successfully'],
  ])('accepts %s with the seed response shape', async (_op, fields, desc) => {
    const r = await client.sipcall(sim, fields);
    expect(r.statusCode).toBe(200);
    expect(Object.keys(r.json)).toEqual(['ret', 'data', 'msg']);
    expect(r.json.ret).toBe(200);
    expect(r.json.msg).toBe('');
    const data = r.json.data as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(['status', 'desc', 'reqtime', 'rsptime']);
    expect(data.status).toBe(0);
    expect(data.desc).toBe(desc);
    expect(Number.isInteger(data.reqtime)).toBe(true);
    expect(data.rsptime).toBeGreaterThanOrEqual(data.reqtime as number);
  });

  it('accepts application/x-www-form-urlencoded and the /sipcall path', async () => {
    const a = await client.sipcall(sim, makeCall('13900000001'), 'urlencoded');
    const b = await client.sipcall(sim, makeCall('13900000002'), 'multipart', '/sipcall');
    expect([a.json.ret, b.json.ret]).toEqual([200, 200]);
    expect(sim.ledger().map((e) => [e.operation, e.number, e.answer])).toEqual([
      ['MakeCall', '13900000001', 'accepted'],
      ['MakeCall', '13900000002', 'accepted'],
    ]);
  });

  it("accepts a body encoded by undici's own FormData", async () => {
    const form = new FormData();
    for (const [k, v] of Object.entries(playVoice('13900000003', { customuuid: 'c-form' }))) form.append(k, v);
    const res = await request(sim.url, { method: 'POST', body: form, dispatcher: client.agent });
    const json = (await res.body.json()) as { ret: number };
    expect(json.ret).toBe(200);
    expect(sim.ledger()[0]?.customuuid).toBe('c-form');
  });

  it.each([
    ['service missing', { token: TOKEN }, 'Illegal request: missing required parameter service'],
    ['service unknown', { service: 'App.Sip_Call.Hangup', token: TOKEN }, 'Illegal request: service App.Sip_Call.Hangup does not exist'],
    ['token missing', { service: 'App.Sip_Call.MakeCall', extnumber: '1001', destnumber: '13800000000' }, 'Illegal request: missing required parameter token'],
    ['PlayVoice destnumber', { ...playVoice(''), destnumber: '' }, 'Illegal request: missing required parameter destnumber'],
    ['PlayVoice voicefile', (({ voicefile: _v, ...f }) => f)(playVoice('13800000000')), 'Illegal request: missing required parameter voicefile'],
    ['PlayVoice chengshudu', (({ chengshudu: _c, ...f }) => f)(playVoice('13800000000')), 'Illegal request: missing required parameter chengshudu'],
    ['PlayVoice userid', (({ userid: _u, ...f }) => f)(playVoice('13800000000')), 'Illegal request: missing required parameter userid'],
    ['PlayVoice voicetype', playVoice('13800000000', { voicetype: '3' }), 'Illegal request: voicetype should be 1 or 2, but voicetype = 3'],
    ['MakeCall extnumber', (({ extnumber: _e, ...f }) => f)(makeCall('13800000000')), 'Illegal request: missing required parameter extnumber'],
    ['DoubleCall anumber', (({ anumber: _a, ...f }) => f)(doubleCall('13800000000')), 'Illegal request: missing required parameter anumber'],
    ['DoubleCall bnumber', doubleCall(''), 'Illegal request: missing required parameter bnumber'],
    ['a number that is not digits', makeCall('call-me'), 'Illegal request: destnumber should be a phone number (digits), but destnumber = call-me'],
  ])('rejects a request with %s', async (_name, fields, msg) => {
    const r = await client.sipcall(sim, fields as Record<string, string>);
    expect(r.statusCode).toBe(200);
    expect(r.json.ret).toBe(400);
    expect(r.json.data).toEqual({});
    expect(String(r.json.msg).startsWith(msg)).toBe(true);
    const entry = sim.ledger()[0];
    expect(entry?.answer).toBe('rejected');
    expect(entry?.placed).toBe(false);
    expect(sim.stats().callsPlaced).toBe(0);
  });

  it('rejects a malformed multipart body and an unsupported content type', async () => {
    const bad = await client.send(sim.url, 'POST', '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nv', {
      'content-type': 'multipart/form-data; boundary=b',
    });
    const json = await client.send(sim.url, 'POST', JSON.stringify(makeCall('13800000000')), { 'content-type': 'application/json' });
    expect(bad.json).toEqual({ ret: 400, data: {}, msg: 'Illegal request: multipart part 1: no closing boundary' });
    expect(json.json.ret).toBe(400);
    expect(String(json.json.msg)).toMatch(/unsupported Content-Type application\/json/);
  });

  it('answers a wrong token with ret 401 and places no call', async () => {
    const r = await client.sipcall(sim, makeCall('13800000000', { token: 'X'.repeat(32) }));
    const short = await client.sipcall(sim, makeCall('13800000000', { token: 'ABCDEFG' }));
    expect(r.statusCode).toBe(200);
    expect(r.json).toEqual({ ret: 401, data: {}, msg: 'token invalid' });
    expect(short.json).toEqual({ ret: 401, data: {}, msg: 'token invalid' });
    expect(sim.ledger().map((e) => [e.answer, e.placed, e.reason])).toEqual([
      ['rejected', false, 'token invalid'],
      ['rejected', false, 'token invalid'],
    ]);
  });
});

describe('sipcall callbacks', () => {
  it('posts ring, answer, hangup and the CDR of an answered call, tied by uuid and customuuid', async () => {
    sim.setScript('13800138000', ['answered:1:42']);
    const r = await client.sipcall(sim, playVoice('13800138000', { customuuid: 'cmp1.c7.a1', memberid: 'm9' }));
    expect(r.json.ret).toBe(200);
    await sim.whenIdle();

    const status = receiver.on('/callbacks/sipcall/status');
    const cdrs = receiver.on('/callbacks/sipcall/cdr');
    expect(status.map((s) => s.body.status)).toEqual(['ring', 'answer', 'hangup']);
    expect(cdrs).toHaveLength(1);
    expect(receiver.received.map((x) => x.path)).toEqual([
      '/callbacks/sipcall/status',
      '/callbacks/sipcall/status',
      '/callbacks/sipcall/status',
      '/callbacks/sipcall/cdr',
    ]);
    for (const x of receiver.received) expect(x.query.get('key')).toBe('callback-secret-123');

    const ring = status[0]?.body ?? {};
    expect(Object.keys(ring)).toEqual([
      'buuid', 'callee', 'caller', 'companycode', 'direction', 'disnumber', 'extnumber', 'isbleg', 'method', 'starttime', 'status', 'uuid', 'ip',
    ]);
    expect(ring).toMatchObject({ callee: '13800138000', direction: 'callout', isbleg: 'true', method: '3', companycode: '2028' });
    expect(ring.starttime).toMatch(/^\d{10}$/);
    for (const v of Object.values(ring)) expect(typeof v).toBe('string');

    const cdr = cdrs[0]?.body ?? {};
    expect(Object.keys(cdr)).toEqual([
      'answertime', 'hangupcause', 'duration', 'id', 'extnumber', 'uuid', 'downloadip', 'customuuid', 'chengshudu', 'callmethod',
      'recordfilename', 'companycode', 'memberid', 'hangupdirection', 'billsec', 'endtime', 'starttime', 'type', 'disnumber', 'crmid',
      'userkey', 'destnumber',
    ]);
    const uuid = sim.ledger()[0]?.callUuid;
    expect(uuid).toBeTruthy();
    for (const s of status) expect(s.body.uuid).toBe(uuid);
    expect(cdr).toMatchObject({
      uuid,
      customuuid: 'cmp1.c7.a1',
      memberid: 'm9',
      chengshudu: '1',
      hangupcause: 16,
      billsec: 42,
      userkey: '1',
      destnumber: '13800138000',
      type: 'callout',
      callmethod: 6,
    });
    expect([10040, 10041]).toContain(cdr.hangupdirection);
    expect(cdr.answertime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(cdr.starttime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const [start, answer, end] = [cdr.starttime, cdr.answertime, cdr.endtime].map(String);
    expect([start, answer, end]).toEqual([start, answer, end].sort());
    expect(new Set([start, answer, end]).size).toBe(3);
  });

  it.each([
    ['no_answer', 19],
    ['busy', 17],
    ['failed', 34],
    ['unallocated', 1],
  ] as const)('reports %s with ring and hangup only, and hangupcause %i', async (outcome, cause) => {
    sim.setScript('13700000001', [outcome]);
    await client.sipcall(sim, makeCall('13700000001', { customuuid: `u-${outcome}` }));
    await sim.whenIdle();
    expect(receiver.on('/callbacks/sipcall/status').map((s) => s.body.status)).toEqual(['ring', 'hangup']);
    const cdr = receiver.on('/callbacks/sipcall/cdr')[0]?.body;
    expect(cdr).toMatchObject({ customuuid: `u-${outcome}`, hangupcause: cause, billsec: 0, answertime: '', recordfilename: '', userkey: '' });
  });

  it('reports DoubleCall with method 4 for the customer leg', async () => {
    sim.setScript('13700000002', ['answered']);
    await client.sipcall(sim, doubleCall('13700000002', { customuuid: 'dc-1' }));
    await sim.whenIdle();
    const status = receiver.on('/callbacks/sipcall/status');
    expect(status.map((s) => [s.body.method, s.body.callee, s.body.extnumber])).toEqual([
      ['4', '13700000002', '20280003'],
      ['4', '13700000002', '20280003'],
      ['4', '13700000002', '20280003'],
    ]);
    expect(receiver.on('/callbacks/sipcall/cdr')[0]?.body).toMatchObject({ destnumber: '13700000002', customuuid: 'dc-1', callmethod: 4 });
  });
});
