import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, tally, type Cluster } from './fixtures/cluster.js';

const CONTACTS = 40;
/** Longer than the campaign cache (1 s) plus a request in flight: after it, no worker may still dial. */
const GRACE_MS = 2_500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pause, resume and cancel across worker processes', () => {
  let cl: Cluster;

  beforeAll(async () => {
    cl = await startCluster('disc-ctl', { mix: { answered: 1 } });
    await Promise.all([cl.spawn({ concurrency: 10 }).ready, cl.spawn({ concurrency: 10 }).ready]);
  }, 60_000);
  afterAll(async () => cl?.close(), 60_000);

  it('pause stops every worker, resume goes on, cancel ends what is left as cancelled', async () => {
    const { id, numbers } = await cl.campaign({ contacts: CONTACTS, cps: 5 });
    await cl.untilRequests(id, 5);

    await cl.h.container.control.pause(id);
    await sleep(GRACE_MS);
    const atPause = cl.ledgerOf(id).length;
    expect(atPause).toBeLessThan(CONTACTS);
    await sleep(2 * GRACE_MS);
    // While paused the ledger does not grow: no worker dialed.
    expect(cl.ledgerOf(id).length).toBe(atPause);

    await cl.h.container.control.resume(id);
    await cl.untilRequests(id, atPause + 5);

    await cl.h.container.control.cancel(id);
    const final = await cl.untilAllFinal(id, CONTACTS, 60_000);
    const ledger = cl.ledgerOf(id);
    expect(ledger.length).toBeLessThan(CONTACTS);
    // Nobody dialed twice through pause, resume and cancel.
    expect(new Set(ledger.map((e) => e.customuuid)).size).toBe(ledger.length);
    expect([...tally(ledger.map((e) => e.number)).values()].every((n) => n === 1)).toBe(true);
    // Dialed contacts end with their call's outcome; every other one is cancelled.
    const dialed = new Set(ledger.map((e) => e.number));
    for (const c of final) expect(c.status).toBe(dialed.has(c.number) ? 'answered' : 'cancelled');
    expect(final.filter((c) => c.status === 'cancelled').length).toBe(numbers.length - dialed.size);
  }, 180_000);
});
