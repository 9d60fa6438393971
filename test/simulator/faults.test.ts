import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator, SimulatorOptions } from '../../src/simulator/index.js';
import { makeCall, makeClient, originate, playVoice, startReceiver } from './support.js';
import type { Receiver } from './support.js';

let receiver: Receiver;
const client = makeClient();
const sims: Simulator[] = [];

beforeAll(async () => {
  receiver = await startReceiver();
});

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
  receiver.received.length = 0;
  receiver.failNext(0);
});

afterAll(async () => {
  await receiver.close();
  await client.close();
});

async function sim(options: SimulatorOptions, clock?: { now(): number }): Promise<Simulator> {
  const s = await startSimulator(
    { callbackUrl: receiver.url, callbackDelayMs: 0, callbackRetryBaseMs: 1, mix: { answered: 1 }, ...options },
    clock ? { clock } : {},
  );
  sims.push(s);
  return s;
}

describe('scripted outcomes', () => {
  it('consumes one entry per attempt and repeats the last', async () => {
    const s = await sim({ script: { '13500000001': ['busy', 'no_answer', 'answered:2:7'] } });
    for (let i = 1; i <= 4; i++) await client.sipcall(s, playVoice('13500000001', { customuuid: `att-${i}` }));
    await s.whenIdle();
    expect(s.ledger().map((e) => [e.outcome, e.scripted])).toEqual([
      ['busy', true],
      ['no_answer', true],
      ['answered:2:7', true],
      ['answered:2:7', true],
    ]);
    const cdrs = receiver
      .on('/callbacks/sipcall/cdr')
      .map((c) => [c.body.customuuid, c.body.hangupcause, c.body.billsec, c.body.userkey])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(cdrs).toEqual([
      ['att-1', 17, 0, ''],
      ['att-2', 19, 0, ''],
      ['att-3', 16, 7, '2'],
      ['att-4', 16, 7, '2'],
    ]);
  });

  it('answers reject and toofast as well-formed refusals that place no call', async () => {
    const s = await sim({ script: { '13500000002': ['reject', 'toofast'], '552': ['reject', 'toofast'] } });
    const a = await client.sipcall(s, makeCall('13500000002'));
    const b = await client.sipcall(s, makeCall('13500000002'));
    const c = await client.pbx(s, originate('552'));
    const d = await client.pbx(s, originate('552'));
    expect(a.statusCode).toBe(200);
    expect(a.json.ret).toBe(200);
    expect((a.json.data as { status: number }).status).toBe(1);
    expect(b.json).toEqual({ ret: 429, data: {}, msg: 'Too many requests, please slow down' });
    expect(c.json).toEqual({ success: 0, message: 'originate failed: the channel is not available', data: null });
    expect(d.json.success).toBe(0);
    expect(String(d.json.message)).toMatch(/too many requests/);
    expect(s.ledger().map((e) => [e.answer, e.placed])).toEqual([
      ['rejected', false],
      ['rejected', false],
      ['rejected', false],
      ['rejected', false],
    ]);
    await s.whenIdle();
    expect(receiver.received).toHaveLength(0);
  });

  it('answers error500 and error429 with HTTP status codes', async () => {
    const s = await sim({ script: { '13500000003': ['error500', 'error429'] } });
    const a = await client.sipcall(s, makeCall('13500000003'));
    const b = await client.sipcall(s, makeCall('13500000003'));
    expect(a.statusCode).toBe(500);
    expect(b.statusCode).toBe(429);
    expect(b.headers['retry-after']).toBe('1');
    expect(s.ledger().map((e) => [e.answer, e.placed])).toEqual([
      ['error', false],
      ['429', false],
    ]);
  });
});

