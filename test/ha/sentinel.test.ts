/**
 * A failover in the middle of a campaign. A primary, its replica and three
 * sentinels on loopback ports; the callback server in this process and two
 * worker processes, all configured with the sentinels alone (replica acks at
 * their default under Sentinel: 1). The primary is killed with SIGKILL while
 * calls go out; the sentinels promote the replica, every process follows it
 * without a restart, and the old primary comes back as the new one's replica.
 * From the simulator's ledger: no number called twice; from the store: every
 * contact final.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSentinelSet, until, type SentinelSet } from './fixtures/sentinel-set.js';
import { startSentinelDialer, type SentinelDialer } from './fixtures/dialer.js';
import type { WorkerProcess } from '../discipline/fixtures/spawn-worker.js';

const CONTACTS = 240;
const CPS = 20;

describe('Redis Sentinel failover mid-campaign', () => {
  let set: SentinelSet;
  let d: SentinelDialer;
  let workers: WorkerProcess[] = [];

  beforeAll(async () => {
    set = await startSentinelSet();
    await set.untilPrimary(set.ports.primary, 1);
    d = await startSentinelDialer('ha-failover', set.env, {}, { AUTODIALER_REPLICA_ACKS_TIMEOUT_MS: '500' });
  }, 60_000);

  afterAll(async () => {
    await d?.close();
    for (const w of workers) expect((await w.exited).code).toBe(0);
    await set?.stop();
    // Every process the test started was stopped by its PID.
    expect(set.pids()).toEqual([]);
  }, 90_000);

  it('never dials a number twice and ends every contact', async () => {
    expect(d.config.redis.kind).toBe('sentinel');
    expect(d.config.replicaAcks.replicas).toBe(1);
    workers = [d.spawn({ concurrency: 20 }), d.spawn({ concurrency: 20 })];
    await Promise.all(workers.map((w) => w.ready));
    const { id, numbers } = await d.campaign({ contacts: CONTACTS, cps: CPS, resultTimeout: '3s' });

    // A quarter of the calls out, then the primary dies mid-campaign.
    await d.untilRequests(id, CONTACTS / 4);
    await set.kill(set.ports.primary);
    const atKill = d.ledgerOf(id).length;
    expect(atKill).toBeLessThan(CONTACTS);

    // The sentinels promote the replica; the old primary comes back as its replica (an operator's restart).
    await until('the sentinels to promote the replica', async () => (await set.primaryPort()) === set.ports.replica, 60_000);
    await set.restartAsReplica(set.ports.primary, set.ports.replica);
    await set.untilPrimary(set.ports.replica, 1, 60_000);

    // Every contact final, through the new primary: the same processes, none restarted.
    await until('every contact to be final', async () => (await d.contacts(id, CONTACTS)).every((c) => c.status !== 'pending'), 150_000).catch(async (err: Error) => {
      // What the contacts still pending were doing, and where their jobs are: the failure says why.
      const pending = (await d.container.contacts.range(id, 0, CONTACTS)).filter((r) => r.state.s === 'pending');
      const jobs = await d.container.queues.get(id).getJobCounts();
      const dialed = new Set(d.ledgerOf(id).map((e) => e.number));
      const states = pending.slice(0, 20).map((r) => ({ idx: r.idx, dialed: dialed.has(r.row?.v[1] ?? ''), ...r.state }));
      throw new Error(`${err.message}: ${pending.length} pending; jobs ${JSON.stringify(jobs)}; ${JSON.stringify(states)}`);
    });
    const contacts = await d.contacts(id, CONTACTS);
    expect(contacts.filter((c) => c.status === 'pending')).toEqual([]);
    expect(workers.every((w) => w.messages.every((m) => m.type !== 'error'))).toBe(true);

    // Zero double dials: each number, and each attempt id, reached the provider at most once.
    const ledger = d.ledgerOf(id);
    const calls = new Map<string, number>();
    for (const e of ledger) calls.set(e.number ?? '', (calls.get(e.number ?? '') ?? 0) + 1);
    expect([...calls.entries()].filter(([, n]) => n > 1)).toEqual([]);
    expect(new Set(ledger.map((e) => e.customuuid)).size).toBe(ledger.length);
    // Calls went out after the failover too: the dialer followed the new primary.
    expect(ledger.length).toBeGreaterThan(atKill);

    // A contact that was never dialed is either in doubt (its begin not held by the replica) or was never begun.
    const dialed = new Set(ledger.map((e) => e.number));
    const byStatus = new Map<string, number>();
    for (const c of contacts) byStatus.set(c.status, (byStatus.get(c.status) ?? 0) + 1);
    for (const c of contacts) if (!dialed.has(c.number)) expect(['in_doubt', 'failed']).toContain(c.status);
    expect(numbers.length).toBe(CONTACTS);
    process.stdout.write(`sentinel failover: ${ledger.length} dials for ${CONTACTS} contacts (${atKill} before the kill); ${JSON.stringify(Object.fromEntries(byStatus))}\n`);
  }, 300_000);
});
