/**
 * The sequence of events behind a violation: the requests the provider
 * received for the attempts involved, their CDR deliveries, the lines of
 * the dialer's processes that mention them, and what the run did to the
 * processes meanwhile, in time order.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerEntry } from '../simulator/index.js';
import type { CdrDelivery, CheckResult } from './checks.js';
import type { ChaosEvent, Located } from './report.js';

interface Line {
  at: number;
  text: string;
}

interface LogLine {
  time?: number;
  pid?: number;
  msg?: string;
  outcome?: string;
  result?: string;
  refused?: unknown;
  jobId?: string;
  err?: { message?: string };
}

/** Every log line of the run's processes, read once: file name (process) → lines. */
function readLogs(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.log')) continue;
    out.set(f.replace(/\.log$/, ''), readFileSync(join(dir, f), 'utf8').split('\n'));
  }
  return out;
}

const rel = (t0: number, at: number) => `+${((at - t0) / 1000).toFixed(3)}s`;

export function traceViolations(opts: {
  checks: readonly CheckResult[];
  ledger: readonly LedgerEntry[];
  cdrs: ReadonlyMap<string, CdrDelivery>;
  events: readonly ChaosEvent[];
  t0: number;
  logDir: string;
  /** Violations traced per failed check. */
  perCheck?: number;
}): Located {
  const located = new Map<string, string[]>();
  const failed = opts.checks.filter((c) => !c.ok);
  if (failed.length === 0) return located;
  const logs = readLogs(opts.logDir);
  for (const c of failed) {
    for (const v of c.violations.slice(0, opts.perCheck ?? 3)) {
      const ids = v.attemptIds.filter((id) => id !== '' && id !== '?').slice(0, 4);
      if (ids.length === 0) continue;
      const lines: Line[] = [];
      const involved = (customuuid: string) => ids.some((id) => (id.endsWith('-') ? customuuid.startsWith(id) : customuuid === id));
      for (const e of opts.ledger) {
        if (!e.customuuid || !involved(e.customuuid)) continue;
        lines.push({ at: e.at, text: `provider received ${e.customuuid}: ${e.answer}${e.placed ? `, call placed (${e.result?.disposition ?? '?'}, ${e.result?.cdrs ?? 0} CDR posts planned)` : ''}` });
        const cdr = opts.cdrs.get(e.customuuid);
        if (cdr) lines.push({ at: cdr.firstAt, text: `CDR of ${e.customuuid} ${cdr.delivered ? 'acknowledged' : 'given up'}` });
      }
      for (const [proc, text] of logs) {
        for (const raw of text) {
          if (!ids.some((id) => raw.includes(id))) continue;
          let l: LogLine = {};
          try {
            l = JSON.parse(raw) as LogLine;
          } catch {
            // Not a log line of ours: shown as it is.
          }
          const detail = [l.jobId, l.outcome, l.result, l.refused ? JSON.stringify(l.refused) : undefined, l.err?.message].filter(Boolean).join(' ');
          lines.push({ at: l.time ?? 0, text: `${proc} (pid ${l.pid ?? '?'}): ${l.msg ?? raw.slice(0, 160)}${detail ? ` [${detail}]` : ''}` });
        }
      }
      const times = lines.map((l) => l.at).filter((t) => t > 0);
      const from = Math.min(...times) - 2000;
      const to = Math.max(...times) + 2000;
      for (const e of opts.events) {
        const at = opts.t0 + e.at;
        if (at >= from && at <= to) lines.push({ at, text: `run: ${e.what}` });
      }
      lines.sort((a, b) => a.at - b.at);
      located.set(
        `${c.name}|${v.subject}`,
        lines.map((l) => `${rel(opts.t0, l.at)} ${l.text}`),
      );
    }
  }
  return located;
}
