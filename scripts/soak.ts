/**
 * `npm run soak -- --minutes N [--cps R] [--workers W] [--campaign-seconds S]
 * [--sample-seconds T] [--no-record] [--json FILE]`, or `--report FILE`: the soak
 * (scripts/soak-run.ts). Prints a line a minute and a report; writes the
 * report to bench/results/soak.md and its section of bench/RESULTS.md
 * (unless --no-record), the raw figures to FILE with --json; --report FILE
 * writes out such figures again without a run. Exits 1 when a
 * key was left behind or a baseline key grew, a campaign did not finish, a
 * process failed or logged an error, or a live heap grew.
 */
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak, DEFAULT_SOAK, type SoakResult } from './soak-run.js';
import { byShape } from './soak-keys.js';

const USAGE = 'usage: npm run soak -- --minutes N [--cps R] [--workers W] [--campaign-seconds S] [--sample-seconds T] [--no-record] [--json FILE], or --report FILE';

const HELP = `${USAGE}

A steady dialer (one server, worker processes, the provider simulator) on a
redis-server of its own: campaign after campaign, each exported and deleted
once complete. Every minute: RSS and live heap of each process, Redis memory
and key count. At the end: the keys left against the baseline taken after a
first campaign. Exits 1 when a key was left behind or a baseline key grew, a
campaign did not finish, a process failed or logged an error, or a live heap
grew.

options:
  --minutes N           how long the steady part runs (required)
  --cps R               the account's calls per second (default ${DEFAULT_SOAK.cps})
  --workers W           worker processes (default ${DEFAULT_SOAK.workers})
  --campaign-seconds S  how long each campaign dials (default ${DEFAULT_SOAK.campaignSeconds})
  --sample-seconds T    time between two samples (default ${DEFAULT_SOAK.sampleEveryMs / 1000})
  --no-record           do not write bench/results/soak.md and bench/RESULTS.md
  --json FILE           the raw figures to FILE as well
  --report FILE         write out the figures of an earlier --json run again, without a run
  -h, --help            this text
`;

