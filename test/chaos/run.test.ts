/**
 * The chaos run, short: a few hundred contacts dialed by a server and three
 * worker processes on a redis-server of their own, with the history store,
 * while workers are SIGKILLed every few seconds, Redis is killed (-9) and
 * later shut down, and the server is killed and started again. Every check
 * of the full run must pass, and nothing may be left running.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChaos, type ChaosOutcome } from '../../src/chaos/run.js';
import { alive } from '../../src/chaos/processes.js';
import { createDatabase, type TestDatabase } from '../history/support.js';

describe('chaos run, short', () => {
  let db: TestDatabase;
  let outcome: ChaosOutcome;

  beforeAll(async () => {
    db = await createDatabase('chaos');
  });
  afterAll(async () => db?.drop());

  it('keeps every promise while workers, Redis and the server are killed and started again', async () => {
    const lines: string[] = [];
    outcome = await runChaos(
      {
        contacts: 150,
        cps: 15,
        workers: 3,
        killEverySeconds: 3,
        redisDownSeconds: 2,
        resultTimeoutSeconds: 8,
        timeoutSeconds: 240,
        databaseUrl: db.url,
        sources: true,
      },
      { root: resolve(import.meta.dirname, '../..'), log: (l) => lines.push(l) },
    );
    // On failure the report says which promise broke, for which contact, and the events behind it.
    expect(outcome.checks.filter((c) => !c.ok).map((c) => c.name), `${outcome.report}\n${lines.join('\n')}`).toEqual([]);
    expect(outcome.ok).toBe(true);
    const f = outcome.figures;
    expect(f.completedAtMs).not.toBeNull();
    expect(f.workerKills).toBeGreaterThanOrEqual(2);
    expect(f.redisOutages.map((o) => o.how)).toEqual(['kill -9', 'clean shutdown (SIGTERM)']);
    expect(f.serverRestarts).toBe(1);
    // The faults happened: requests refused, reset or unanswered, CDRs lost and duplicated, callbacks posted again.
    expect(f.requests).toBeGreaterThan(f.contacts);
    expect(f.callbackRetries).toBeGreaterThan(0);
    expect(Object.values(f.statuses).reduce((a, b) => a + b, 0)).toBe(f.contacts);
    expect(outcome.checks.map((c) => c.name)).toContain('history store agrees with the export and the ledger');
    expect(f.leftRunning).toEqual([]);
    expect(f.kept).toBe(false);
  }, 420_000);

  it('leaves no process of the run behind', () => {
    const pids = outcome.figures.events.flatMap((e) => [...e.what.matchAll(/pid (\d+)/g)].map((m) => Number(m[1])));
    expect(pids.length).toBeGreaterThan(5);
    expect(pids.filter(alive)).toEqual([]);
  });
});
