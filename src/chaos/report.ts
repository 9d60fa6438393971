/**
 * The one-screen report of a chaos run: what was done to the dialer, what
 * the provider saw, how the contacts ended, and each check with its figure
 * (the first violations of a failed one, with the log lines of the
 * processes that handled the attempts involved).
 */
import type { CheckResult } from './checks.js';

export interface ChaosEvent {
  /** ms since the start of the run. */
  at: number;
  what: string;
}

export interface ChaosFigures {
  contacts: number;
  cps: number;
  workers: number;
  durationMs: number;
  /** When the campaign completed (ms since the start), or null. */
  completedAtMs: number | null;
  events: readonly ChaosEvent[];
  workerKills: number;
  workersExitedByThemselves: number;
  /** Servers that exited when the run had not stopped them (each started again). */
  serversExitedByThemselves: number;
  redisOutages: { how: string; downMs: number }[];
  serverRestarts: number;
  requests: number;
  callsPlaced: number;
  answers: Record<string, number>;
  cdrsLost: number;
  cdrsDuplicated: number;
  callbacksPosted: number;
  callbacksFailed: number;
  callbackRetries: number;
  simulatorCapRefusals: number;
  statuses: Record<string, number>;
  errorLogLines: number;
  leftRunning: number[];
  dir: string;
  kept: boolean;
}

/** Log lines that mention an attempt, per violation (found by the run in the processes' logs). */
export type Located = ReadonlyMap<string, string[]>;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const list = (r: Record<string, number>) =>
  Object.entries(r)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

export function formatReport(f: ChaosFigures, checks: readonly CheckResult[], located: Located = new Map()): string {
  const ok = checks.every((c) => c.ok) && f.leftRunning.length === 0;
  const lines: string[] = [];
  lines.push(`chaos run: ${f.contacts} contacts at ${f.cps} calls/s, ${f.workers} worker processes, ${secs(f.durationMs)}${f.completedAtMs !== null ? ` (campaign completed at ${secs(f.completedAtMs)})` : ' (campaign NOT completed)'}`);
  const outages = f.redisOutages.map((o) => `${o.how} (down ${secs(o.downMs)})`).join(', ');
  lines.push(
    `faults:    ${f.workerKills} workers SIGKILLed and replaced${f.workersExitedByThemselves > 0 ? ` (${f.workersExitedByThemselves} more exited by themselves)` : ''}; Redis ${outages || 'never stopped'}; server restarted ${f.serverRestarts}×${f.serversExitedByThemselves > 0 ? ` (and ${f.serversExitedByThemselves}× after it exited by itself)` : ''}`,
  );
  const span = f.completedAtMs ?? f.durationMs;
  lines.push(`provider:  ${f.requests} requests (${((f.requests * 1000) / Math.max(1, span)).toFixed(1)}/s on average), ${f.callsPlaced} calls placed; answers: ${list(f.answers)}`);
  lines.push(
    `callbacks: ${f.callbacksPosted} posted (${f.callbackRetries} posts retried, ${f.callbacksFailed} given up); CDRs lost ${f.cdrsLost}, duplicated ${f.cdrsDuplicated}; cap refusals ${f.simulatorCapRefusals}`,
  );
  lines.push(`contacts:  ${list(f.statuses)}`);
  lines.push(`logs:      ${f.errorLogLines} error lines from the dialer's processes`);
  lines.push('checks:');
  for (const c of checks) {
    lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.figure}${c.ok ? '' : ` — ${c.violations.length} violation${c.violations.length === 1 ? '' : 's'}`}`);
    for (const v of c.violations.slice(0, 3)) {
      lines.push(`         ${v.subject}: ${v.detail}`);
      const trace = located.get(`${c.name}|${v.subject}`) ?? [];
      // The first lines (how it began) and the last (how it ended).
      const shown = trace.length <= 8 ? trace : [...trace.slice(0, 3), `… ${trace.length - 8} more`, ...trace.slice(-5)];
      for (const l of shown) lines.push(`           ${l}`);
    }
  }
  lines.push(`  ${f.leftRunning.length === 0 ? 'ok  ' : 'FAIL'} every process stopped: ${f.leftRunning.length === 0 ? 'none left running' : `still running: ${f.leftRunning.join(', ')}`}`);
  lines.push(`result: ${ok ? 'PASS' : 'FAIL'}${f.kept ? ` — logs, ledger and Redis files kept in ${f.dir}` : ''}`);
  return `${lines.join('\n')}\n`;
}

/** The run's events, one a line (written beside the logs). */
export function formatEvents(events: readonly ChaosEvent[]): string {
  return events.map((e) => `+${secs(e.at).padStart(8)}  ${e.what}`).join('\n') + '\n';
}

/** The run as a section of bench/RESULTS.md. */
export function formatMarkdown(f: ChaosFigures, checks: readonly CheckResult[], machine: string): string {
  const ok = checks.every((c) => c.ok) && f.leftRunning.length === 0;
  const span = f.completedAtMs ?? f.durationMs;
  const outages = f.redisOutages.map((o) => `${o.how} (down ${secs(o.downMs)})`).join(', ');
  const rows: [string, string][] = [
    ['campaign', f.completedAtMs !== null ? `completed after ${secs(f.completedAtMs)}` : `not completed after ${secs(f.durationMs)}`],
    ['faults', `${f.workerKills} workers SIGKILLed${f.workersExitedByThemselves > 0 ? ` (${f.workersExitedByThemselves} more exited by themselves)` : ''}; Redis ${outages || 'never stopped'}; server killed and restarted ${f.serverRestarts}×`],
    ['requests', `${f.requests} (${((f.requests * 1000) / Math.max(1, span)).toFixed(1)}/s on average), ${f.callsPlaced} calls placed`],
    ['provider answers', list(f.answers)],
    ['callbacks', `${f.callbacksPosted} posted, ${f.callbackRetries} posts retried, ${f.callbacksFailed} given up; CDRs lost ${f.cdrsLost}, duplicated ${f.cdrsDuplicated}`],
    ['contacts', list(f.statuses)],
  ];
  const lines = [
    '## Chaos: the promises while processes die',
    '',
    `\`npm run chaos\` ([operations](../docs/operations.md#chaos-run)): ${f.contacts} contacts at ${f.cps} calls/s, ${f.workers} worker processes, ${machine}.`,
    '',
    '| | |',
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '| check | result |',
    '| --- | --- |',
    ...checks.map((c) => `| ${c.name} | ${c.ok ? 'ok' : `**FAIL** (${c.violations.length})`}: ${c.figure} |`),
    `| every process stopped | ${f.leftRunning.length === 0 ? 'ok' : `**FAIL**: ${f.leftRunning.join(', ')}`} |`,
    '',
    `Result: **${ok ? 'PASS' : 'FAIL'}**.`,
  ];
  for (const c of checks.filter((x) => !x.ok)) {
    lines.push('', `${c.name}, first violations:`, '');
    for (const v of c.violations.slice(0, 3)) lines.push(`- ${v.subject}: ${v.detail}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `results` with its chaos section replaced by `section` (or added at the end). */
export function withChaosSection(results: string, section: string): string {
  const start = results.search(/^## Chaos\b/m);
  if (start < 0) return `${results.trimEnd()}\n\n${section}`;
  const rest = results.slice(start + 1);
  const next = rest.search(/^## /m);
  const end = next < 0 ? results.length : start + 1 + next;
  return `${results.slice(0, start)}${section}${next < 0 ? '' : `\n${results.slice(end)}`}`;
}
