/**
 * `autodialer campaign rejects <id>`: the rows that were not dialed because
 * of what they hold (invalid, duplicate, do-not-call), with their line
 * numbers and reasons, as CSV or JSON lines.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { exportRejects } from '../reports/rejects.js';
import { CliExit, withContainer, type CliIo } from './shared.js';

export function addRejectsCommand(campaign: Command, io: CliIo): void {
  campaign
    .command('rejects <id>')
    .description('rows not dialed (invalid, duplicate, dnc): line, status, reason, then the original columns')
    .option('--format <f>', 'csv or jsonl', 'csv')
    .option('--out <file>', 'write to a file (default: standard output)')
    .action(async (id: string, flags: { format: string; out?: string }) => {
      if (flags.format !== 'csv' && flags.format !== 'jsonl') throw new CliExit(2, `--format must be csv or jsonl, got ${flags.format}`);
      const format = flags.format;
      await withContainer(io, async (c) => {
        if (!(await c.campaigns.get(id))) throw new CliExit(2, `no campaign with id ${id}`);
        const lines = exportRejects(c, id, format);
        if (flags.out) {
          let rows = -1;
          const counted = (async function* () {
            for await (const l of lines) {
              rows++;
              yield l;
            }
          })();
          await pipeline(Readable.from(counted), createWriteStream(flags.out));
          io.err(`${format === 'csv' ? rows : rows + 1} rejected rows written to ${flags.out}\n`);
        } else {
          for await (const l of lines) io.out(l);
        }
      });
    });
}
