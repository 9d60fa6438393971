/**
 * The chaos run's report: one screen that says what broke and for which
 * contact, and its figures as the Chaos section of bench/RESULTS.md,
 * replaced in place without touching the other sections.
 */
import { describe, expect, it } from 'vitest';
import { formatMarkdown, formatReport, withChaosSection, type ChaosFigures } from '../../src/chaos/report.js';
import type { CheckResult } from '../../src/chaos/checks.js';

const figures: ChaosFigures = {
  contacts: 100,
  cps: 10,
  workers: 3,
  durationMs: 65_000,
  completedAtMs: 60_000,
  events: [],
  workerKills: 7,
  workersExitedByThemselves: 1,
  serversExitedByThemselves: 0,
  redisOutages: [
    { how: 'kill -9', downMs: 3100 },
    { how: 'clean shutdown (SIGTERM)', downMs: 3000 },
  ],
  serverRestarts: 1,
  requests: 160,
  callsPlaced: 150,
  answers: { accepted: 150, error: 6, '429': 0, reset: 2, timeout: 2 },
  cdrsLost: 3,
  cdrsDuplicated: 5,
  callbacksPosted: 400,
  callbacksFailed: 0,
  callbackRetries: 30,
  simulatorCapRefusals: 0,
  statuses: { answered: 90, no_answer: 6, busy: 3, pending: 1 },
  errorLogLines: 2,
  leftRunning: [],
  dir: '/tmp/x',
  kept: true,
};

const checks: CheckResult[] = [
  { name: 'no two calls to one number overlapping', ok: true, figure: '40 checked', violations: [] },
  { name: 'every contact final (none lost)', ok: false, figure: '99 of 100 final', violations: [{ subject: '13900000042', detail: 'still pending, never dialed', attemptIds: ['abcd1234-42-'] }] },
];

describe('chaos report', () => {
  it('says what was done, what broke for whom with the events behind it, and the verdict', () => {
    const located = new Map([['every contact final (none lost)|13900000042', ['+12.000s run: SIGKILL worker-3 (pid 9)', '+40.000s worker-5 (pid 11): dial job failed [abcd1234-42-1 job stalled more than allowable limit]']]]);
    const text = formatReport(figures, checks, located);
    expect(text).toContain('7 workers SIGKILLed and replaced (1 more exited by themselves); Redis kill -9 (down 3.1 s), clean shutdown (SIGTERM) (down 3.0 s); server restarted 1×');
    expect(text).toContain('160 requests (2.7/s on average)');
    expect(text).toContain('  ok   no two calls to one number overlapping: 40 checked');
    expect(text).toContain('  FAIL every contact final (none lost): 99 of 100 final — 1 violation');
    expect(text).toContain('         13900000042: still pending, never dialed');
    expect(text).toContain('           +40.000s worker-5 (pid 11): dial job failed');
    expect(text).toMatch(/result: FAIL — logs, ledger and Redis files kept in \/tmp\/x\n$/);
    expect(text.split('\n').length).toBeLessThan(30);
  });

  it("writes the figures as bench/RESULTS.md's Chaos section, in place", () => {
    const section = formatMarkdown(figures, checks, '2026-12-06 on 2 cores, Node v20');
    expect(section).toMatch(/^## Chaos/);
    expect(section).toContain('| every contact final (none lost) | **FAIL** (1): 99 of 100 final |');
    expect(section).toContain('Result: **FAIL**.');
    const before = '# Benchmark results\n\nintro\n\n## Pacing\n\npacing figures\n';
    const added = withChaosSection(before, section);
    expect(added).toBe(`${before}\n${section}`);
    const middle = withChaosSection(`# Benchmark results\n\n## Chaos: old\n\nold figures\n\n## Scaling\n\nscaling figures\n`, section);
    expect(middle).toBe(`# Benchmark results\n\n${section}\n## Scaling\n\nscaling figures\n`);
    expect(withChaosSection(added, section)).toBe(added);
  });
});
