/**
 * `autodialer account pace`, `dnc …`, `callbacks replay`.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PROVIDER_FAMILIES, type ProviderFamily } from '../domain/types.js';
import { checkPhone } from '../ingest/index.js';
import { callbackStats } from '../reports/metrics.js';
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

export function addOpsCommands(program: Command, io: CliIo): void {
  const account = program.command('account').description('provider accounts');
  account
    .command('pace <provider>')
    .description('calls per second and channels for a provider account, shared by all campaigns and workers')
    .option('--cps <n>', 'calls per second (0: no limit)', positiveNumber)
    .option('--max-concurrent <n>', 'calls in progress at once (0: no limit)', wholeNumber)
    .action(async (provider: string, flags: { cps?: number; maxConcurrent?: number }) => {
      if (!(PROVIDER_FAMILIES as readonly string[]).includes(provider)) throw new CliExit(2, `provider must be one of ${PROVIDER_FAMILIES.join(', ')}`);
      await withContainer(io, async (c) => {
        const cur = await c.pacer.getAccountLimits(provider as ProviderFamily);
        const next = { cps: flags.cps ?? cur.cps, maxConcurrent: flags.maxConcurrent ?? cur.maxConcurrent };
        await c.pacer.setAccountLimits(provider, next);
        io.out(`account ${provider}: ${next.cps || 'unlimited'} cps, ${next.maxConcurrent || 'unlimited'} channels\n`);
      });
    });

  const dnc = program.command('dnc').description('do-not-call lists');
  dnc
    .command('add <list> <file>')
    .description('add the numbers of a file (one per line, or the first CSV column) to a list')
    .option('--region <cc>', 'region of numbers written without a country code')
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
    .option('--region <cc>', 'region of numbers written without a country code')
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
    .option('--region <cc>', 'region of a number written without a country code')
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
    .option('--json', 'print JSON')
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
    .option('--from <id>', 'first stream id')
    .option('--to <id>', 'last stream id')
    .action(async (flags: { from?: string; to?: string }) => {
      await withContainer(io, async (c) => {
        const tally = await c.receiver.replay({ ...(flags.from ? { from: flags.from } : {}), ...(flags.to ? { to: flags.to } : {}) });
        io.out(table([['result', 'callbacks'], ...Object.entries(tally).map(([k, v]) => [k, v])]));
      });
    });
}
