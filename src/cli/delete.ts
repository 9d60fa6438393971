/**
 * `autodialer campaign delete <id> --yes`: deletes a finished campaign and
 * everything stored for it (export its results first).
 */
import type { Command } from 'commander';
import { CliExit, withContainer, type CliIo } from './shared.js';

export function addDeleteCommand(campaign: Command, io: CliIo): void {
  campaign
    .command('delete <id>')
    .description('delete a completed (or cancelled and ended) campaign: its contacts, attempts, results and queue (export them first)')
    .option('--yes', 'really delete (default: nothing is deleted)')
    .option('--json', 'print JSON (default: text)')
    .action(async (id: string, flags: { yes?: boolean; json?: boolean }) => {
      await withContainer(io, async (c) => {
        const record = await c.campaigns.get(id);
        if (!record) throw new CliExit(2, `no campaign with id ${id}`);
        if (!flags.yes) {
          throw new CliExit(
            2,
            `campaign ${id} ("${record.definition.name}", ${record.total} contacts, ${record.state}) would be deleted with every result it holds: export them first (campaign export ${id}), then run again with --yes`,
          );
        }
        const r = await c.purge.purge(id);
        io.out(flags.json ? `${JSON.stringify({ id, deleted: true, ...r })}\n` : `campaign ${id} deleted (${r.keys} keys)\n`);
      });
    });
}
