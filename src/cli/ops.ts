/**
 * `autodialer account pace`, `dnc …`, `callbacks replay`.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PROVIDER_FAMILIES, type ProviderFamily } from '../domain/types.js';
import { checkPhone } from '../ingest/index.js';
import { callbackStats } from '../reports/metrics.js';
import { ACCOUNT_LIMIT_VARS, DEFAULT_ACCOUNT_CPS, type AccountPace, type LimitOrigin } from '../pacing/account-limits.js';
import { CliExit, positiveNumber, table, wholeNumber, withContainer, type CliIo } from './shared.js';

function readNumbers(path: string, region: string | null): { numbers: string[]; bad: string[] } {
  if (!existsSync(path)) throw new CliExit(2, `number file ${path} does not exist`);
  const numbers: string[] = [];
  const bad: string[] = [];
  readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      const cell = line.split(/[,;\t|]/)[0]?.trim() ?? '';
      if (cell === '' || (i === 0 && !/\d/.test(cell))) return;
      const r = checkPhone(cell, { region, numberFormat: 'e164', allowExtensions: false });
      if (r.ok) numbers.push(r.phone.e164);
      else bad.push(`line ${i + 1}: ${r.problem}`);
    });
  return { numbers, bad };
}

const ORIGIN_WORDS: Record<LimitOrigin, (variable: string) => string> = {
  operator: () => 'set by autodialer account pace; --reset drops it',
  env: (variable) => variable,
  default: (variable) => `default; set ${variable} or autodialer account pace`,
};

/** `account sipcall: 10 calls/s (default; set SIPCALL_MAX_CPS or autodialer account pace), channels: no limit (default; …)`. */
export function formatAccountPace(family: ProviderFamily, pace: AccountPace): string {
  const vars = ACCOUNT_LIMIT_VARS[family];
  const rate = pace.cps > 0 ? `${pace.cps} calls/s` : 'no rate limit';
  const channels = pace.maxConcurrent > 0 ? String(pace.maxConcurrent) : 'no limit';
  return (
    `account ${family}: ${rate} (${ORIGIN_WORDS[pace.cpsFrom](vars.cps)}), ` +
    `channels: ${channels} (${ORIGIN_WORDS[pace.maxConcurrentFrom](vars.maxConcurrent)})`
  );
}

