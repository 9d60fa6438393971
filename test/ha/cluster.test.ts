/**
 * Two deployments on one three-master Redis Cluster. Each deployment's
 * configuration names only the cluster's nodes; its prefix becomes a hash tag,
 * so all of its keys (stores, pacer, queues) live in one slot, and the two
 * prefixes are chosen to land on different masters. Both run a campaign end
 * to end against the simulator at once: every contact final, no number
 * dialed twice, and each deployment's keys on its own master.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startClusterSet, type ClusterSet } from './fixtures/cluster-set.js';
import { until } from './fixtures/sentinel-set.js';
import { startSentinelDialer, type SentinelDialer } from './fixtures/dialer.js';
import { connectRedis, scanTargets } from '../../src/infra/redis.js';

const CONTACTS = 120;
const CPS = 40;

describe('Redis Cluster: two deployments on their own shards', () => {
  let set: ClusterSet;
  const dialers: SentinelDialer[] = [];
  const prefixes: string[] = [];

  beforeAll(async () => {
    set = await startClusterSet();
    // Two prefixes whose hash tags are served by different masters.
    const first = `adtest-cluster-${randomBytes(4).toString('hex')}`;
    const firstOwner = await set.ownerOf(`{${first}}`);
    let second = '';
    for (let i = 0; i < 64 && second === ''; i++) {
      const candidate = `adtest-cluster-${randomBytes(4).toString('hex')}`;
      if ((await set.ownerOf(`{${candidate}}`)) !== firstOwner) second = candidate;
    }
    prefixes.push(first, second);
    for (const p of prefixes) dialers.push(await startSentinelDialer('cluster', set.env, {}, { AUTODIALER_PREFIX: p }));
  }, 90_000);

  afterAll(async () => {
    for (const d of dialers) await d.close();
    await set?.stop();
    // Every node the test started was stopped by its PID.
    expect(set.pids()).toEqual([]);
  }, 90_000);

  it('runs both campaigns to the end, each in its own slot, without a double dial', async () => {
    expect(prefixes[1]).not.toBe('');
    for (const [i, d] of dialers.entries()) {
      expect(d.config.redis.kind).toBe('cluster');
      expect(d.config.prefix).toBe(`{${prefixes[i]}}`);
      d.container.startWorker({ concurrency: 10, feedEveryMs: 50, sweepEveryMs: 100 });
    }
    const runs = await Promise.all(dialers.map((d) => d.campaign({ contacts: CONTACTS, cps: CPS, resultTimeout: '3s' })));

    for (const [i, d] of dialers.entries()) {
      const { id } = runs[i]!;
      await until(`every contact of deployment ${i} to be final`, async () => (await d.contacts(id, CONTACTS)).every((c) => c.status !== 'pending'), 120_000);
      const contacts = await d.contacts(id, CONTACTS);
      expect(contacts.length).toBe(CONTACTS);
      expect(contacts.filter((c) => c.status === 'pending')).toEqual([]);

      // Zero double dials: each number, and each attempt id, reached the provider at most once.
      const ledger = d.ledgerOf(id);
      const calls = new Map<string, number>();
      for (const e of ledger) calls.set(e.number ?? '', (calls.get(e.number ?? '') ?? 0) + 1);
      expect([...calls.entries()].filter(([, n]) => n > 1)).toEqual([]);
      expect(new Set(ledger.map((e) => e.customuuid)).size).toBe(ledger.length);
      expect(ledger.length).toBe(CONTACTS);
    }

    // Each deployment's keys (BullMQ's included) all on the master that serves its hash tag, none elsewhere.
    const owners = await Promise.all(prefixes.map((p) => set.ownerOf(`{${p}}`)));
    expect(owners[0]).not.toBe(owners[1]);
    for (const [i, p] of prefixes.entries()) {
      for (const port of set.ports) {
        const node = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'MATCH', `*${p}*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...found);
        } while (cursor !== '0');
        node.disconnect();
        if (port === owners[i]) {
          expect(keys.length).toBeGreaterThan(0);
          expect(keys.filter((k) => !k.startsWith(`{${p}}:`))).toEqual([]);
          expect(keys.some((k) => k.startsWith(`{${p}}:bull:`))).toBe(true);
        } else {
          expect(keys).toEqual([]);
        }
      }
    }
    // No key of another base: every key in the cluster belongs to one of the two deployments.
    for (const port of set.ports) {
      const node = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      node.disconnect();
      expect(keys.filter((k) => !prefixes.some((p) => k.startsWith(`{${p}}:`)))).toEqual([]);
    }
    // A SCAN through the dialer's connection walks every master (each deployment's keys are on one).
    const conn = await connectRedis(dialers[0]!.config.redis);
    const targets = scanTargets(conn);
    expect(targets.length).toBe(3);
    let seen = 0;
    for (const node of targets) seen += (await node.scan('0', 'MATCH', `{${prefixes[1]}}:*`, 'COUNT', 100_000))[1].length;
    expect(seen).toBeGreaterThan(0);
    conn.disconnect();
    process.stdout.write(`redis cluster: ${dialers.length} deployments x ${CONTACTS} contacts on masters ${owners.join(' and ')}\n`);
  }, 240_000);
});
