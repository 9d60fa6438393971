/**
 * The fault matrix: one row per fault of the provider's HTTP API or of its
 * callbacks, each on a contact of its own dialed by a whole dialer, with
 * what the attempt recorded, how the contact ended, and what was (not)
 * dialed again. Policy of every row unless it says otherwise: at most 2
 * attempts, retries 1 s later, results awaited 3 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderAdapter } from '../../src/providers/types.js';
import type { StoredAttempt } from '../../src/store/attempts.js';
import type { Simulator } from '../../src/simulator/index.js';
import { csvSource } from '../support/harness.js';
import { closedPortUrl } from '../providers/support/server.js';
import { routedAdapter, startBlackhole, startEndpoint, startFaultRig, startHoldingRelay, type FaultRig } from './support.js';

type Endpoint = 'sim' | 'slowSim' | 'refused' | 'blackhole' | '502' | '503' | '401' | 'garbage' | 'hang' | 'dupSim' | 'lateSim' | 'heldSim';

interface Row {
  fault: string;
  /** Where each request of the contact goes (the last repeats). */
  route: Endpoint[];
  /** The simulator's outcomes for the contact, one per request it receives. */
  script?: string[];
  definition?: Record<string, unknown>;
  expected: {
    /**
     * The first attempt: how its request ended (dial result; '' when its result came first), its state
     * (`not_sent`: it never reached the provider and does not count) and its outcome ('' when none).
     */
    first: { dial: string; state: string; outcome: string };
    status: string;
    /** Attempts that count against the policy (reached the provider). */
    counted: number;
    /** Requests the dialer sent for the contact. */
    requests: number;
    /** Calls the provider placed. */
    calls: number;
    redialed: boolean;
    campaign?: 'completed' | 'paused';
  };
}

const ROWS: Row[] = [
  { fault: 'connection refused', route: ['refused', 'sim'], expected: { first: { dial: 'not_sent', state: 'not_sent', outcome: '' }, status: 'answered', counted: 1, requests: 2, calls: 1, redialed: true } },
  { fault: 'connect timeout: the request was never written', route: ['blackhole', 'sim'], expected: { first: { dial: 'not_sent', state: 'not_sent', outcome: '' }, status: 'answered', counted: 1, requests: 2, calls: 1, redialed: true } },
  { fault: 'no answer after the request was written (its CDR comes later)', route: ['slowSim'], script: ['timeout'], expected: { first: { dial: 'in_doubt', state: 'final', outcome: 'answered' }, status: 'answered', counted: 1, requests: 1, calls: 1, redialed: false } },
  { fault: 'no answer after the request was written, no CDR', route: ['hang'], expected: { first: { dial: 'in_doubt', state: 'final', outcome: 'in_doubt' }, status: 'in_doubt', counted: 1, requests: 1, calls: 0, redialed: false } },
  { fault: 'connection reset after the request was read', route: ['sim'], script: ['reset'], expected: { first: { dial: 'in_doubt', state: 'final', outcome: 'answered' }, status: 'answered', counted: 1, requests: 1, calls: 1, redialed: false } },
  { fault: 'HTTP 500', route: ['sim'], script: ['error500', 'answered'], expected: { first: { dial: 'transient', state: 'not_sent', outcome: '' }, status: 'answered', counted: 1, requests: 2, calls: 1, redialed: true } },
  { fault: 'HTTP 502 with an HTML page', route: ['502', 'sim'], expected: { first: { dial: 'transient', state: 'not_sent', outcome: '' }, status: 'answered', counted: 1, requests: 2, calls: 1, redialed: true } },
  { fault: 'HTTP 503 with Retry-After', route: ['503', 'sim'], expected: { first: { dial: 'transient', state: 'not_sent', outcome: '' }, status: 'answered', counted: 1, requests: 2, calls: 1, redialed: true } },
  { fault: 'HTTP 429', route: ['sim'], script: ['error429', 'answered'], expected: { first: { dial: 'transient', state: 'not_sent', outcome: '' }, status: 'answered', counted: 1, requests: 2, calls: 1, redialed: true } },
  { fault: 'HTTP 401: credentials refused', route: ['401'], expected: { first: { dial: 'fatal', state: 'not_sent', outcome: '' }, status: 'pending', counted: 0, requests: 1, calls: 0, redialed: false, campaign: 'paused' } },
  { fault: 'garbage with a 200', route: ['garbage'], expected: { first: { dial: 'in_doubt', state: 'final', outcome: 'in_doubt' }, status: 'in_doubt', counted: 1, requests: 1, calls: 0, redialed: false } },
  { fault: '200 with a rejection', route: ['sim'], script: ['reject'], expected: { first: { dial: 'rejected', state: 'final', outcome: 'rejected' }, status: 'rejected', counted: 1, requests: 1, calls: 0, redialed: false } },
  // Recorded as a rejection, yet not counted: the contact is dialed again once the account slowed down.
  { fault: '200 with "too fast"', route: ['sim'], script: ['toofast', 'answered'], expected: { first: { dial: 'rejected', state: 'final', outcome: 'rejected' }, status: 'answered', counted: 1, requests: 2, calls: 1, redialed: true } },
  { fault: 'CDR posted twice', route: ['dupSim'], expected: { first: { dial: 'accepted', state: 'final', outcome: 'answered' }, status: 'answered', counted: 1, requests: 1, calls: 1, redialed: false } },
  { fault: 'CDR before the HTTP answer', route: ['heldSim'], expected: { first: { dial: '', state: 'final', outcome: 'answered' }, status: 'answered', counted: 1, requests: 1, calls: 1, redialed: false } },
  {
    fault: 'CDR after the result deadline',
    route: ['lateSim'],
    // The retry of a call without a result would come long after the late CDR: the CDR drops it.
    definition: { retry: ['no_result=30s'] },
    expected: { first: { dial: 'accepted', state: 'final', outcome: 'answered' }, status: 'answered', counted: 1, requests: 1, calls: 1, redialed: false },
  },
  { fault: 'CDR never sent', route: ['sim'], script: ['lost', 'answered'], expected: { first: { dial: 'accepted', state: 'final', outcome: 'no_result' }, status: 'answered', counted: 2, requests: 2, calls: 2, redialed: true } },
];

