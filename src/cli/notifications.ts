/**
 * `autodialer campaign notifications <id>`: the campaign's notifications
 * given up (newest first, with their last error), and `--resend` to send
 * them again once the webhook's receiver is back.
 */
import type { Command } from 'commander';
import { CliExit, table, wholeNumber, withContainer, type CliIo } from './shared.js';

export function addNotificationsCommand(campaign: Command, io: CliIo): void {
  campaign
    .command('notifications <id>')
    .description("the campaign's given-up webhook notifications, newest first (--resend: send them again)")
    .option('--limit <n>', 'how many to list', wholeNumber, 100)
    .option('--resend', 'put every given-up notification back in the retry set, due now, same delivery id and body (default: list only)')
    .option('--json', 'print JSON (default: text)')
    .action(async (id: string, flags: { limit: number; resend?: boolean; json?: boolean }) => {
      await withContainer(io, async (c) => {
        if (!(await c.campaigns.get(id))) throw new CliExit(2, `no campaign with id ${id}`);
        if (flags.resend) {
          const r = await c.notifications.resend(id);
          io.out(
            flags.json
              ? `${JSON.stringify({ id, ...r })}\n`
              : `campaign ${id}: ${r.resent} notifications to send again (the workers' notifiers send them now)${r.kept > 0 ? `; ${r.kept} kept, with no body to send` : ''}\n`,
          );
          return;
        }
        const failed = await c.notifications.failed(id, Math.max(1, flags.limit));
        if (flags.json) {
          io.out(`${JSON.stringify(failed, null, 2)}\n`);
          return;
        }
        if (failed.length === 0) {
          io.out(`campaign ${id}: no notification given up\n`);
          return;
        }
        const rows = failed.map((f) => [f.failedAt, f.contact, f.status, f.tries, f.reason, f.resendable ? 'yes' : 'no', f.lastError]);
        io.out(table([['failed at', 'contact', 'status', 'tries', 'reason', 'resendable', 'last error'], ...rows]));
      });
    });
}
