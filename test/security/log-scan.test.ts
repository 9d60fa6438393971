/**
 * What the logs of a whole run hold, at the most detailed level: no secret
 * (callback secret, API token, sipcall token, pbx key, password or Basic
 * credentials) and no full phone number, in any form (as written, national,
 * E.164), after a run that goes through the paths that log the most: an
 * upload with invalid and duplicate rows, sipcall and pbx campaigns against
 * a provider that resets, times out, refuses and answers 5xx and 429,
 * callbacks with a wrong key, malformed callbacks, orphans, a wrong API
 * token, and Redis that stops answering while a callback waits on it.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { routedAdapter, startFaultRig, type FaultRig } from '../faults/support.js';
import { multipartBody } from '../upload/form.js';
import { csvSource } from '../support/harness.js';

const SECRETS = {
  callbackSecret: 'cb-secret-Vq3xT9wLm2Rk8sZp',
  apiToken: 'api-token-Hn4yB7cQe1Ju6Wd0',
  sipcallToken: 'SiPcAlLtOkEn0123456789abcdefXYZW',
  pbxApiKey: 'pbx-key-Fg5hK2mN8pQ4rS7t',
  pbxPassword: 'pbx-pass-Lw3eR6tY9uI2oP5a',
};
const PBX_USER = 'pbxuser-Zx8cV1bN';
const basic = Buffer.from(`${PBX_USER}:${SECRETS.pbxPassword}`).toString('base64');

/** National CN mobile numbers; written in the list with separators. */
const sipcallNumbers = Array.from({ length: 24 }, (_, i) => `1381234${String(i).padStart(4, '0')}`);
const pbxNumbers = Array.from({ length: 6 }, (_, i) => `1391234${String(i).padStart(4, '0')}`);
const written = (n: string) => `${n.slice(0, 3)} ${n.slice(3, 7)}-${n.slice(7)}`;

/** Runs of digits with the separators a number may be written with taken out. */
const joinDigits = (text: string) => text.replace(/(\d)[ \-.()/]+(?=\d)/g, '$1');

