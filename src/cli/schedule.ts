/**
 * `autodialer schedule …`: sync the job schedulers with the definition
 * files, list the schedules, show a schedule's runs, run one now.
 */
import type { Command } from 'commander';
import { formatProblem, RunBusyError, RunStartError, type DefinitionProblem, type SyncChange } from '../schedule/index.js';
import { localTime } from '../schedule/match.js';
import { ScheduleError, type RunView } from '../schedule/index.js';
import { CliExit, table, wholeNumber, withContainer, type CliIo } from './shared.js';

function when(ms: number | null, zone: string | null): string {
  if (ms === null) return '';
  const utc = new Date(ms).toISOString();
  return zone ? `next ${utc} (${localTime(ms, zone)} ${zone})` : `next ${utc}`;
}

function printProblems(io: CliIo, problems: DefinitionProblem[]): void {
  for (const p of problems) io.err(`${formatProblem(p)}\n`);
}

function changeLine(c: SyncChange): string[] {
  return [c.change, c.name, c.next !== null ? when(c.next, c.timezone) : (c.detail ?? '')];
}

function countsText(r: RunView): string {
  if (!r.counts) return '';
  return Object.entries(r.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** Errors a user can act on end with one line and exit code 2. */
async function plainErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleError || err instanceof RunStartError || err instanceof RunBusyError) throw new CliExit(2, err.message);
    throw err;
  }
}

export function addScheduleCommands(program: Command, io: CliIo): void {
  const schedule = program.command('schedule').description('scheduled campaigns: definition files (AUTODIALER_JOBS_DIR, default jobs/) that run on a cron or an interval');

  schedule
    .command('sync')
    .description('make the job schedulers match the definition files (create, update, remove) and print what changed')
    .option('--dir <dir>', 'the definitions directory (default AUTODIALER_JOBS_DIR, else jobs/)')
    .option('--json', 'print JSON (default: text)')
    .action(async (flags: { dir?: string; json?: boolean }) => {
      await withContainer(io, async (c) => {
        const report = await c.schedules.sync(flags.dir);
        if (flags.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
        else io.out(report.changes.length > 0 ? table(report.changes.map(changeLine)) : 'no definitions\n');
        printProblems(io, report.problems);
        if (report.problems.length > 0) throw new CliExit(2, `${report.problems.length} problem(s) in definition files: those files were left as they were scheduled`);
      });
    });

  schedule
    .command('list')
    .description('each scheduled definition: its schedule, next run (UTC and local), last run')
    .option('--dir <dir>', 'the definitions directory (default AUTODIALER_JOBS_DIR, else jobs/)')
    .option('--json', 'print JSON (default: text)')
    .action(async (flags: { dir?: string; json?: boolean }) => {
      await withContainer(io, async (c) => {
        const { schedules, problems } = await c.schedules.list(flags.dir);
        if (flags.json) io.out(`${JSON.stringify(schedules, null, 2)}\n`);
        else {
          const rows = schedules.map((s) => [
            s.name,
            s.cron ? `cron ${s.cron}` : s.every ? `every ${s.every}` : 'when asked',
            s.next?.utc ?? '',
            s.next ? s.next.local : '',
            s.lastRun ? `${s.lastRun.id ?? '-'} ${s.lastRun.tick} ${s.lastRun.state}` : '',
            s.cron || s.every ? (s.synced ? '' : 'not synced') : '',
          ]);
          io.out(table([['name', 'schedule', 'next (UTC)', 'next (local)', 'last run', ''], ...rows]));
        }
        printProblems(io, problems);
      });
    });

  schedule
    .command('runs <name>')
    .description("a schedule's runs, newest first: campaign, tick, state, contact counts")
    .option('--limit <n>', 'how many', wholeNumber, 50)
    .option('--json', 'print JSON (default: text)')
    .action(async (name: string, flags: { limit: number; json?: boolean }) => {
      await withContainer(io, async (c) => {
        const runs = await c.schedules.runs(name, flags.limit);
        if (flags.json) {
          io.out(`${JSON.stringify(runs.map((r) => (r.state === 'skipped' ? { tick: r.tick, state: r.state } : r)), null, 2)}\n`);
          return;
        }
        if (runs.length === 0) {
          io.out(`no runs of ${name} yet\n`);
          return;
        }
        io.out(table([['tick', 'state', 'campaign', 'contacts'], ...runs.map((r) => [r.tick, r.state + (r.manual ? ' (by hand)' : ''), r.id ?? '', r.error ? `error: ${r.error.replace(/\s*\n\s*-?\s*/g, ' ')}` : countsText(r)])]));
      });
    });

  schedule
    .command('run <name>')
    .description('one run of a definition now, outside its schedule; prints its campaign id')
    .option('--dir <dir>', 'the definitions directory (default AUTODIALER_JOBS_DIR, else jobs/)')
    .option('--json', 'print JSON (default: text)')
    .action(async (name: string, flags: { dir?: string; json?: boolean }) => {
      await withContainer(io, (c) =>
        plainErrors(async () => {
          const r = await c.schedules.runNow(name, flags.dir);
          if (flags.json) io.out(`${JSON.stringify({ id: r.campaignId, tick: new Date(r.tick).toISOString(), state: r.state }, null, 2)}\n`);
          else io.out(`${r.campaignId ?? r.state}\n`);
        }),
      );
    });
}
