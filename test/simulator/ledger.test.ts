import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { LedgerEntry, Simulator, SimulatorOptions, SimulatorStats } from '../../src/simulator/index.js';
import { doubleCall, makeCall, makeClient, originate, playVoice, startReceiver, TOKEN } from './support.js';
import type { Receiver } from './support.js';

let receiver: Receiver;
let dir: string;
const client = makeClient();
const sims: Simulator[] = [];

beforeAll(async () => {
  receiver = await startReceiver();
  dir = await mkdtemp(join(tmpdir(), 'sim-ledger-'));
});

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
  receiver.received.length = 0;
});

afterAll(async () => {
  await receiver.close();
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

async function sim(options: SimulatorOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ callbackUrl: receiver.url, callbackDelayMs: 0, ...options });
  sims.push(s);
  return s;
}

describe('ledger and admin endpoints', () => {
  it('serves every request received at GET /_sim/ledger', async () => {
    const s = await sim({ script: { '13100000001': ['answered'], '552': ['busy'] } });
    await client.sipcall(s, playVoice('13100000001', { customuuid: 'L-1' }));
    await client.sipcall(s, makeCall('13100000002', { token: 'y'.repeat(32) }));
    const pbx = await client.pbx(s, originate('552', { trunk_name: '' }));
    const raw = await request(`${s.url}/_sim/ledger`, { dispatcher: client.agent });
    const ledger = (await raw.body.json()) as LedgerEntry[];
    expect(raw.statusCode).toBe(200);
    expect(raw.headers['x-ledger-truncated']).toBe('false');
    expect(ledger).toEqual(s.ledger());
    expect(ledger.map((e) => [e.seq, e.family, e.operation, e.number, e.customuuid, e.answer, e.placed, e.outcome])).toEqual([
      [1, 'sipcall', 'PlayVoice', '13100000001', 'L-1', 'accepted', true, 'answered'],
      [2, 'sipcall', 'MakeCall', null, null, 'rejected', false, null],
      [3, 'pbx', 'originate', '552', null, 'accepted', true, 'busy'],
    ]);
    expect(ledger[0]?.callUuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(ledger[2]?.originatedCallId).toBe((pbx.json.data as { originated_call_id: string }).originated_call_id);
    expect(ledger[1]?.reason).toBe('token invalid');
    expect(ledger.every((e) => Number.isInteger(e.at) && e.at > 0)).toBe(true);
  });

  it('serves counters at GET /_sim/stats and resets them at POST /_sim/reset', async () => {
    const s = await sim({ mix: { answered: 1 } });
    await client.sipcall(s, makeCall('13100000003'));
    await client.sipcall(s, doubleCall('13100000004'));
    await client.sipcall(s, { service: 'App.Sip_Call.Nope', token: TOKEN });
    await client.pbx(s, originate('552'));
    await s.whenIdle();
    const stats = (await client.send(`${s.url}/_sim/stats`, 'GET', undefined, {})).json as unknown as SimulatorStats;
    expect(stats).toMatchObject({
      requestsTotal: 4,
      requests: { PlayVoice: 0, MakeCall: 1, DoubleCall: 1, originate: 1, unknown: 1 },
      answers: { accepted: 3, rejected: 1 },
      callsPlaced: 3,
      callbacksPosted: 3 * 4 - 3,
      callbacksFailed: 0,
      callbacksPending: 0,
      ledgerSize: 4,
      ledgerTruncated: false,
    });
    const reset = await client.send(`${s.url}/_sim/reset`, 'POST', '', {});
    expect(reset.json).toEqual({ ok: true });
    expect(s.stats()).toMatchObject({ requestsTotal: 0, callsPlaced: 0, ledgerSize: 0, maxInAnySecond: 0 });
    expect(s.ledger()).toEqual([]);
  });

  it('sets scripts at POST /_sim/script and refuses a bad one naming the entry', async () => {
    const s = await sim();
    const ok = await client.send(`${s.url}/_sim/script`, 'POST', JSON.stringify({ '13100000005': ['no_answer', 'answered:3'] }), {
      'content-type': 'application/json',
    });
    expect(ok.json).toEqual({ ok: true, numbers: ['13100000005'] });
    const bad = await client.send(`${s.url}/_sim/script`, 'POST', JSON.stringify({ '13100000006': ['answered', 'hung'] }), {});
    expect(bad.statusCode).toBe(400);
    expect(String(bad.json.error)).toMatch(/13100000006\.1: unknown script entry "hung"/);
    await client.sipcall(s, playVoice('13100000005'));
    await client.sipcall(s, playVoice('13100000005'));
    expect(s.ledger().map((e) => e.outcome)).toEqual(['no_answer', 'answered:3']);
    expect(() => s.setScript('13100000007', ['later'])).toThrow(/entry 1: unknown outcome "later"/);
  });

  it('answers unknown routes with 404', async () => {
    const s = await sim();
    expect((await client.send(`${s.url}/nowhere`, 'GET', undefined, {})).statusCode).toBe(404);
    expect((await client.send(`${s.url}/_sim/nothing`, 'GET', undefined, {})).statusCode).toBe(404);
  });

  it('keeps the newest entries within ledgerLimit and flags the truncation', async () => {
    const s = await sim({ ledgerLimit: 3, callbackUrl: null });
    for (let i = 0; i < 5; i++) await client.sipcall(s, makeCall(`1310000010${i}`));
    expect(s.ledger().map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(s.stats()).toMatchObject({ requestsTotal: 5, callsPlaced: 5, ledgerSize: 3, ledgerDropped: 2, ledgerTruncated: true });
    expect(s.stats().callbacksSkipped).toBeGreaterThan(0);
    expect(receiver.received).toHaveLength(0);
  });

  it('appends every entry to the JSONL ledgerFile', async () => {
    const file = join(dir, 'ledger.jsonl');
    const s = await sim({ ledgerFile: file, ledgerLimit: 1 });
    await client.sipcall(s, makeCall('13100000201', { customuuid: 'f-1' }));
    await client.pbx(s, originate('552'));
    await s.close();
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as LedgerEntry);
    expect(lines.map((e) => [e.seq, e.family, e.customuuid])).toEqual([
      [1, 'sipcall', 'f-1'],
      [2, 'pbx', null],
    ]);
  });
});

describe('seeded runs', () => {
  async function run(seed: number): Promise<{ outcomes: (string | null)[]; results: unknown[]; cdrs: unknown[] }> {
    const s = await sim({ seed, http5xxRate: 0.1, http429Rate: 0.1, lostCdrRate: 0.2, duplicateCdrRate: 0.2 });
    receiver.received.length = 0;
    for (let i = 0; i < 30; i++) {
      const n = `1320000${String(i % 10).padStart(4, '0')}`;
      if (i % 2 === 0) await client.sipcall(s, playVoice(n, { customuuid: `seed-${i}` }));
      else await client.pbx(s, originate(n));
    }
    await s.whenIdle();
    const cdrs = receiver.received
      .filter((r) => r.path.endsWith('/cdr'))
      .map((r) => [r.body.customuuid ?? r.body.dst, r.body.billsec, r.body.hangupcause ?? r.body.disposition, r.body.userkey ?? null])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const ledger = s.ledger();
    await s.close();
    return { outcomes: ledger.map((e) => e.outcome), results: ledger.map((e) => e.result), cdrs };
  }

  it('gives the same outcomes, results and CDRs for the same seed', async () => {
    const a = await run(7);
    const b = await run(7);
    expect(b).toEqual(a);
    expect(new Set(a.outcomes).size).toBeGreaterThan(2);
    const c = await run(8);
    expect(c.outcomes).not.toEqual(a.outcomes);
  });
});