describe('fault knobs', () => {
  it('duplicateCdrRate sends the same CDR twice', async () => {
    const s = await sim({ duplicateCdrRate: 1 });
    await client.sipcall(s, makeCall('13600000001', { customuuid: 'dup-1' }));
    await client.pbx(s, originate('552'));
    await s.whenIdle();
    const cdrs = receiver.on('/callbacks/sipcall/cdr');
    expect(cdrs).toHaveLength(2);
    expect(cdrs[1]?.body).toEqual(cdrs[0]?.body);
    const pbx = receiver.on('/callbacks/pbx/cdr');
    expect(pbx).toHaveLength(2);
    expect(pbx[1]?.body).toEqual(pbx[0]?.body);
    expect(s.ledger().map((e) => e.result?.cdrs)).toEqual([2, 2]);
  });

  it('outOfOrderRate sends the CDR before the status callbacks', async () => {
    const s = await sim({ outOfOrderRate: 1 });
    await client.sipcall(s, makeCall('13600000002', { customuuid: 'ooo-1' }));
    await s.whenIdle();
    expect(receiver.received.map((r) => (r.path.endsWith('/cdr') ? 'cdr' : r.body.status))).toEqual(['cdr', 'ring', 'answer', 'hangup']);
  });

  it('lostCdrRate sends the status callbacks but never the CDR', async () => {
    const s = await sim({ lostCdrRate: 1 });
    await client.sipcall(s, makeCall('13600000003', { customuuid: 'lost-1' }));
    await client.pbx(s, originate('553', { trunk_name: '' }));
    await s.whenIdle();
    expect(receiver.received.map((r) => r.body.status)).toEqual(['ring', 'answer', 'hangup']);
    expect(s.ledger().map((e) => [e.placed, e.result?.cdrs])).toEqual([
      [true, 0],
      [true, 0],
    ]);
  });

  it('http5xxRate answers HTTP 500 and places nothing', async () => {
    const s = await sim({ http5xxRate: 1 });
    const a = await client.sipcall(s, makeCall('13600000004'));
    const b = await client.pbx(s, originate('552'));
    expect([a.statusCode, b.statusCode]).toEqual([500, 500]);
    expect(s.stats()).toMatchObject({ callsPlaced: 0, answers: { error: 2 } });
  });

  it('http429Rate answers HTTP 429 with Retry-After: 1', async () => {
    const s = await sim({ http429Rate: 1 });
    const a = await client.sipcall(s, makeCall('13600000005'));
    const b = await client.pbx(s, originate('552'));
    for (const r of [a, b]) {
      expect(r.statusCode).toBe(429);
      expect(r.headers['retry-after']).toBe('1');
    }
    expect(s.stats()).toMatchObject({ callsPlaced: 0, cpsViolations: 0, answers: { '429': 2 } });
  });

  it('slowResponseMs holds the answer back: the call is placed and reported before the response arrives', async () => {
    const s = await sim({ slowResponseMs: 1000, script: { '13600000006': ['busy'] }, timeScale: 0 });
    const order: string[] = [];
    const cdrSent = s.waitFor('callback:sent', (e) => e.kind === 'sipcall-cdr').then(() => order.push('cdr'));
    const response = client.sipcall(s, makeCall('13600000006', { customuuid: 'slow-1' })).then((r) => {
      order.push('response');
      return r;
    });
    const r = await response;
    await cdrSent;
    expect(r.json.ret).toBe(200);
    expect(order).toEqual(['cdr', 'response']);
    expect(s.ledger()[0]).toMatchObject({ answer: 'accepted', placed: true, delayMs: 1000 });
  });

  it('resetRate destroys the socket after reading the request, yet the call is placed', async () => {
    const s = await sim({ resetRate: 1 });
    const err = await client.sipcall(s, makeCall('13600000007', { customuuid: 'reset-1' })).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err).not.toBeNull();
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(err?.code);
    await s.whenIdle();
    expect(s.ledger()[0]).toMatchObject({ answer: 'reset', placed: true, httpStatus: null, outcome: 'reset' });
    expect(receiver.on('/callbacks/sipcall/cdr').map((c) => c.body.customuuid)).toEqual(['reset-1']);
  });

  it('a timeout never answers the request, yet the call is placed', async () => {
    const s = await sim({ script: { '13600000008': ['timeout'] } });
    const abort = new AbortController();
    const held = s.waitFor('request');
    const pending = request(s.url, {
      method: 'POST',
      body: new URLSearchParams(makeCall('13600000008', { customuuid: 'to-1' })).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      signal: abort.signal,
      dispatcher: client.agent,
    }).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    const entry = await held;
    await s.whenIdle();
    expect(receiver.on('/callbacks/sipcall/cdr').map((c) => c.body.customuuid)).toEqual(['to-1']);
    abort.abort();
    expect(await pending).toBe('AbortError');
    expect(entry).toMatchObject({ answer: 'timeout', placed: true, httpStatus: null });
  });

  it('timeoutRate holds requests until close, which releases them', async () => {
    const s = await sim({ timeoutRate: 1 });
    const held = s.waitFor('request');
    const pending = client.pbx(s, originate('552')).then(
      () => 'answered',
      (e: Error & { code?: string }) => e.code ?? e.name,
    );
    await held;
    await s.close();
    expect(['UND_ERR_SOCKET', 'ECONNRESET']).toContain(await pending);
  });
});

