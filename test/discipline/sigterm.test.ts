import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, tally, type Cluster } from './fixtures/cluster.js';

const CONTACTS = 20;
const GRACE_MS = 8_000;

describe('SIGTERM: a worker with jobs in hand stops within its grace period', () => {
  let cl: Cluster;

  beforeAll(async () => {
    // Each answer takes 1.5 s: requests are in flight when the signal lands, and finish within the grace.
    cl = await startCluster('disc-term', { slowResponseMs: 1_500, mix: { answered: 1 } });
  }, 60_000);
  afterAll(async () => cl?.close(), 60_000);

  it('exits by itself with code 0, finishing the calls it had out, and nothing is lost', async () => {
    const first = cl.spawn({ concurrency: 20, graceMs: GRACE_MS });
    await first.ready;
    const { id, numbers } = await cl.campaign({ contacts: CONTACTS, cps: 10 });
    await cl.untilRequests(id, 3);
    first.kill('SIGTERM');
    const exit = await first.exited;
    // It stopped on its own (a clean close, told over IPC), not because anyone killed it.
    expect(exit).toEqual({ code: 0, signal: null, stopped: true });
    const sentByFirst = new Set(cl.ledgerOf(id).map((e) => e.customuuid));
    expect(sentByFirst.size).toBeGreaterThanOrEqual(3);

    const second = cl.spawn({ concurrency: 20, graceMs: GRACE_MS });
    await second.ready;
    const final = await cl.untilAllFinal(id, CONTACTS, 120_000);

    const ledger = cl.ledgerOf(id);
    expect(new Set(ledger.map((e) => e.customuuid)).size).toBe(ledger.length);
    // Every number dialed exactly once: the first worker's calls were answered in its grace, its other jobs went back.
    expect([...tally(ledger.map((e) => e.number)).entries()].sort()).toEqual(numbers.map((n) => [n, 1]).sort());
    expect(final.every((c) => c.status === 'answered')).toBe(true);
  }, 180_000);
});