function positive(name: string, raw: string | undefined, fallback: number | null, integer: boolean): number {
  if (raw === undefined) {
    if (fallback === null) throw new Error(`--${name} is required (${USAGE})`);
    return fallback;
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be a ${integer ? 'whole ' : ''}number above 0, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** CPU per dial at a rate of dials a second, as a share of one core. */
const share = (usPerDial: number, perSec: number) => `${((usPerDial * perSec) / 1e4).toFixed(1)} %`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ttl = (ms: number) => (ms < 0 ? 'none' : ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)} h` : `${Math.round(ms / 1000)} s`);

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
}

/** Each process's live heap trend over the steady part (minute 0 and the sample after the drain left out), in bytes a minute. */
function heapTrends(r: SoakResult): { role: string; pid: number; perMinute: number }[] {
  const steady = r.samples.slice(1, -1);
  return (r.samples[0]?.processes ?? []).map((p) => ({
    role: p.role,
    pid: p.pid,
    perMinute: slope(steady.map((s) => [s.minute, s.processes.find((x) => x.pid === p.pid)?.heapUsed ?? 0])),
  }));
}

export function soakMarkdown(r: SoakResult): string {
  const o = r.options;
  const first = r.samples[0]?.processes ?? [];
  const names = first.map((p, i) => (p.role === 'server' ? 'server' : `worker ${i}`));
  const firstSample = r.samples[0];
  const steadyRows = r.samples.slice(1, -1);
  const steadyLast = steadyRows.at(-1);
  const expiring = byShape('soak', r.leftovers.expiring);
  const atRest = byShape('soak', r.atRest);
  return [
    '## Soak',
    '',
    `\`npm run soak -- --minutes ${o.minutes}\`: one \`autodialer server\` and ${o.workers} \`autodialer worker\` processes (sources through tsx) on a redis-server of the soak's own (so that its key count and memory are the dialer's alone and can be compared key by key), against the simulator (the demo's mix; 5 % duplicate, 10 % out-of-order and 3 % lost CDRs) at the account's ${o.cps} calls/s, on ${cpus().length} cores shared with other work. A new PlayVoice campaign every ${o.campaignSeconds} s (${int(r.campaigns.contacts / Math.max(1, r.campaigns.created))} contacts; busy and no answer dialed once more after 5 s, results due within 15 s), each posting every result to a webhook (one answer in fifty a 503, sent again), exported and deleted through the API once complete. Memory per process after a full collection (the live heap).`,
    '',
    `${int(r.campaigns.created)} campaigns, ${int(r.campaigns.contacts)} contacts, ${int(r.simulator.requests)} dial requests, ${int(r.simulator.callbacks)} callbacks posted, ${int(r.webhooks)} webhook posts; ${int(r.campaigns.exportedRows)} result rows exported; ${int(r.campaigns.deleted)} campaigns deleted.`,
    '',
    `| minute | calls/s | campaigns live | ${names.map((n) => `${n} RSS / heap`).join(' | ')} | Redis used_memory | CPU: Redis / dialer processes (of one core) | keys | campaigns' | attempt records | look-ups (expire in 1 d) | deployment | callback log entries |`,
    `| ---: | ---: | ---: | ${names.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...r.samples.map(
      (s, i) =>
        `| ${s.minute.toFixed(1)} | ${s.callsPerSec.toFixed(1)} | ${s.liveCampaigns} | ${s.processes.map((p) => `${mb(p.rss)} / ${mb(p.heapUsed)}`).join(' | ')} | ${mb(s.redisUsed)} | ${s.redisUsPerDial === undefined || i === 0 ? '—' : `${share(s.redisUsPerDial, s.callsPerSec)} / ${share(s.dialerUsPerDial, s.callsPerSec)}`} | ${int(s.dbsize)} | ${int(s.census.keys.campaign)} | ${int(s.census.keys.attempt)} | ${int(s.census.keys['look-up'])} | ${int(s.census.keys.deployment)} | ${int(s.census.callbackEntries)} |`,
    ),
    '',
    `The last row is taken after the last campaign was deleted and the raw callbacks were pruned as once AUTODIALER_CALLBACK_RETENTION has passed (${int(r.end.pruned)} entries). Live heap, first third of the run against the last (medians): ${r.heapGrowth.map((h) => `${h.role} ${mb(h.from)} → ${mb(h.to)}${h.grows ? ' (**grows**)' : ''}`).join('; ')}; trend over the steady part (least squares): ${heapTrends(r).map((t) => `${t.role} ${t.perMinute >= 0 ? '+' : '−'}${Math.abs(t.perMinute / 1024).toFixed(0)} KB a minute`).join('; ')}.`,
    ...(steadyRows.length > 0 && steadyRows[0]!.redisUsPerDial !== undefined
      ? [
          '',
          `CPU, everything included (dials, callbacks, retries, webhooks, the soak's status polls, exports and deletions, and what the processes do between them), median of the steady minutes: Redis ${share(median(steadyRows.map((x) => x.redisUsPerDial)), median(steadyRows.map((x) => x.callsPerSec)))} of one core, the three dialer processes together ${share(median(steadyRows.map((x) => x.dialerUsPerDial)), median(steadyRows.map((x) => x.callsPerSec)))}, at ${median(steadyRows.map((x) => x.callsPerSec)).toFixed(1)} calls/s. At so low a rate this is mostly the fixed cost of running (timers, polling, the campaigns' status read every second); the cost of a call itself is measured in the scaling section.`,
        ]
      : []),
    ...(steadyLast && firstSample
      ? [
          '',
          `Redis used_memory grew by about ${mb((steadyLast.redisUsed - firstSample.redisUsed) / Math.max(1, steadyLast.minute - firstSample.minute))} a minute while campaigns ran: the raw callback log (${int(steadyLast.census.callbackEntries)} entries by the last minute, kept for AUTODIALER_CALLBACK_RETENTION) and the call-uuid look-ups and frequency history (${int(steadyLast.census.keys['look-up'])} keys, kept a day); a running campaign's own keys and attempt records stayed level (${int(Math.min(...steadyRows.map((s) => s.census.keys.attempt)))}–${int(Math.max(...steadyRows.map((s) => s.census.keys.attempt)))} attempt records: the campaigns live at the time). Once the campaigns were deleted and the log pruned, ${mb(r.end.redisUsed)} remained, the look-ups waiting for their expiry.`,
        ]
      : []),
    '',
    `### Keys at the end against the baseline`,
    '',
    `Baseline: ${int(r.baseline.keys)} keys (${mb(r.baseline.redisUsed)} used), taken after a first campaign had run and been deleted. End: ${int(r.end.keys)} keys (${mb(r.end.redisUsed)} used).`,
    '',
    r.leftovers.left.length === 0 ? '- Left behind (not in the baseline, no expiry): **none**.' : `- Left behind (not in the baseline, no expiry): **${r.leftovers.left.length}**: ${r.leftovers.left.slice(0, 40).map((k) => `\`${k.key}\` (${k.type}, ${k.size})`).join(', ')}.`,
    r.leftovers.grown.length === 0
      ? '- Baseline keys that grew: **none**.'
      : `- Baseline keys that grew: ${r.leftovers.grown.map((g) => `\`${g.key}\` (${g.type} ${g.before} → ${g.after}${g.added.length > 0 ? `; new fields such as ${g.added.slice(0, 3).map((f) => `\`${f}\``).join(', ')}` : ''})`).join(', ')}. After one GET /metrics: ${r.grownAfterScrape.length === 0 ? 'back to the baseline' : r.grownAfterScrape.map((g) => `\`${g.key}\` ${g.after}`).join(', ')}.`,
    expiring.length === 0 ? '- Waiting for their expiry: none.' : `- Waiting for their expiry (by design): ${expiring.map((g) => `${int(g.count)} \`${g.shape}\` (${g.type}, at most ${ttl(g.maxTtlMs)} to live)`).join(', ')}.`,
    `- Once every process had stopped, the deployment at rest (keys without an expiry): ${atRest.map((g) => `\`${g.shape}\`${g.count > 1 ? ` ×${g.count}` : ''}`).join(', ') || 'none'}.`,
    ...(r.processes.some((p) => p.nodeWarnings.length > 0)
      ? ['', 'Node process warnings:', '', ...r.processes.flatMap((p) => p.nodeWarnings.map((w) => `- ${p.role} (pid ${p.pid}): \`${w.split('\n')[0]}\`${w.includes('\n') ? ` from ${w.split('\n').slice(1, 5).map((l) => `\`${l.trim()}\``).join(' ← ')}` : ''}`))]
      : []),
    '',
    `Verdict: ${r.ok ? '**passed**' : `**FAILED**: ${r.problems.join('; ')}`}.`,
  ].join('\n');
}

