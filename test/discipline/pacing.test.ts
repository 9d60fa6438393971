import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxInSlidingWindow } from '../../src/pacing/index.js';
import { startCluster, tally, type Cluster } from './fixtures/cluster.js';

const CPS = 4;
const CONTACTS = 16;

describe('pacing across worker processes (real Redis, real simulator)', () => {
  let cl: Cluster;

  beforeAll(async () => {
    // The production pacing margin: the cap is kept by the send-time admission (each send logged as a bound
    // on its arrival), whatever the scheduler's jitter on a CI host shared with the rest of the suite.
    cl = await startCluster('disc-pace', { cpsCap: CPS, mix: { answered: 1 } });
    const workers = [cl.spawn({ concurrency: 10 }), cl.spawn({ concurrency: 10 }), cl.spawn({ concurrency: 10 })];
    await Promise.all(workers.map((w) => w.ready));
    // A first campaign warms each worker's dial path and connections (a cold process's first request is slow to arrive).
    const warm = await cl.campaign({ contacts: 9, cps: CPS });
    await cl.untilAllFinal(warm.id, 9, 60_000);
    // Its last calls leave the simulator's sliding second before the measured campaign starts.
    await new Promise((r) => setTimeout(r, 1100));
  }, 120_000);
  afterAll(async () => cl?.close(), 60_000);

  it('three workers dialing one campaign never put more than its cps in any second of the ledger', async () => {
    const violationsBefore = cl.h.sim.stats().cpsViolations;
    const { id, numbers } = await cl.campaign({ contacts: CONTACTS, cps: CPS });
    const final = await cl.untilAllFinal(id, CONTACTS, 90_000);

    const ledger = cl.ledgerOf(id);
    // Every contact dialed once: no refusal made anyone call again.
    expect(ledger).toHaveLength(CONTACTS);
    expect(new Set(ledger.map((e) => e.customuuid)).size).toBe(CONTACTS);
    expect([...tally(ledger.map((e) => e.number)).keys()].sort()).toEqual([...numbers].sort());
    // The discipline itself: the provider's sliding second never held more than the campaign's cps.
    expect(maxInSlidingWindow(ledger.map((e) => e.at), 1000)).toBeLessThanOrEqual(CPS);
    expect(cl.h.sim.stats().cpsViolations - violationsBefore).toBe(0);
    expect(ledger.every((e) => e.answer === 'accepted')).toBe(true);
    expect(final.every((c) => c.status === 'answered')).toBe(true);
  }, 120_000);
});
