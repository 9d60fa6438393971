/**
 * Request limits: a body that comes too slowly is cut off (a byte a second
 * never holds a connection), a callback or JSON body must arrive whole in
 * time while an upload may take as long as it keeps coming, headers have a
 * deadline, bodies a size. The real server on a port, raw sockets as clients.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { DEFAULT_HTTP_LIMITS } from '../../src/http/limits.js';
import { AUTH, SECRET, startRig, type Rig } from '../callbacks/support.js';
import { multipartBody, playvoiceDefinition } from '../upload/form.js';
import { postHead, slowClient } from './slow-client.js';

const LIMITS = { bodyWindowMs: 1000, minBodyBytes: 256, smallBodyTimeoutMs: 2500, headersTimeoutMs: 1000 };

describe('request limits', () => {
  let rig: Rig;
  let port: number;
  beforeAll(async () => {
    rig = await startRig('http-limits', { AUTODIALER_UPLOAD_MAX_MB: '1' }, { limits: LIMITS });
    port = Number(new URL(rig.url).port);
  });
  afterAll(async () => {
    if (process.env.DUMP_LOGS) console.log(rig.logs().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).join('\n'));
    await rig?.close();
  });

  /** The reasons the server gave for the connections it cut, in order. */
  const cuts = () =>
    rig
      .logs()
      .split('\n')
      .filter((l) => l.includes('request body too slow'))
      .map((l) => (JSON.parse(l) as { why: string; route: string }));

  it('sets every timeout the server has (none is left at "never")', () => {
    const server = rig.app.server;
    expect(server.headersTimeout).toBe(1000);
    expect(server.requestTimeout).toBe(DEFAULT_HTTP_LIMITS.requestTimeoutMs);
    expect(server.timeout).toBe(DEFAULT_HTTP_LIMITS.idleTimeoutMs);
    expect(server.requestTimeout).toBeGreaterThan(0);
    expect(DEFAULT_HTTP_LIMITS).toMatchObject({ headersTimeoutMs: 10_000, bodyWindowMs: 10_000, smallBodyTimeoutMs: 10_000, bodyLimit: 64 * 1024 });
  });

  it('cuts off a callback body sent a byte a second, and stores nothing of it', async () => {
    const stored = await rig.c.callbackLog.length();
    const slow = slowClient(port, postHead(`/callbacks/sipcall/cdr?key=${SECRET}`, 1000), { bytes: '{', everyMs: 1000 });
    const end = await slow.closed;
    expect(end.answer).toBe('');
    expect(slow.sent()).toBeLessThan(10);
    expect(cuts().at(-1)).toMatchObject({ route: '/callbacks/sipcall/cdr', why: 'the body came at fewer than 256 bytes in 1000 ms' });
    expect(await rig.c.callbackLog.length()).toBe(stored);
    expect((await request(`${rig.url}/healthz`)).statusCode).toBe(200);
  });

  it('cuts off a callback body that keeps coming but not whole in time', async () => {
    const slow = slowClient(port, postHead(`/callbacks/sipcall/cdr?key=${SECRET}`, 64_000), { bytes: ' '.repeat(400), everyMs: 100 });
    await slow.closed;
    expect(cuts().at(-1)).toMatchObject({ route: '/callbacks/sipcall/cdr', why: 'the body did not arrive within 2500 ms' });
  });

  it('cuts off an upload sent a byte a second, with the token and all', async () => {
    const slow = slowClient(port, postHead('/campaigns', 100_000, 'multipart/form-data; boundary=xyz', AUTH), { bytes: '-', everyMs: 1000 });
    await slow.closed;
    expect(cuts().at(-1)).toMatchObject({ route: '/campaigns', why: 'the body came at fewer than 256 bytes in 1000 ms' });
    expect(await rig.c.campaigns.list()).toEqual([]);
  });

  it('lets an upload take longer than a callback may, as long as it keeps coming', async () => {
    const rows = Array.from({ length: 6000 }, (_, i) => `1390${String(i).padStart(7, '0')}`);
    const form = multipartBody([
      { name: 'definition', value: playvoiceDefinition() },
      { name: 'numberFormat', value: 'as_written' },
      { name: 'file', filename: 'list.csv', content: ['phone', ...rows].join('\n') },
    ]);
    const before = cuts().length;
    // About 72 KB in pieces of 2 KB every 100 ms: some 3.6 s, past the 2.5 s a callback body may take.
    const pieces: Buffer[] = [];
    for (let at = 0; at < form.body.length; at += 2048) pieces.push(form.body.subarray(at, at + 2048));
    const started = Date.now();
    const res = await request(`${rig.url}/campaigns`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': form.contentType, 'content-length': String(form.body.length) },
      body: Readable.from(
        (async function* () {
          for (const p of pieces) {
            yield p;
            await new Promise((r) => setTimeout(r, 100));
          }
        })(),
      ),
    });
    const answer = (await res.body.json()) as { id: string; import: { added: number } };
    expect(res.statusCode).toBe(201);
    expect(answer.import.added).toBe(6000);
    expect(Date.now() - started).toBeGreaterThan(LIMITS.smallBodyTimeoutMs);
    expect(cuts().length).toBe(before);
  });

  it('closes a connection whose headers do not arrive in time (408)', async () => {
    const slow = slowClient(port, `POST /callbacks/sipcall/cdr?key=${SECRET} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `, { bytes: 'a', everyMs: 200 });
    const end = await slow.closed;
    expect(end.answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('refuses bodies over their limits: 64 KiB for callbacks and JSON, AUTODIALER_UPLOAD_MAX_MB for a list', async () => {
    expect((await rig.post('/callbacks/sipcall/cdr', `{"pad": "${'x'.repeat(70 * 1024)}"}`)).status).toBe(413);
    const pace = await request(`${rig.url}/campaigns/abcdefgh/pace`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ cps: 1, pad: 'x'.repeat(70 * 1024) }) });
    expect(pace.statusCode).toBe(413);
    await pace.body.dump();
    const big = multipartBody([
      { name: 'definition', value: playvoiceDefinition() },
      { name: 'file', filename: 'big.csv', content: `phone\n${'13900000001\n'.repeat(120_000)}` },
    ]);
    const res = await request(`${rig.url}/campaigns`, { method: 'POST', body: big.body, headers: { ...AUTH, 'content-type': big.contentType } });
    expect(res.statusCode).toBe(413);
    expect(((await res.body.json()) as { error: { message: string } }).error.message).toMatch(/larger than the 1 MiB an upload may hold/);
  });
});
