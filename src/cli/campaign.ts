/**
 * `autodialer campaign …`: create (with dry run and --wait), add, status,
 * export, list, pause, resume, cancel, pace.
 */
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseDocument as parseYamlDocument } from 'yaml';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { Container } from '../app/container.js';
import type { CampaignStatus } from '../reports/status.js';
import { formatPace } from '../reports/pace.js';
import { exportResults, type ExportFormat } from '../reports/export.js';
import { exportAttempts } from '../reports/attempts-export.js';
import { CliExit, collect, keyValue, positiveNumber, table, wholeNumber, withContainer, type CliIo } from './shared.js';
import { dialQueueName } from '../store/ids.js';
import { sleep } from '../infra/clock.js';
import type { ImportProgress } from '../campaign/import.js';
import { addRejectsCommand } from './rejects.js';
import { addNotificationsCommand } from './notifications.js';
import { addDeleteCommand } from './delete.js';
import type { CampaignLabels } from '../campaign/pace.js';
import { DEFAULT_ACCOUNT_CPS } from '../pacing/account-limits.js';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DELAY_MS } from '../domain/retry.js';
import { formatDuration } from '../domain/duration.js';

interface CreateFlags {
  definition?: string;
  provider?: string;
  action?: string;
  param?: Record<string, string>;
  cps?: number;
  maxConcurrent?: number;
  maxAttempts?: number;
  retryDelay?: string;
  retry?: string[];
  minGap?: string;
  resultTimeout?: string;
  name?: string;
  window?: string;
  days?: string;
  timezone?: string;
  timezoneColumn?: string;
  blackout?: string;
  starts?: string;
  expires?: string;
  phoneColumn?: string;
  region?: string;
  numberFormat?: string;
  encoding?: string;
  delimiter?: string;
  dnc?: string[];
  frequencyCap?: string;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
}

/**
 * A definition file (JSON, or YAML for `.yaml`/`.yml`, as in the jobs
 * directory). A scheduled definition's `schedule` and `contacts` are left
 * out: here the list is the file given on the command line, dialed once.
 */
function readDefinitionFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new CliExit(2, `definition file ${path} does not exist`);
  const text = readFileSync(path, 'utf8');
  let v: unknown;
  if (/\.ya?ml$/i.test(path)) {
    const doc = parseYamlDocument(text, { prettyErrors: true });
    const err = doc.errors[0];
    if (err) throw new CliExit(2, `definition file ${path} is not valid YAML: ${err.message}`);
    v = doc.toJS() as unknown;
  } else {
    try {
      v = JSON.parse(text) as unknown;
    } catch (err) {
      throw new CliExit(2, `definition file ${path} is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CliExit(2, `definition file ${path} is not valid: it must hold an object of definition fields`);
  const { schedule: _schedule, contacts: _contacts, ...fields } = v as Record<string, unknown>;
  return fields;
}

/** Flags override the definition file, field by field. */
export function rawDefinition(flags: CreateFlags): Record<string, unknown> {
  const base = flags.definition ? readDefinitionFile(flags.definition) : {};
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const set = (target: Record<string, unknown>, key: string, v: unknown) => {
    if (v !== undefined) target[key] = v;
  };
  const raw: Record<string, unknown> = { ...base };
  set(raw, 'provider', flags.provider);
  set(raw, 'action', flags.action);
  if (flags.param) raw.params = { ...obj(base.params), ...flags.param };
  set(raw, 'cps', flags.cps);
  set(raw, 'maxConcurrent', flags.maxConcurrent);
  set(raw, 'maxAttempts', flags.maxAttempts);
  set(raw, 'retryDelay', flags.retryDelay);
  if (flags.retry) raw.retry = flags.retry;
  set(raw, 'minGap', flags.minGap);
  set(raw, 'resultTimeout', flags.resultTimeout);
  set(raw, 'name', flags.name);
  const window = { ...obj(base.window) };
  set(window, 'hours', flags.window);
  set(window, 'days', flags.days);
  set(window, 'timezone', flags.timezone);
  set(window, 'timezoneColumn', flags.timezoneColumn);
  set(window, 'blackout', flags.blackout);
  set(window, 'starts', flags.starts);
  set(window, 'expires', flags.expires);
  if (Object.keys(window).length > 0) raw.window = window;
  const ingest = { ...obj(base.ingest) };
  set(ingest, 'phoneColumn', flags.phoneColumn);
  set(ingest, 'region', flags.region);
  set(ingest, 'numberFormat', flags.numberFormat);
  set(ingest, 'encoding', flags.encoding);
  set(ingest, 'delimiter', flags.delimiter);
  if (Object.keys(ingest).length > 0) raw.ingest = ingest;
  if (flags.dnc) raw.dnc = flags.dnc;
  set(raw, 'frequencyCap', flags.frequencyCap);
  return raw;
}

/** How the campaign's own limits were given, for the pace line. */
function paceLabels(flags: CreateFlags): CampaignLabels {
  const given = (flag: string, field: string, value: unknown) =>
    value !== undefined ? `campaign ${flag}` : flags.definition ? `campaign ${field} in ${flags.definition}` : `campaign ${field}`;
  return { cps: given('--cps', 'cps', flags.cps), maxConcurrent: given('--max-concurrent', 'maxConcurrent', flags.maxConcurrent) };
}

function openCsv(path: string): Readable {
  if (!existsSync(path)) throw new CliExit(2, `contact list ${path} does not exist`);
  if (!statSync(path).isFile()) throw new CliExit(2, `contact list ${path} is not a file`);
  return createReadStream(path);
}

function progressPrinter(io: CliIo, fileSize: number): { onProgress: (p: ImportProgress) => void; done: () => void } {
  let last = 0;
  return {
    onProgress: (p) => {
      if (!io.isTty) return;
      const now = Date.now();
      if (now - last < 200 && !p.done) return;
      last = now;
      const pct = fileSize > 0 ? Math.min(100, Math.floor((p.bytesRead / fileSize) * 100)) : 0;
      const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
      io.err(`\r[${bar}] ${pct}%  rows ${p.rowsRead}  enqueued ${p.added}  rejected ${p.rejects}`);
    },
    done: () => {
      if (io.isTty) io.err('\n');
    },
  };
}

export function formatStatus(s: CampaignStatus): string {
  const lines = [
    `campaign ${s.id} "${s.name}": ${s.state}${s.pausedReason ? ` (${s.pausedReason})` : ''}`,
    `${s.provider} ${s.action}, ${s.final}/${s.total} contacts final, ${s.inFlight} in flight, ${s.ready} ready, ${s.scheduled} scheduled later` +
      (s.answerRate !== null ? `, answer rate ${(s.answerRate * 100).toFixed(1)}%` : ''),
    `pace: ${formatPace(s, s.provider)}`,
  ];
  const rows: (string | number)[][] = [['status', 'contacts']];
  for (const [k, v] of Object.entries(s.counts)) if (v > 0) rows.push([k, v]);
  if (s.avgTalkSeconds !== null) lines.push(`average talk time ${s.avgTalkSeconds} s`);
  const keys = Object.entries(s.keypresses);
  if (keys.length > 0) lines.push(`keypresses: ${keys.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (s.eta && s.state !== 'completed' && s.state !== 'cancelled') lines.push(`estimated end ${s.eta}`);
  const cb = s.callbacks;
  const n = s.notifications;
  if (n && n.delivered + n.retrying + n.failed > 0) lines.push(`notifications: ${n.delivered} delivered, ${n.retrying} retrying, ${n.failed} failed`);
  return `${lines.join('\n')}\n${table(rows)}callbacks: ${cb.correlated} results, ${cb.progress} progress, ${cb.duplicate} duplicate, ${cb.late} late, ${cb.orphan} orphan\n`;
}

async function waitUntilDone(c: Container, io: CliIo, id: string): Promise<CampaignStatus> {
  let warned = false;
  let lastLine = '';
  const started = Date.now();
  for (;;) {
    const s = await c.status(id);
    if (!s) throw new CliExit(1, `campaign ${id} disappeared`);
    const line = `${s.state}: ${s.final}/${s.total} final, ${s.inFlight} in flight, answered ${s.counts.answered}`;
    if (line !== lastLine) {
      io.err(io.isTty ? `\r${line.padEnd(70)}` : `${line}\n`);
      lastLine = line;
    }
    if (s.state === 'completed' || s.state === 'cancelled') {
      if (io.isTty) io.err('\n');
      return s;
    }
    if (!warned && Date.now() - started > 5000) {
      const workers = await c.queues.get(id).getWorkersCount();
      if (workers === 0) {
        io.err(`\nno worker is taking jobs from ${dialQueueName(id)}: start one with "autodialer worker" (or "autodialer start")\n`);
        warned = true;
      }
    }
    await sleep(1000);
  }
}

export function addCampaignCommands(program: Command, io: CliIo): void {
  const campaign = program.command('campaign').description('create and run campaigns');

  campaign
    .command('create <csv>')
    .description('stream a contact list into a new campaign and print its id')
    .option('--definition <file>', 'campaign definition (JSON, see jobs/); flags override it (default: none, flags only)')
    .option('--provider <name>', "sipcall or pbx (default: the action's provider)")
    .option('--action <name>', 'playvoice, makecall, doublecall or originate (default: none, required here or in the definition)')
    .option('--param <key=value>', 'an operation field (voicefile, userid, extnumber, caller, context, …); repeat (default: none)', keyValue)
    .option(
      '--cps <n>',
      `calls per second for this campaign (default: 0, no campaign limit: the provider account's rate applies, ${DEFAULT_ACCOUNT_CPS} calls/s unless SIPCALL_MAX_CPS, PBX_MAX_CPS or account pace sets it; the lower of the two holds)`,
      positiveNumber,
    )
    .option(
      '--max-concurrent <n>',
      "calls in progress at once (channels) (default: 0, no campaign limit: the provider account's cap applies, none unless SIPCALL_MAX_CHANNELS, PBX_MAX_CHANNELS or account pace sets one)",
      wholeNumber,
    )
    .option('--max-attempts <n>', `dials per contact, the first included (default: ${DEFAULT_MAX_ATTEMPTS})`, wholeNumber)
    .option(
      '--retry-delay <duration>',
      `wait before retrying busy, no_answer, failed and no_result, again until --max-attempts (default: ${formatDuration(DEFAULT_RETRY_DELAY_MS)})`,
    )
    .option(
      '--retry <outcome=delays>',
      'retry schedule for one outcome, e.g. busy=5m,30m or in_doubt=never; repeat (default: busy, no_answer, failed, no_result after --retry-delay until --max-attempts; rejected, in_doubt never)',
      collect,
    )
    .option('--min-gap <duration>', 'least time between two calls to one number (default: 0, no gap beyond the retry delay)')
    .option('--result-timeout <duration>', 'how long to wait for a call result (default: 3m)')
    .option('--name <name>', 'campaign name (default: "<action> campaign")')
    .option('--window <hours>', 'calling hours, e.g. 09:00-20:00 (default: any hour)')
    .option('--days <days>', 'calling days, e.g. mon-fri (default: every day)')
    .option('--timezone <zone>', 'campaign time zone for contacts without one (default: SIPCALL_TIMEZONE, else PBX_TIMEZONE)')
    .option('--timezone-column <column>', "the list's time zone column (default: none, zones from the numbers' countries)")
    .option('--blackout <dates>', 'dates with no calls, e.g. 2026-12-25,2027-01-01 (default: none)')
    .option('--starts <iso>', 'no calls before this time (default: at once)')
    .option('--expires <iso>', 'what is left at this time is expired (default: never)')
    .option('--phone-column <column>', 'the phone column (default: found by its header)')
    .option('--region <cc>', 'default phone region, e.g. CN (default: AUTODIALER_DEFAULT_REGION, else numbers need a country code)')
    .option('--number-format <f>', 'e164, national or as_written (default: as_written)')
    .option('--encoding <enc>', 'file encoding (default: detected)')
    .option('--delimiter <d>', 'field delimiter (default: detected)')
    .option('--dnc <list>', 'a do-not-call list to honour; repeat (default: none)', collect)
    .option(
      '--frequency-cap <caps>',
      'attempts per number within rolling periods, counted across campaigns, e.g. 2/1d,7/7d (default: only the deployment\'s AUTODIALER_FREQUENCY_CAP)',
    )
    .option('--dry-run', 'read and check the whole list, enqueue nothing (default: create the campaign)')
    .option('--wait', 'show progress until the campaign is done (default: print the id and return)')
    .option('--json', 'print JSON (default: text)')
    .action(async (csv: string, flags: CreateFlags) => {
      await withContainer(io, async (c) => {
        const def = c.definition(rawDefinition(flags));
        const pace = await c.pace(def, paceLabels(flags));
        if (flags.dryRun) {
          const s = await c.dryRun(def, openCsv(csv), basename(csv));
          if (flags.json) io.out(`${JSON.stringify({ ...s, pace }, null, 2)}\n`);
          else {
            io.out(`dry run of ${csv}: nothing enqueued\n`);
            io.out(table([
              ['rows read', s.rowsRead],
              ['to dial', s.added],
              ['invalid', s.invalid],
              ...Object.entries(s.invalidByReason).map(([k, v]) => [`  ${k}`, v] as [string, number]),
              ['duplicate', s.duplicate],
              ['dnc', s.dnc],
              ['estimated duration (s)', s.estimatedSeconds ?? 'no pace limit'],
            ]));
            io.out(`${pace.text}\n`);
          }
          return;
        }
        const size = statSync(csv, { throwIfNoEntry: false })?.size ?? 0;
        const progress = progressPrinter(io, size);
        const { id, summary } = await c.createCampaign(def, openCsv(csv), basename(csv), { onProgress: progress.onProgress });
        progress.done();
        if (flags.json && !flags.wait) io.out(`${JSON.stringify({ id, import: summary, pace }, null, 2)}\n`);
        else if (!flags.json) {
          // The id alone on standard output (scripts read it); the pace beside the progress.
          io.out(`${id}\n`);
          io.err(`${pace.text}\n`);
        }
        if (flags.wait) {
          const s = await waitUntilDone(c, io, id);
          io.out(flags.json ? `${JSON.stringify({ id, import: summary, pace, status: s }, null, 2)}\n` : formatStatus(s));
        }
      });
    });

  campaign
    .command('add <id> <csv>')
    .description('add a contact list to a campaign (numbers already in it are not added twice)')
    .option('--json', 'print JSON (default: text)')
    .action(async (id: string, csv: string, flags: { json?: boolean }) => {
      await withContainer(io, async (c) => {
        const s = await c.addContacts(id, openCsv(csv), basename(csv));
        io.out(flags.json ? `${JSON.stringify(s, null, 2)}\n` : `added ${s.added}, already in campaign ${s.alreadyInCampaign}, invalid ${s.invalid}, duplicate ${s.duplicate}, dnc ${s.dnc}\n`);
      });
    });

  campaign
    .command('status <id>')
    .description("a campaign's state and counts by contact status")
    .option('--json', 'print JSON (default: text)')
    .action(async (id: string, flags: { json?: boolean }) => {
      await withContainer(io, async (c) => {
        const s = await c.status(id);
        if (!s) throw new CliExit(2, `no campaign with id ${id}`);
        io.out(flags.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
      });
    });

  campaign
    .command('export <id>')
    .description('results, one row per contact: its CSV columns then its result (--attempts: one row per attempt)')
    .option('--format <f>', 'csv or jsonl', 'csv')
    .option('--attempts', 'one row per attempt instead of one per contact (default: one row per contact)')
    .option('--out <file>', 'write to a file (default: standard output)')
    .action(async (id: string, flags: { format: string; out?: string; attempts?: boolean }) => {
      if (flags.format !== 'csv' && flags.format !== 'jsonl') throw new CliExit(2, `--format must be csv or jsonl, got ${flags.format}`);
      await withContainer(io, async (c) => {
        // A campaign deleted from Redis is still exported from the history store.
        if (!(await c.campaigns.get(id)) && !(await c.history.campaign(id))) throw new CliExit(2, `no campaign with id ${id}`);
        const lines = (flags.attempts ? exportAttempts : exportResults)(c, id, flags.format as ExportFormat);
        if (flags.out) {
          await pipeline(Readable.from(lines), createWriteStream(flags.out));
          io.err(`results written to ${flags.out}\n`);
        } else {
          for await (const l of lines) io.out(l);
        }
      });
    });

  campaign
    .command('list')
    .description('campaigns, newest last')
    .option('--json', 'print JSON (default: text)')
    .action(async (flags: { json?: boolean }) => {
      await withContainer(io, async (c) => {
        const rows = [];
        for (const id of await c.campaigns.list()) {
          const r = await c.campaigns.get(id);
          if (r) rows.push({ id, name: r.definition.name, state: r.state, total: r.total, createdAt: r.createdAt });
        }
        if (flags.json) io.out(`${JSON.stringify(rows, null, 2)}\n`);
        else io.out(table([['id', 'state', 'contacts', 'created', 'name'], ...rows.map((r) => [r.id, r.state, r.total, r.createdAt, r.name])]));
      });
    });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    campaign
      .command(`${action} <id>`)
      .description(`${action} a campaign on every worker`)
      .action(async (id: string) => {
        await withContainer(io, async (c) => {
          await c.control[action](id);
          io.out(`campaign ${id}: ${(await c.campaigns.get(id))?.state}\n`);
        });
      });
  }

  campaign
    .command('pace <id>')
    .description("change a running campaign's pace (takes effect within a second)")
    .option('--cps <n>', "the campaign's calls per second, 0 for no campaign limit (default: unchanged)", positiveNumber)
    .option('--max-concurrent <n>', "the campaign's channels, 0 for no campaign limit (default: unchanged)", wholeNumber)
    .action(async (id: string, flags: { cps?: number; maxConcurrent?: number }) => {
      await withContainer(io, async (c) => {
        const p = await c.control.pace(id, { ...(flags.cps !== undefined ? { cps: flags.cps } : {}), ...(flags.maxConcurrent !== undefined ? { maxConcurrent: flags.maxConcurrent } : {}) });
        const record = await c.campaigns.get(id);
        io.out(`campaign ${id}: ${p.cps} cps, ${p.maxConcurrent} channels (0: no campaign limit)\n`);
        if (record) {
          const labels = { cps: 'campaign pace --cps', maxConcurrent: 'campaign pace --max-concurrent' };
          io.out(`${(await c.pace({ ...record.definition, ...p }, labels)).text}\n`);
        }
      });
    });

  addRejectsCommand(campaign, io);
  addNotificationsCommand(campaign, io);
  addDeleteCommand(campaign, io);
}
