import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, tally, type Cluster } from './fixtures/cluster.js';

const CONTACTS = 30;
const IN_FLIGHT = 3;

describe('a worker process killed while it holds dials', () => {
  let cl: Cluster;

  beforeAll(async () => {
    // Answers come 10 s late and no callback ever comes: a request the killed worker had out stays in doubt.
    cl = await startCluster('disc-kill', { slowResponseMs: 10_000, callbackUrl: null }, { SIPCALL_RESPONSE_TIMEOUT_MS: '30000' });
  }, 60_000);
  afterAll(async () => cl?.close(), 60_000);

  it('never dials a number twice, and ends every contact: in_doubt for the calls the kill left unanswered', async () => {
    const first = cl.spawn({ concurrency: 20 });
    await first.ready;
    const { id, numbers } = await cl.campaign({ contacts: CONTACTS, cps: 10, resultTimeout: '1s', retry: ['no_result=never'] });
    await cl.untilRequests(id, IN_FLIGHT);
    first.kill('SIGKILL');
    const exit = await first.exited;
    expect(exit.signal).toBe('SIGKILL');
    // Requests that had reached the provider when the kill landed: none was answered (10 s later at the soonest).
    const outAtKill = new Set(cl.ledgerOf(id).map((e) => e.customuuid));
    expect(outAtKill.size).toBeGreaterThanOrEqual(IN_FLIGHT);

    const second = cl.spawn({ concurrency: 20 });
    await second.ready;
    const final = await cl.untilAllFinal(id, CONTACTS, 150_000);

    const ledger = cl.ledgerOf(id);
    // Each attempt id at most once, and no contact called a second time (in_doubt and no_result are never retried here).
    expect(new Set(ledger.map((e) => e.customuuid)).size).toBe(ledger.length);
    expect([...tally(ledger.map((e) => e.number)).values()].every((n) => n === 1)).toBe(true);
    expect(ledger.every((e) => e.answer === 'accepted' && e.placed)).toBe(true);
    // Every contact final; those whose request was out when the worker died are in doubt, never redialed.
    expect(final.every((c) => c.status !== 'pending')).toBe(true);
    const statusOf = new Map(final.map((c) => [c.number, c.status]));
    for (const e of ledger) {
      if (outAtKill.has(e.customuuid)) expect(statusOf.get(e.number ?? '')).toBe('in_doubt');
      else expect(statusOf.get(e.number ?? '')).toBe('no_result');
    }
    // The jobs it held without an attempt went to the other worker and were dialed there; a contact it had
    // begun but not yet sent is in doubt too (nothing can tell); none was lost.
    const dialed = new Set(ledger.map((e) => e.number));
    expect(ledger.length).toBeGreaterThan(outAtKill.size);
    for (const n of numbers) if (!dialed.has(n)) expect(statusOf.get(n)).toBe('in_doubt');
    expect(final.filter((c) => c.status === 'in_doubt').length).toBeLessThan(CONTACTS / 2);
  }, 240_000);
});