const PARAMS = { voicetype: '2', voicefile: 'http://example.invalid/promo.mp3', chengshudu: '1', userid: '1@extGroup-1' };
const numberOf = (i: number) => `1370000${String(i).padStart(4, '0')}`;

interface Outcome {
  campaign: string;
  status: string;
  counted: number;
  first: StoredAttempt | null;
  second: StoredAttempt | null;
  requests: number;
  calls: number;
  /** When the first request's answer left the holding relay (CDR-before-answer row). */
  answeredAt?: number;
}

describe('fault matrix', () => {
  let rig: FaultRig;
  const closers: (() => Promise<void>)[] = [];
  const outcomes = new Map<string, Promise<Outcome>>();
  let sims: Record<'sim' | 'slowSim' | 'dupSim' | 'lateSim', Simulator>;
  let held: Awaited<ReturnType<typeof startHoldingRelay>>;
  let sent: Map<string, number>;

  beforeAll(async () => {
    rig = await startFaultRig('faults');
    const blackhole = await startBlackhole();
    const endpoints = await Promise.all([
      startEndpoint({ status: 502, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }),
      startEndpoint({ status: 503, body: '<html>Service Unavailable</html>', headers: { 'retry-after': '1' } }),
      startEndpoint({ status: 401, body: '{"ret":401,"msg":"unauthorized"}', headers: { 'content-type': 'application/json' } }),
      startEndpoint({ status: 200, body: '<html>maintenance</html>' }),
      startEndpoint('never'),
    ]);
    closers.push(() => blackhole.close(), ...endpoints.map((e) => () => e.close()));
    const [e502, e503, e401, garbage, hang] = endpoints;
    const dupSim = await rig.simulator({ duplicateCdrRate: 1 });
    // CDRs after the dialer gave up waiting for the answer (1.5 s), before the result deadline.
    const slowSim = await rig.simulator({ callbackDelayMs: 2500 });
    const lateSim = await rig.simulator({ callbackDelayMs: 6000 });
    held = await startHoldingRelay(rig.sim.url, () => new Promise((r) => setTimeout(r, 1000)));
    closers.push(() => held.close());
    sims = { sim: rig.sim, slowSim, dupSim, lateSim };
    const adapters: Record<Endpoint, ProviderAdapter> = {
      sim: rig.adapter(rig.sim.url),
      slowSim: rig.adapter(slowSim.url),
      refused: rig.adapter(await closedPortUrl()),
      blackhole: rig.adapter(blackhole.url),
      '502': rig.adapter(e502!.url),
      '503': rig.adapter(e503!.url),
      '401': rig.adapter(e401!.url),
      garbage: rig.adapter(garbage!.url),
      hang: rig.adapter(hang!.url),
      dupSim: rig.adapter(dupSim.url),
      lateSim: rig.adapter(lateSim.url),
      heldSim: rig.adapter(held.url),
    };
    const routes = new Map(ROWS.map((r, i) => [numberOf(i), r.route.map((e) => adapters[e])]));
    const routed = routedAdapter(routes, adapters.sim);
    sent = routed.sent;
    rig.c.providers.set('sipcall', routed);
    rig.c.startWorker({ feedEveryMs: 50, sweepEveryMs: 100 });

    ROWS.forEach((row, i) => {
      const number = numberOf(i);
      if (row.script) for (const s of Object.values(sims)) s.setScript(number, row.script);
      outcomes.set(row.fault, dialOne(row, number));
    });
  }, 60_000);

  afterAll(async () => {
    await rig?.close();
    for (const close of closers) await close();
  });

  async function dialOne(row: Row, number: string): Promise<Outcome> {
    const c = rig.c;
    const def = c.definition({ action: 'playvoice', params: PARAMS, cps: 50, maxAttempts: 2, retryDelay: '1s', resultTimeout: '3s', ingest: { numberFormat: 'as_written' }, ...row.definition });
    const { id } = await c.createCampaign(def, csvSource(`phone\n${number}\n`), `${row.fault}.csv`);
    const wanted = row.expected.campaign ?? 'completed';
    const until = Date.now() + 60_000;
    while ((await c.campaigns.get(id))?.state !== wanted) {
      if (Date.now() > until) throw new Error(`${row.fault}: campaign not ${wanted} within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // A paused campaign: long enough for a redial to show, had one been made.
    if (wanted === 'paused') await new Promise((r) => setTimeout(r, 1500));
    const { state } = await c.contacts.state(id, 0);
    const calls = Object.values(sims).reduce((n, s) => n + s.ledger().filter((e) => e.number === number && e.placed).length, 0);
    return {
      campaign: wanted,
      status: state.s,
      counted: state.p,
      first: await c.attempts.get(`${id}-0-1`),
      second: await c.attempts.get(`${id}-0-2`),
      requests: sent.get(number) ?? 0,
      calls,
    };
  }

  it.each(ROWS.map((r) => [r.fault, r] as const))('%s', async (_fault, row) => {
    const o = await outcomes.get(row.fault)!;
    const e = row.expected;
    expect({
      first: { dial: o.first?.dialKind ?? '', state: o.first?.state ?? '', outcome: o.first?.outcome ?? '' },
      status: o.status,
      counted: o.counted,
      requests: o.requests,
      calls: o.calls,
      redialed: o.second !== null,
      campaign: o.campaign,
    }).toEqual({ ...e, campaign: e.campaign ?? 'completed' });
    if (row.fault === 'CDR before the HTTP answer') {
      // Final from its CDR before the provider's answer left: the answer then only noted the call id.
      expect(o.first?.resultSource).toBe('callback');
      expect(o.first?.finalAt).toBeLessThan(held.answeredAt[0]!);
    }
    if (row.fault === 'CDR after the result deadline') expect(o.first).toMatchObject({ late: true, correctedFrom: 'no_result' });
    if (row.fault === 'CDR posted twice') expect(o.first?.duplicates).toBe(1);
    if (row.fault === 'HTTP 503 with Retry-After') expect(o.second!.dialingAt! - o.first!.dialingAt!).toBeGreaterThanOrEqual(1000);
    if (row.fault === 'CDR never sent') expect(o.second!.dialingAt!).toBeGreaterThan(o.first!.deadline ?? o.first!.finalAt!);
  });
});
