/**
 * Definition files → parsed definitions. A file in the jobs directory is a
 * campaign definition (the `--definition` fields) in YAML or JSON, plus
 * `contacts` (the list each run dials) and `schedule` (when it runs). Its
 * name is its file name. Every problem names the file, the line, the field
 * and what to change; one bad file never stops the others.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { DateTime, IANAZone } from 'luxon';
import { LineCounter, isMap, isNode, isScalar, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { DefinitionError, parseCampaignDefinition, rawDefinitionSchema } from '../campaign/definition.js';
import { parseDuration } from '../domain/duration.js';
import { cronProblem, MIN_EVERY_MS, type ScheduleSpec, type Timing } from './match.js';

export const DEFINITION_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_FILE_BYTES = 1024 * 1024;

export interface DefinitionProblem {
  file: string;
  /** 1-based, when the problem has a place in the file. */
  line: number | null;
  /** The field, dotted (`schedule.cron`), when the problem is one field's. */
  field: string | null;
  message: string;
}

export function formatProblem(p: DefinitionProblem): string {
  return `${p.file}${p.line !== null ? `:${p.line}` : ''}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export type ContactsSource = { kind: 'file'; path: string } | { kind: 'url'; url: string };

export interface ScheduleSource {
  /** As written, for listings. */
  cron: string | null;
  every: string | null;
}

export interface ParsedDefinition {
  name: string;
  /** Absolute path of the file. */
  file: string;
  /** The campaign definition fields as written (no `schedule`, no `contacts`). */
  raw: Record<string, unknown>;
  contacts: ContactsSource | null;
  schedule: (ScheduleSpec & { source: ScheduleSource }) | null;
  /** Changes whenever anything that shapes a run changes. */
  fingerprint: string;
}

export interface LoadedDefinitions {
  definitions: ParsedDefinition[];
  problems: DefinitionProblem[];
  /** False when the directory itself cannot be read (then nothing is known of its files). */
  readable: boolean;
}

const scheduleSchema = z
  .object({
    cron: z.string({ message: 'schedule.cron must be a cron expression in quotes, such as "0 10 * * 1-5"' }).optional(),
    every: z.union([z.string(), z.number()], { message: 'schedule.every must be a duration such as 30s, 15m or 1h' }).optional(),
    timezone: z.string({ message: 'schedule.timezone must be an IANA zone such as Asia/Shanghai' }).optional(),
    startDate: z.string({ message: 'schedule.startDate must be a date or time in quotes, such as "2026-03-01" or "2026-03-01T09:00"' }).optional(),
    endDate: z.string({ message: 'schedule.endDate must be a date or time in quotes, such as "2026-12-31" or "2026-12-31T18:00"' }).optional(),
    overlap: z.enum(['skip', 'parallel'], { message: 'schedule.overlap must be skip (a tick while the last run is still active is skipped) or parallel' }).optional(),
  })
  .strict();

const fileSchema = rawDefinitionSchema
  .extend({
    contacts: z.string({ message: 'contacts must be a path (relative to this file) or an http(s) URL' }).min(1, 'contacts must not be empty').optional(),
    schedule: scheduleSchema.optional(),
  })
  .strict();

/** The line of a map's key, when `parent` is a map that has it. */
function keyLine(parent: unknown, key: string | number, lc: LineCounter): number | null {
  if (!isMap(parent)) return null;
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === key);
  const range = pair && isScalar(pair.key) ? pair.key.range : null;
  return range ? lc.linePos(range[0]).line : null;
}

/** Where a field stands in the file: its key's line (the deepest part of its path that exists). */
function lineOf(doc: Document, lc: LineCounter, path: readonly (string | number)[], key?: string): number | null {
  const at = (n: number): unknown => (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true));
  for (let n = path.length; n >= 0; n--) {
    const node = at(n);
    if (!isNode(node) || !node.range) continue;
    if (key !== undefined && n === path.length) {
      const line = keyLine(node, key, lc);
      if (line !== null) return line;
    }
    if (n > 0) {
      const line = keyLine(at(n - 1), path[n - 1]!, lc);
      if (line !== null) return line;
    }
    return lc.linePos(node.range[0]).line;
  }
  return null;
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A date (`2026-03-01`: that day's start, or end for endDate) or a time, read in `zone` unless it has an offset. */
function dateIn(value: string, zone: string, end: boolean): number | null {
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value.trim());
  const d = DateTime.fromISO(value.trim(), { zone, setZone: false });
  if (!d.isValid) return null;
  return (date && end ? d.endOf('day') : d).toMillis();
}

function parseDocumentText(file: string, text: string): { value: unknown; doc: Document; lc: LineCounter } | DefinitionProblem {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (extname(file).toLowerCase() === '.json') {
    try {
      return { value: JSON.parse(text) as unknown, doc, lc };
    } catch (err) {
      const pos = /position (\d+)/.exec((err as Error).message);
      const line = pos ? lc.linePos(Number(pos[1])).line : (doc.errors[0] ? lc.linePos(doc.errors[0].pos[0]).line : null);
      return { file, line, field: null, message: `not valid JSON (${(err as Error).message}): fix the syntax` };
    }
  }
  const first = doc.errors[0];
  if (first) {
    const line = lc.linePos(first.pos[0]).line;
    const lineText = text.split(/\r?\n/)[line - 1] ?? '';
    const hint = /^\s*cron\s*:/.test(lineText) || first.message.includes('alias')
      ? ': a value that starts with * must be quoted, as in cron: "*/5 * * * *"'
      : ': fix the YAML syntax';
    return { file, line, field: null, message: `not valid YAML (${first.message.split('\n')[0]})${hint}` };
  }
  return { value: doc.toJS() as unknown, doc, lc };
}

function buildSchedule(
  s: z.infer<typeof scheduleSchema>,
  windowZone: string | undefined,
  problem: (field: string, message: string) => void,
): (ScheduleSpec & { source: ScheduleSource }) | null {
  let timing: Timing | null = null;
  if (s.cron !== undefined && s.every !== undefined) problem('schedule', 'give cron or every, not both');
  else if (s.cron === undefined && s.every === undefined) problem('schedule', 'give cron (such as "0 10 * * 1-5") or every (such as 1h)');
  else if (s.cron !== undefined) {
    const why = cronProblem(s.cron);
    if (why) problem('schedule.cron', why);
    else timing = { kind: 'cron', cron: s.cron.trim().split(/\s+/).join(' ') };
  } else if (s.every !== undefined) {
    try {
      const ms = typeof s.every === 'number' ? Math.round(s.every * 1000) : parseDuration(s.every);
      if (ms < MIN_EVERY_MS) problem('schedule.every', `must be at least 1s, got ${JSON.stringify(s.every)}`);
      else timing = { kind: 'every', everyMs: ms };
    } catch (err) {
      problem('schedule.every', (err as Error).message);
    }
  }
  const zone = s.timezone ?? windowZone ?? (s.every !== undefined ? 'UTC' : null);
  if (zone === null) problem('schedule.timezone', 'required with a cron: the IANA zone it is read in, such as Asia/Shanghai (or set window.timezone)');
  else if (!IANAZone.isValidZone(zone)) problem(s.timezone ? 'schedule.timezone' : 'window.timezone', `${JSON.stringify(zone)} is not an IANA time zone: write one such as Asia/Shanghai`);
  const ok = zone !== null && IANAZone.isValidZone(zone);
  const startMs = s.startDate !== undefined && ok ? dateIn(s.startDate, zone, false) : null;
  const endMs = s.endDate !== undefined && ok ? dateIn(s.endDate, zone, true) : null;
  if (s.startDate !== undefined && ok && startMs === null) problem('schedule.startDate', `${JSON.stringify(s.startDate)} is not a date or time: write "2026-03-01" or "2026-03-01T09:00"`);
  if (s.endDate !== undefined && ok && endMs === null) problem('schedule.endDate', `${JSON.stringify(s.endDate)} is not a date or time: write "2026-12-31" or "2026-12-31T18:00"`);
  if (startMs !== null && endMs !== null && endMs <= startMs) problem('schedule.endDate', 'must come after schedule.startDate');
  if (!timing || !ok) return null;
  return {
    timing,
    timezone: zone,
    startMs,
    endMs,
    overlap: s.overlap ?? 'skip',
    source: { cron: timing.kind === 'cron' ? timing.cron : null, every: timing.kind === 'every' ? String(s.every) : null },
  };
}

/** The field a definition problem names (`window.hours: …`, `action …`), when it leads the message. */
function fieldOfMessage(message: string): { field: string; rest: string } | null {
  const m = /^([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)(:\s*|\s)(.*)$/s.exec(message);
  if (!m) return null;
  return m[2]!.startsWith(':') ? { field: m[1]!, rest: m[3]! } : { field: m[1]!, rest: message };
}

type At = (path: (string | number)[], field: string | null, message: string, key?: string) => void;

/** The definition's rules beyond field shapes (provider of an action, dial parameters, windows, retries), each at its field. */
function definitionProblems(raw: Record<string, unknown>, doc: Document, at: At): void {
  try {
    parseCampaignDefinition(raw, { timezone: 'UTC', region: null });
  } catch (err) {
    if (!(err instanceof DefinitionError)) throw err;
    for (const problem of err.problems) {
      // Dial parameters are `params` fields in a file, not --param flags.
      const param = /--param (\w+)/.exec(problem)?.[1];
      const p = problem.replace(/--param (\w+)=/g, 'params.$1: ').replace(/--param (\w+)/g, 'params.$1');
      if (param !== undefined) {
        at(['params', param], doc.hasIn(['params', param]) ? `params.${param}` : 'params', p);
        continue;
      }
      const f = fieldOfMessage(p);
      if (f && doc.hasIn(f.field.split('.'))) at(f.field.split('.'), f.field, f.rest);
      else at([], null, p);
    }
  }
}

/**
 * Parses one definition file's text. `file` is its path (for messages and
 * for contact paths, which are relative to it).
 */
export function parseDefinitionFile(file: string, text: string): { definition: ParsedDefinition } | { problems: DefinitionProblem[] } {
  const ext = extname(file);
  const name = basename(file, ext);
  const problems: DefinitionProblem[] = [];
  if (!NAME.test(name)) {
    problems.push({ file, line: null, field: null, message: `a definition is named by its file name, which may hold letters, digits, - and _ only (1 to 64): rename ${basename(file)}` });
    return { problems };
  }
  const parsed = parseDocumentText(file, text);
  if ('message' in parsed) return { problems: [parsed] };
  const { value, doc, lc } = parsed;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problems: [{ file, line: 1, field: null, message: 'a definition is a mapping of fields (action, params, …, contacts, schedule)' }] };
  }
  const at = (path: (string | number)[], field: string | null, message: string, key?: string) =>
    problems.push({ file, line: lineOf(doc, lc, path, key), field, message });

  const written = value as Record<string, unknown>;
  const checked = fileSchema.safeParse(value);
  for (const i of checked.error?.issues ?? []) {
    const path = i.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (i.code === 'unrecognized_keys') {
      for (const key of i.keys) at(path, [...path, key].join('.'), 'unknown field: remove it or correct its spelling', key);
      continue;
    }
    const field = path.join('.') || null;
    const message = field && i.message.startsWith(`${field} `) ? i.message.slice(field.length + 1) : i.message;
    at(path, field, message);
  }
  const raw: Record<string, unknown> = Object.fromEntries(Object.entries(written).filter(([k]) => k !== 'schedule' && k !== 'contacts'));
  // The definition's own rules once its fields have the right shapes.
  if (rawDefinitionSchema.safeParse(raw).success) definitionProblems(raw, doc, at);

  const problem = (field: string, message: string) => at(field.split('.'), field, message);
  const contactsIn = typeof written.contacts === 'string' && written.contacts !== '' ? written.contacts : undefined;
  let contacts: ContactsSource | null = null;
  if (contactsIn !== undefined) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(contactsIn);
    if (scheme && !/^https?$/i.test(scheme[1]!)) problem('contacts', `${scheme[1]}: is not supported: give an http(s) URL or a path relative to this file`);
    else if (scheme) {
      try {
        contacts = { kind: 'url', url: new URL(contactsIn).toString() };
      } catch {
        problem('contacts', `${JSON.stringify(contactsIn)} is not a URL: write one such as https://lists.example.com/today.csv`);
      }
    } else contacts = { kind: 'file', path: resolve(dirname(file), contactsIn) };
  }
  const scheduleIn = scheduleSchema.safeParse(written.schedule);
  const windowIn = z.object({ timezone: z.string().optional() }).loose().safeParse(written.window);
  const schedule =
    written.schedule !== undefined && scheduleIn.success && scheduleIn.data
      ? buildSchedule(scheduleIn.data, windowIn.success ? windowIn.data.timezone : undefined, problem)
      : null;
  if (written.schedule !== undefined && written.contacts === undefined) {
    at([], 'contacts', 'required with a schedule: the list each run dials, a path relative to this file (such as ../fixtures/reminders.csv) or an http(s) URL', 'schedule');
  }
  if ((written.schedule !== undefined || written.contacts !== undefined) && written.name !== undefined) {
    at(['name'], 'name', `a scheduled definition is named by its file (${name}) and each run by its tick: remove this field`);
  }
  if (problems.length > 0) return { problems: problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) };
  const fingerprint = stableJson({ raw, contacts, schedule });
  return { definition: { name, file, raw, contacts, schedule, fingerprint } };
}

