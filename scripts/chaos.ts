/**
 * `npm run chaos`: a campaign dialed by a whole dialer in processes of its
 * own while workers, Redis and the server are killed and started again;
 * then every promise is checked against what the provider saw. Prints a
 * one-screen report; exits 1 on any violation (src/chaos/).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runChaos } from '../src/chaos/run.js';
import { formatMarkdown, withChaosSection } from '../src/chaos/report.js';
import { ChaosOptionsError, type ChaosOptionsInput } from '../src/chaos/options.js';

const HELP = `usage: npm run chaos -- [options]

Starts its own redis-server (AOF, a free loopback port, files in a temporary
folder), one autodialer server, worker processes and the provider simulator
(5xx, 429, resets, unanswered requests, slow answers; duplicate, out-of-order
and lost CDRs), and dials one campaign while it
  - SIGKILLs a random worker every few seconds and starts another,
  - kills Redis (-9) once and shuts it down cleanly once, starting it again,
  - kills the server once and starts it again.
Then it checks, from the simulator's ledger, the exports and (with
DATABASE_URL) the history store: no number called more often than its policy
allows, no two calls to one number overlapping, nothing in doubt redialed,
every contact final and the export agreeing with the ledger contact by
contact, no second above the account's rate. Exit status 1 on any violation
(the folder with the logs, the ledger and the Redis files is then kept).

options:
  --contacts N          contacts in the campaign (default 10000)
  --cps N               the account's calls per second (default 50)
  --workers N           worker processes (default 3)
  --kill-every S        mean seconds between two worker kills (default 5; 0: none)
  --redis-down S        seconds Redis stays down each time (default 3)
  --timeout S           give up when the campaign has not completed by then (default 3600)
  --seed N              random seed of the simulator and the run (default 1)
  --database-url URL    the history store to check too (default: DATABASE_URL)
  --sources             run the TypeScript sources (AUTODIALER_DEV=1) instead of dist/
  --keep                keep the run's folder even when every check passes
  --record              write the figures to the Chaos section of bench/RESULTS.md
  --quiet               no progress lines, the report only
  -h, --help            this text
`;

const number = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new ChaosOptionsError([`--${name} must be a number, got "${v}"`]);
  return n;
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      contacts: { type: 'string' },
      cps: { type: 'string' },
      workers: { type: 'string' },
      'kill-every': { type: 'string' },
      'redis-down': { type: 'string' },
      timeout: { type: 'string' },
      seed: { type: 'string' },
      'database-url': { type: 'string' },
      sources: { type: 'boolean' },
      keep: { type: 'boolean' },
      record: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const raw: ChaosOptionsInput = {
    contacts: number('contacts', values.contacts),
    cps: number('cps', values.cps),
    workers: number('workers', values.workers),
    killEverySeconds: number('kill-every', values['kill-every']),
    redisDownSeconds: number('redis-down', values['redis-down']),
    timeoutSeconds: number('timeout', values.timeout),
    seed: number('seed', values.seed),
    databaseUrl: values['database-url'] ?? process.env.DATABASE_URL ?? null,
    sources: values.sources ?? false,
    keep: values.keep ?? false,
  };
  const abort = new AbortController();
  const interrupt = () => {
    process.stderr.write('chaos: interrupted: stopping every process, then checking what happened\n');
    abort.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const outcome = await runChaos(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)), {
    root: resolve(import.meta.dirname, '..'),
    signal: abort.signal,
    ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
  });
  process.stdout.write(outcome.report);
  if (values.record) {
    const root = resolve(import.meta.dirname, '..');
    const machine = `${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, Node ${process.version}`;
    const section = formatMarkdown(outcome.figures, outcome.checks, machine);
    writeFileSync(join(root, 'bench', 'results', 'chaos.md'), section);
    const results = join(root, 'bench', 'RESULTS.md');
    writeFileSync(results, withChaosSection(existsSync(results) ? readFileSync(results, 'utf8') : '# Benchmark results\n', section));
    process.stderr.write('chaos: figures written to bench/RESULTS.md (Chaos section) and bench/results/chaos.md\n');
  }
  return outcome.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ChaosOptionsError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`chaos: ${(err as Error).message}\nrun "npm run chaos -- --help" for the options\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