describe('logs of a whole run', () => {
  let rig: FaultRig;
  const chunks: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    rig = await startFaultRig(
      'sec-logs',
      {
        LOG_LEVEL: 'trace',
        AUTODIALER_CALLBACK_SECRET: SECRETS.callbackSecret,
        AUTODIALER_API_TOKEN: SECRETS.apiToken,
        SIPCALL_TOKEN: SECRETS.sipcallToken,
        PBX_BASE_URL: 'http://127.0.0.1:1',
        PBX_API_KEY: SECRETS.pbxApiKey,
        PBX_USERNAME: PBX_USER,
        PBX_PASSWORD: SECRETS.pbxPassword,
        PBX_TIMEZONE: 'Asia/Tehran',
      },
      { logTo: sink },
    );
    rig.c.providers.set('sipcall', routedAdapter(new Map(), rig.adapter(rig.sim.url)));
    rig.c.providers.set('pbx', rig.pbxAdapter(rig.sim.url));
    rig.c.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });
    const faults = ['reset', 'timeout', 'error500', 'error429', 'reject', 'toofast', 'lost', 'busy', 'no_answer', 'failed'];
    faults.forEach((f, i) => rig.sim.setScript(sipcallNumbers[i]!, [f, 'answered']));
    rig.sim.setScript(pbxNumbers[0]!, ['error500', 'answered']);
    rig.sim.setScript(pbxNumbers[1]!, ['reset']);
  }, 60_000);

  afterAll(async () => rig?.close());

  const api = async (path: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}, token = SECRETS.apiToken) => {
    const res = await request(`${rig.serverUrl}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: { authorization: `Bearer ${token}`, ...init.headers }, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };
  const callback = async (path: string, body: string, key: string | null, how: 'query' | 'header' = 'query') => {
    const url = `${rig.serverUrl}${path}${key !== null && how === 'query' ? `?key=${encodeURIComponent(key)}` : ''}`;
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(key !== null && how === 'header' ? { 'x-callback-key': key } : {}) }, body });
    await res.body.dump();
    return res.statusCode;
  };

  it('holds no secret and no full phone number', async () => {
    const c = rig.c;
    // A sipcall campaign uploaded through the API: numbers with separators, an invalid row, a duplicate.
    const csv = ['name,phone', ...sipcallNumbers.map((n, i) => `c${i},${written(n)}`), 'bad,138 12', `dup,${sipcallNumbers[3]}`].join('\n');
    const form = multipartBody([
      {
        name: 'definition',
        value: JSON.stringify({
          action: 'playvoice',
          params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' },
          cps: 20,
          maxAttempts: 2,
          retryDelay: '1s',
          resultTimeout: '3s',
          retry: ['in_doubt=1s'],
          ingest: { region: 'CN', numberFormat: 'national' },
        }),
      },
      { name: 'file', filename: 'list.csv', content: csv },
    ]);
    const created = await api('/campaigns', { method: 'POST', body: form.body, headers: { 'content-type': form.contentType } });
    expect(created.status, created.text).toBe(201);
    const sipcallId = (JSON.parse(created.text) as { id: string }).id;
    const pbxDef = c.definition({
      action: 'originate',
      params: { caller: '557', context: 'main_routing', caller_id: '557', trunk_name: 'cisco', timeout: '30' },
      cps: 20,
      maxAttempts: 2,
      retryDelay: '1s',
      resultTimeout: '3s',
      ingest: { region: 'CN', numberFormat: 'e164' },
    });
    const { id: pbxId } = await c.createCampaign(pbxDef, csvSource(['phone', ...pbxNumbers].join('\n')), 'pbx.csv');

    // Callbacks that are refused, unreadable, or tied to nothing; an API call with a wrong token.
    expect(await callback('/callbacks/sipcall/cdr', JSON.stringify({ destnumber: sipcallNumbers[0], customuuid: 'x' }), 'wrong-key-0123456789abcdef')).toBe(401);
    expect(await callback('/callbacks/sipcall/cdr', JSON.stringify({ destnumber: sipcallNumbers[1] }), 'wrong-key-0123456789abcdef', 'header')).toBe(401);
    expect(await callback('/callbacks/sipcall/cdr', `{"destnumber":"${sipcallNumbers[2]}","billsec":"many"`, SECRETS.callbackSecret)).toBe(400);
    expect(await callback('/callbacks/pbx/cdr', JSON.stringify({ dst: pbxNumbers[2], disposition: 'ANSWERED', billsec: 'x' }), SECRETS.callbackSecret)).toBe(400);
    expect(
      await callback(
        '/callbacks/sipcall/status',
        JSON.stringify({ uuid: 'nope', callee: sipcallNumbers[4], caller: '2120280001', status: 'ring', buuid: 'b', companycode: '2028', direction: 'callout', disnumber: '2120280001', extnumber: '', isbleg: 'true', method: '3', starttime: '1767578400', ip: '127.0.0.1' }),
        SECRETS.callbackSecret,
      ),
    ).toBe(200);
    expect((await api('/campaigns', {}, 'wrong-token-0123456789abcdef')).status).toBe(401);

    const until = Date.now() + 120_000;
    for (const id of [sipcallId, pbxId]) {
      while ((await c.campaigns.get(id))?.state !== 'completed') {
        if (Date.now() > until) throw new Error(`campaign ${id} did not complete`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect((await api(`/campaigns/${sipcallId}/results?format=csv`)).status).toBe(200);
    expect((await api(`/campaigns/${sipcallId}/attempts?format=jsonl`)).status).toBe(200);
    expect((await api(`/campaigns/${sipcallId}/rejects`)).status).toBe(200);

    // Redis stops answering while a callback (its key in the query) waits on it: the server answers 503 once
    // its probe gives up; the callback's handler finishes when Redis answers again.
    rig.relay.stall();
    const cdr = JSON.stringify({ customuuid: `${sipcallId}-0-1`, destnumber: sipcallNumbers[0], uuid: 'u-stalled', billsec: 3, hangupcause: 16, answertime: '2026-01-05 10:00:00', starttime: '2026-01-05 09:59:50', endtime: '2026-01-05 10:00:03' });
    const stalled = callback('/callbacks/sipcall/cdr', cdr, SECRETS.callbackSecret);
    expect(await stalled).toBe(503);
    rig.relay.resume();
    await rig.c.receiver.idle();
    await new Promise((r) => setTimeout(r, 500));

    const text = chunks.join('');
    const lines = text.split('\n');
    // The run was logged in detail: a line for each dial at least.
    expect(lines.filter((l) => l.includes('"msg":"dialed"')).length).toBeGreaterThanOrEqual(sipcallNumbers.length + pbxNumbers.length);
    const found: string[] = [];
    const where = (needle: string, haystack: (l: string) => string) => lines.find((l) => haystack(l).includes(needle))?.slice(0, 300);
    for (const [name, secret] of Object.entries({ ...SECRETS, basicCredentials: basic })) {
      const line = where(secret, (l) => l);
      if (line) found.push(`${name}: ${line.replaceAll(secret, `<${name}>`)}`);
    }
    for (const n of [...sipcallNumbers, ...pbxNumbers]) {
      for (const form of [n, `86${n}`]) {
        const line = where(form, joinDigits);
        if (line) found.push(`number ${form}: ${line}`);
      }
    }
    expect(found).toEqual([]);
  }, 240_000);
});