describe('cps cap', () => {
  it('refuses calls beyond the cap in any sliding second with 429 and counts them', async () => {
    let now = 1_700_000_000_000;
    const s = await sim({ cpsCap: 5 }, { now: () => now });
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => client.sipcall(s, makeCall(`1370000${String(i).padStart(4, '0')}`))));
    expect(burst.filter((r) => r.statusCode === 200)).toHaveLength(5);
    const refused = burst.filter((r) => r.statusCode === 429);
    expect(refused).toHaveLength(7);
    for (const r of refused) expect(r.headers['retry-after']).toBe('1');

    now += 999;
    const stillFull = await client.pbx(s, originate('552'));
    expect(stillFull.statusCode).toBe(429);
    now += 1;
    const freed = await Promise.all(Array.from({ length: 6 }, () => client.pbx(s, originate('552'))));
    expect(freed.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 429]);

    const stats = s.stats();
    expect(stats.cpsViolations).toBe(9);
    expect(stats.callsPlaced).toBe(10);
    expect(stats.maxPlacedInAnySecond).toBe(5);
    expect(stats.maxInAnySecond).toBe(13);
    expect(stats.answers['429']).toBe(9);
    expect(s.ledger().filter((e) => e.answer === '429').every((e) => e.reason === 'more than 5 calls in one second')).toBe(true);
  });
});

describe('callback delivery', () => {
  it('retries a failed callback post until it is delivered', async () => {
    const s = await sim({ script: { '13800000001': ['busy'] } });
    receiver.failNext(2);
    const sent = s.waitFor('callback:sent');
    await client.sipcall(s, makeCall('13800000001'));
    const first = await sent;
    await s.whenIdle();
    expect(first).toMatchObject({ kind: 'sipcall-status', attempts: 3 });
    expect(first.body.status).toBe('ring');
    expect(s.stats()).toMatchObject({ callbackRetries: 2, callbacksPosted: 3, callbacksFailed: 0 });
  });

  it('gives up after the retries and reports the failure', async () => {
    const s = await sim({ callbackRetries: 1, script: { '552': ['busy'] } });
    receiver.failNext(1_000);
    const failed = s.waitFor('callback:failed');
    await client.pbx(s, originate('552'));
    const f = await failed;
    await s.whenIdle();
    expect(f).toMatchObject({ kind: 'pbx-cdr', attempts: 2, error: 'HTTP 500', family: 'pbx' });
    expect(s.stats()).toMatchObject({ callbacksFailed: 1, callbacksPosted: 0 });
  });

  it('posts form-encoded callbacks and numbers as strings when asked', async () => {
    const s = await sim({ callbackEncoding: 'form', numbersAsStrings: 'always', script: { '13800000002': ['answered::12'] } });
    await client.sipcall(s, makeCall('13800000002', { customuuid: 'form-1' }));
    await s.whenIdle();
    const cdr = receiver.on('/callbacks/sipcall/cdr')[0];
    expect(cdr?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(cdr?.body).toMatchObject({ customuuid: 'form-1', billsec: '12', hangupcause: '16', answertime: expect.stringMatching(/ /) });
  });

  it('numbersAsStrings always sends JSON strings for the numeric CDR fields', async () => {
    const s = await sim({ numbersAsStrings: 'always' });
    await client.sipcall(s, makeCall('13800000003'));
    await s.whenIdle();
    const cdr = receiver.on('/callbacks/sipcall/cdr')[0]?.body ?? {};
    for (const f of ['hangupcause', 'duration', 'id', 'callmethod', 'companycode', 'hangupdirection', 'billsec']) {
      expect(typeof cdr[f]).toBe('string');
    }
  });

  it('reset cancels pending callbacks', async () => {
    const s = await sim({ callbackDelayMs: 60_000 });
    await client.sipcall(s, makeCall('13800000004'));
    expect(s.stats().callbacksPending).toBe(1);
    s.reset();
    await s.whenIdle();
    expect(s.stats().callbacksPending).toBe(0);
    expect(receiver.received).toHaveLength(0);
  });
});
