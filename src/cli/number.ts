/**
 * `autodialer number history <phone>`: every attempt to a number across
 * campaigns, newest first — from the history store (DATABASE_URL) and the
 * recent attempts Redis still holds.
 */
import type { Command } from 'commander';
import { checkPhone, cleanNumber } from '../ingest/phone.js';
import { numberHistory, type NumberAttempt } from '../history/index.js';
import { CliExit, table, wholeNumber, withContainer, type CliIo } from './shared.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function asJson(a: NumberAttempt) {
  return {
    attemptId: a.id,
    campaignId: a.cid,
    campaignName: a.campaignName,
    attempt: a.n,
    number: a.number,
    state: a.state,
    outcome: a.outcome,
    late: a.late,
    dialingAt: iso(a.dialingAt),
    finalAt: iso(a.finalAt),
    billsec: a.billsec,
    userkey: a.userkey,
    hangupcause: a.hangupcause,
    providerCallId: a.providerCallId ?? a.callUuid,
    error: a.error,
  };
}

export function addNumberCommands(program: Command, io: CliIo): void {
  const number = program.command('number').description("a phone number's calls across campaigns");
  number
    .command('history <phone>')
    .description('every attempt to a number across campaigns, newest first (written as the lists had it, best in E.164: +8613800000001)')
    .option('--limit <n>', 'attempts at most', wholeNumber, 1000)
    .option('--json', 'print JSON (default: text)')
    .action(async (phone: string, flags: { limit: number; json?: boolean }) => {
      const cleaned = cleanNumber(phone);
      if (!cleaned.ok) throw new CliExit(2, `phone ${JSON.stringify(phone)} ${cleaned.problem}`);
      await withContainer(io, async (c) => {
        const check = checkPhone(phone, { region: c.config.defaultRegion, numberFormat: 'e164', allowExtensions: false });
        const e164 = check.ok ? check.phone.e164 : null;
        const store = c.history.store;
        const found = await numberHistory({ redis: c.redis, keys: c.keys, attempts: c.attempts, store }, { e164, asGiven: cleaned.number }, Math.max(1, flags.limit));
        // Attempts Redis still holds name their campaign from its record.
        const names = new Map<string, string | null>();
        for (const a of found) {
          if (a.campaignName !== null) continue;
          if (!names.has(a.cid)) names.set(a.cid, (await c.campaigns.get(a.cid))?.definition.name ?? null);
          a.campaignName = names.get(a.cid) ?? null;
        }
        if (!store) io.err('no history store (DATABASE_URL): only the attempts Redis still holds are listed\n');
        if (flags.json) {
          io.out(`${JSON.stringify({ number: e164 ?? cleaned.number, attempts: found.map(asJson) }, null, 2)}\n`);
          return;
        }
        if (found.length === 0) {
          io.out(`no attempt to ${e164 ?? cleaned.number}\n`);
          return;
        }
        const rows: (string | number)[][] = [['dialed at', 'campaign', 'attempt', 'outcome', 'billsec', 'hangupcause', 'name']];
        for (const a of found) {
          rows.push([iso(a.dialingAt) ?? '', a.cid, a.id, a.outcome ?? a.state, a.billsec ?? '', a.hangupcause ?? '', a.campaignName ?? '']);
        }
        io.out(table(rows));
      });
    });
}