/** Reads every definition file of a directory (sorted by name); problems are collected, never thrown. */
export function loadDefinitions(dir: string): LoadedDefinitions {
  const root = resolve(dir);
  const out: LoadedDefinitions = { definitions: [], problems: [], readable: true };
  let entries: string[];
  try {
    entries = readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isFile() && (DEFINITION_EXTENSIONS as readonly string[]).includes(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    out.problems.push({ file: dir, line: null, field: null, message: `cannot read the definitions directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set AUTODIALER_JOBS_DIR or --dir to the folder of definition files` });
    out.readable = false;
    return out;
  }
  const byName = new Map<string, string[]>();
  for (const f of entries) {
    const n = basename(f, extname(f));
    byName.set(n, [...(byName.get(n) ?? []), f]);
  }
  for (const f of entries) {
    const file = join(dir, f);
    const twins = byName.get(basename(f, extname(f)))!;
    if (twins.length > 1) {
      out.problems.push({ file, line: null, field: null, message: `${twins.join(' and ')} define the same name: keep one of them` });
      continue;
    }
    let text: string;
    try {
      if (statSync(file).size > MAX_FILE_BYTES) throw new Error('larger than 1 MiB: a definition is a few fields');
      text = readFileSync(file, 'utf8');
    } catch (err) {
      out.problems.push({ file, line: null, field: null, message: `cannot read it: ${(err as Error).message}` });
      continue;
    }
    const r = parseDefinitionFile(file, text);
    if ('definition' in r) out.definitions.push(r.definition);
    else out.problems.push(...r.problems);
  }
  return out;
}