export function addOpsCommands(program: Command, io: CliIo): void {
  const account = program.command('account').description('provider accounts');
  account
    .command('pace <provider>')
    .description(
      'show or set calls per second and channels for a provider account, shared by all campaigns and workers. ' +
        `Where unset: the environment of the dialing processes (SIPCALL_MAX_CPS, SIPCALL_MAX_CHANNELS, PBX_MAX_CPS, PBX_MAX_CHANNELS), else ${DEFAULT_ACCOUNT_CPS} calls/s and no channel cap; ` +
        'what this command sets stays over the environment until --reset',
    )
    .option('--cps <n>', 'calls per second, 0 for no limit (default: unchanged)', positiveNumber)
    .option('--max-concurrent <n>', 'calls in progress at once, 0 for no limit (default: unchanged)', wholeNumber)
    .option('--reset', "drop what this command set: back to the dialing processes' environment, else the defaults (default: keep it)")
    .option('--json', 'print JSON (default: text)')
    .action(async (provider: string, flags: { cps?: number; maxConcurrent?: number; reset?: boolean; json?: boolean }) => {
      if (!(PROVIDER_FAMILIES as readonly string[]).includes(provider)) throw new CliExit(2, `provider must be one of ${PROVIDER_FAMILIES.join(', ')}`);
      const family = provider as ProviderFamily;
      const setting = flags.cps !== undefined || flags.maxConcurrent !== undefined;
      if (flags.reset && setting) throw new CliExit(2, 'account pace: give --reset alone, or --cps/--max-concurrent without it');
      await withContainer(io, async (c) => {
        const env = c.config.accountLimits[family];
        const pace = flags.reset
          ? await c.accountLimits.reset(family, env)
          : setting
            ? await c.accountLimits.setByOperator(family, { ...(flags.cps !== undefined ? { cps: flags.cps } : {}), ...(flags.maxConcurrent !== undefined ? { maxConcurrent: flags.maxConcurrent } : {}) }, env)
            : await c.accountLimits.current(family, env);
        io.out(flags.json ? `${JSON.stringify({ account: family, ...pace }, null, 2)}\n` : `${formatAccountPace(family, pace)}\n`);
      });
    });

  const dnc = program.command('dnc').description('do-not-call lists');
  dnc
    .command('add <list> <file>')
    .description('add the numbers of a file (one per line, or the first CSV column) to a list')
    .option('--region <cc>', 'region of numbers written without a country code (default: AUTODIALER_DEFAULT_REGION, else numbers need one)')
    .action(async (list: string, file: string, flags: { region?: string }) => {
      await withContainer(io, async (c) => {
        const { numbers, bad } = readNumbers(file, flags.region?.toUpperCase() ?? c.config.defaultRegion);
        const added = await c.dnc.add(list, numbers);
        io.out(`${added} numbers added to ${list} (${numbers.length - added} already there)\n`);
        for (const b of bad) io.err(`skipped ${b}\n`);
      });
    });
  dnc
    .command('remove <list> <file>')
    .description('remove the numbers of a file from a list')
    .option('--region <cc>', 'region of numbers written without a country code (default: AUTODIALER_DEFAULT_REGION, else numbers need one)')
    .action(async (list: string, file: string, flags: { region?: string }) => {
      await withContainer(io, async (c) => {
        const { numbers, bad } = readNumbers(file, flags.region?.toUpperCase() ?? c.config.defaultRegion);
        io.out(`${await c.dnc.remove(list, numbers)} numbers removed from ${list}\n`);
        for (const b of bad) io.err(`skipped ${b}\n`);
      });
    });
  dnc
    .command('check <number>')
    .description('which lists hold a number')
    .option('--region <cc>', 'region of a number written without a country code (default: AUTODIALER_DEFAULT_REGION, else it needs one)')
    .action(async (number: string, flags: { region?: string }) => {
      await withContainer(io, async (c) => {
        const r = checkPhone(number, { region: flags.region?.toUpperCase() ?? c.config.defaultRegion, numberFormat: 'e164', allowExtensions: false });
        if (!r.ok) throw new CliExit(2, `${number}: ${r.problem}`);
        const lists = await c.dnc.check(r.phone.e164, (await c.dnc.lists()).map((l) => l.name));
        io.out(lists.length > 0 ? `${r.phone.e164} is on: ${lists.join(', ')}\n` : `${r.phone.e164} is on no list\n`);
      });
    });
  dnc
    .command('lists')
    .description('the lists and their sizes')
    .action(async () => {
      await withContainer(io, async (c) => {
        io.out(table([['list', 'numbers'], ...(await c.dnc.lists()).map((l) => [l.name, l.size])]));
      });
    });

  const callbacks = program.command('callbacks').description('stored callbacks');
  callbacks
    .command('stats')
    .description("the deployment's callbacks: received, what they turned out to be (refusals and orphans included), stored and pending")
    .option('--json', 'print JSON (default: a table)')
    .action(async (flags: { json?: boolean }) => {
      await withContainer(io, async (c) => {
        const s = await callbackStats(c);
        if (flags.json) io.out(`${JSON.stringify(s, null, 2)}\n`);
        else io.out(table([['callbacks', 'count'], ...Object.entries(s.counters).map(([k, v]) => [k, v]), ['stored (in the log)', s.stored], ['pending (not interpreted yet)', s.pending]]));
      });
    });
  callbacks
    .command('replay')
    .description('interpret stored callbacks again, in order (final outcomes never change twice)')
    .option('--from <id>', 'first stream id (default: the oldest stored)')
    .option('--to <id>', 'last stream id (default: the newest stored)')
    .action(async (flags: { from?: string; to?: string }) => {
      await withContainer(io, async (c) => {
        const tally = await c.receiver.replay({ ...(flags.from ? { from: flags.from } : {}), ...(flags.to ? { to: flags.to } : {}) });
        io.out(table([['result', 'callbacks'], ...Object.entries(tally).map(([k, v]) => [k, v])]));
      });
    });
}