/** Replaces the `## Soak` section of RESULTS.md (up to the next `## `), or appends it. */
function recordInResults(path: string, section: string): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n';
  const start = text.search(/^## Soak$/m);
  if (start < 0) {
    writeFileSync(path, `${text.trimEnd()}\n\n${section}\n`);
    return;
  }
  const rest = text.slice(start + 1);
  const next = rest.search(/^## /m);
  const end = next < 0 ? text.length : start + 1 + next;
  writeFileSync(path, `${text.slice(0, start)}${section}\n${next < 0 ? '' : `\n${text.slice(end)}`}`);
}

function flags() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      cps: { type: 'string' },
      workers: { type: 'string' },
      'campaign-seconds': { type: 'string' },
      'sample-seconds': { type: 'string' },
      'no-record': { type: 'boolean', default: false },
      json: { type: 'string' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  return values;
}

type Flags = ReturnType<typeof flags>;

function run(values: Flags): Promise<SoakResult> {
  return runSoak({
    minutes: positive('minutes', values.minutes, null, false),
    cps: positive('cps', values.cps, DEFAULT_SOAK.cps, false),
    workers: positive('workers', values.workers, DEFAULT_SOAK.workers, true),
    campaignSeconds: positive('campaign-seconds', values['campaign-seconds'], DEFAULT_SOAK.campaignSeconds, false),
    sampleEveryMs: positive('sample-seconds', values['sample-seconds'], DEFAULT_SOAK.sampleEveryMs / 1000, false) * 1000,
    drainTimeoutMs: DEFAULT_SOAK.drainTimeoutMs,
    log: (line) => process.stdout.write(`${line}\n`),
  });
}

async function main(): Promise<void> {
  const values = flags();
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  // --report FILE: the figures of an earlier run (written with --json), written out again.
  const result: SoakResult = values.report ? (JSON.parse(readFileSync(values.report, 'utf8')) as SoakResult) : await run(values);
  if (values.json && !values.report) writeFileSync(values.json, JSON.stringify(result, null, 1));
  const md = soakMarkdown(result);
  process.stdout.write(`\n${md}\n`);
  for (const p of result.processes.filter((x) => x.errors > 0 || x.code !== 0)) {
    process.stdout.write(`\nlast lines of autodialer ${p.role} (pid ${p.pid}):\n${p.tail.join('\n')}\n`);
  }
  if (!values['no-record']) {
    const dir = resolve(import.meta.dirname, '..', 'bench');
    mkdirSync(join(dir, 'results'), { recursive: true });
    writeFileSync(join(dir, 'results', 'soak.md'), `${md}\n`);
    recordInResults(join(dir, 'RESULTS.md'), md);
    process.stdout.write('\nwritten to bench/results/soak.md and bench/RESULTS.md\n');
  }
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
});
