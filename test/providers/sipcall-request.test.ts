/**
 * What the sipcall adapter puts on the wire, read back from the raw bytes the
 * server received, against the seeds' request examples.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Response } from 'undici';
import { createSipcallAdapter } from '../../src/providers/sipcall/adapter.js';
import type { SipcallConfig } from '../../src/config.js';
import type { Action } from '../../src/domain/types.js';
import type { DialRequest, ProviderAdapter } from '../../src/providers/types.js';
import { seedRecord, seedText, TOKEN } from './support/fixtures.js';
import { parseMultipart } from './support/multipart-parser.js';
import { reply, startScriptedServer, type ScriptedServer } from './support/server.js';

const OPS = [
  { action: 'playvoice', seed: 'sipcall-request-playvoice.json', contact: 'destnumber' },
  { action: 'makecall', seed: 'sipcall-request-makecall.json', contact: 'destnumber' },
  { action: 'doublecall', seed: 'sipcall-request-doublecall.json', contact: 'bnumber' },
] as const satisfies readonly { action: Action; seed: string; contact: string }[];

/** The seed's PHP array as the wire sends it: every value as text, the configured token in place of the example's. */
function expectedFields(seed: Record<string, unknown>): [string, string][] {
  return Object.entries(seed).map(([k, v]) => [k, k === 'token' ? TOKEN : String(v)]);
}

/** A dial request that should reproduce the seed's fields. */
function requestFromSeed(action: Action, seed: Record<string, unknown>, contact: string): DialRequest {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(seed)) {
    if (k !== 'service' && k !== 'token' && k !== contact && k !== 'customuuid') params[k] = String(v);
  }
  // Campaign params arrive in no particular order: the wire order must still be the seed's.
  const shuffled = Object.fromEntries(Object.entries(params).reverse());
  return { action, number: String(seed[contact]), attemptId: String(seed.customuuid), params: shuffled };
}

describe('sipcall request bytes', () => {
  let server: ScriptedServer;
  let adapters: ProviderAdapter[];
  const make = (over: Partial<SipcallConfig> = {}) => {
    const a = createSipcallAdapter({
      apiUrl: `${server.url}/openapi/V2.0.6/`,
      token: TOKEN,
      timezone: 'Asia/Shanghai',
      bodyEncoding: 'multipart',
      connectTimeoutMs: 5_000,
      responseTimeoutMs: 10_000,
      ...over,
    });
    adapters.push(a);
    return a;
  };
  const accept = () => reply({ status: 200, body: seedText('sipcall-response-makecall.json') });

  beforeEach(async () => {
    server = await startScriptedServer();
    adapters = [];
  });
  afterEach(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await server.close();
  });

  for (const op of OPS) {
    it(`${op.action}: multipart fields are the seed's, in the seed's order`, async () => {
      const seed = seedRecord(op.seed);
      server.script(accept());
      expect((await make().dial(requestFromSeed(op.action, seed, op.contact))).kind).toBe('accepted');

      expect(server.requests).toHaveLength(1);
      const req = server.requests[0]!;
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/openapi/V2.0.6/');
      expect(req.headers['content-length']).toBe(String(req.body.length));
      const parts = parseMultipart(req.body, req.headers['content-type']);
      expect(parts.map((p) => [p.name, p.value])).toEqual(expectedFields(seed));
      // Only a Content-Disposition line per part, as curl sends a PHP array.
      for (const p of parts) expect(p.headers).toEqual([`Content-Disposition: form-data; name="${p.name}"`]);

      // An independent parser reads the same fields.
      const form = await new Response(new Uint8Array(req.body), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      expect([...form.entries()].map(([k, v]) => [k, String(v)])).toEqual(expectedFields(seed));
    });

    it(`${op.action}: urlencoded fields are the seed's, in the seed's order`, async () => {
      const seed = seedRecord(op.seed);
      server.script(accept());
      expect((await make({ bodyEncoding: 'urlencoded' }).dial(requestFromSeed(op.action, seed, op.contact))).kind).toBe('accepted');
      const req = server.requests[0]!;
      expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect([...new URLSearchParams(req.body.toString('utf8')).entries()]).toEqual(expectedFields(seed));
    });
  }

  it('service names the operation and customuuid is always the attempt id', async () => {
    server.script(accept(), accept(), accept());
    const a = make();
    await a.dial({ action: 'makecall', number: '85781218893', attemptId: 'cmp1.17.2', params: { extnumber: '20280003', customuuid: 'spoofed' } });
    await a.dial({ action: 'doublecall', number: '85781218893', attemptId: 'cmp1.18.1', params: { extnumber: '20280003', anumber: '13800000000', bnumber: 'spoofed' } });
    await a.dial({
      action: 'playvoice',
      number: '85781218893',
      attemptId: 'cmp1.19.1',
      params: { voicetype: '1', voicefile: 'welcome.wav', chengshudu: '1', userid: '1@extGroup-1', destnumber: 'spoofed' },
    });
    const sent = server.requests.map((r) => Object.fromEntries(parseMultipart(r.body, r.headers['content-type']).map((p) => [p.name, p.value])));
    expect(sent.map((f) => f.service)).toEqual(['App.Sip_Call.MakeCall', 'App.Sip_Call.DoubleCall', 'App.Sip_Call.PlayVoice']);
    expect(sent.map((f) => f.customuuid)).toEqual(['cmp1.17.2', 'cmp1.18.1', 'cmp1.19.1']);
    expect(sent[0]!.destnumber).toBe('85781218893');
    expect(sent[1]!.bnumber).toBe('85781218893');
    expect(sent[1]!.anumber).toBe('13800000000');
    expect(sent[2]!.destnumber).toBe('85781218893');
    expect(sent.every((f) => f.token === TOKEN)).toBe(true);
  });

  it('sends only the fields the operation takes; an empty disnumber is sent empty', async () => {
    server.script(accept());
    await make().dial({ action: 'makecall', number: '100', attemptId: 'a.1.1', params: { extnumber: '8001', disnumber: '', name: 'Li Lei', city: '北京' } });
    const parts = parseMultipart(server.requests[0]!.body, server.requests[0]!.headers['content-type']);
    expect(parts.map((p) => p.name)).toEqual(['service', 'token', 'extnumber', 'destnumber', 'disnumber', 'customuuid']);
    expect(parts.find((p) => p.name === 'disnumber')!.value).toBe('');
  });

  it('carries UTF-8 values byte for byte in both encodings', async () => {
    const params = { extnumber: '8001', userid: '张三 & co=1', memberid: 'a+b%c' };
    server.script(accept(), accept());
    await make().dial({ action: 'makecall', number: '100', attemptId: 'a.1.1', params });
    await make({ bodyEncoding: 'urlencoded' }).dial({ action: 'makecall', number: '100', attemptId: 'a.1.2', params });
    const [mp, ue] = server.requests;
    const fromMultipart = Object.fromEntries(parseMultipart(mp!.body, mp!.headers['content-type']).map((p) => [p.name, p.value]));
    const fromUrlencoded = Object.fromEntries(new URLSearchParams(ue!.body.toString('utf8')));
    for (const fields of [fromMultipart, fromUrlencoded]) {
      expect(fields.userid).toBe('张三 & co=1');
      expect(fields.memberid).toBe('a+b%c');
    }
    expect(mp!.body.includes(Buffer.from('张三 & co=1', 'utf8'))).toBe(true);
  });

  it('draws a new boundary for every request', async () => {
    server.script(accept(), accept());
    const a = make();
    const req: DialRequest = { action: 'makecall', number: '100', attemptId: 'a.1.1', params: { extnumber: '8001' } };
    await a.dial(req);
    await a.dial(req);
    const [b1, b2] = server.requests.map((r) => r.headers['content-type']);
    expect(b1).toMatch(/^multipart\/form-data; boundary=\S+$/);
    expect(b1).not.toBe(b2);
  });

  it('refuses to send a request with a missing or malformed param, or an action it does not serve', async () => {
    const a = make();
    const missing = await a.dial({ action: 'playvoice', number: '100', attemptId: 'a.1.1', params: { voicetype: '2', chengshudu: '1', userid: '1@g' } });
    expect(missing).toMatchObject({ kind: 'rejected', httpStatus: null, tooFast: false });
    expect(missing.kind === 'rejected' && missing.reason).toContain('voicefile');
    const injected = await a.dial({ action: 'makecall', number: '100', attemptId: 'a.1.1', params: { extnumber: '8001\r\nX: y' } });
    expect(injected.kind).toBe('rejected');
    const wrongFamily = await a.dial({ action: 'originate', number: '100', attemptId: 'a.1.1', params: {} });
    expect(wrongFamily.kind).toBe('fatal');
    expect(server.requests).toHaveLength(0);
  });
});
