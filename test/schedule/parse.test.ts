/**
 * Definition files: the examples in jobs/ load (the plain --definition files
 * beside them too), and every problem names the file, the line, the field and
 * what to change, without stopping the other files.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCampaignDefinition } from '../../src/campaign/definition.js';
import { formatProblem, loadDefinitions, parseDefinitionFile, type DefinitionProblem } from '../../src/schedule/parse.js';
import { nextTick } from '../../src/schedule/match.js';

const JOBS = resolve(import.meta.dirname, '../../jobs');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'adtest-jobs-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function problemsOf(file: string, text: string): DefinitionProblem[] {
  const r = parseDefinitionFile(file, text);
  if ('definition' in r) throw new Error(`expected problems in ${file}`);
  return r.problems;
}

const GOOD = `action: playvoice
params:
  voicetype: 2
  voicefile: https://media.example.com/a.mp3
  chengshudu: 1
  userid: 1@extGroup-1
contacts: list.csv
schedule:
  cron: "0 10 * * mon-fri"
  timezone: Asia/Shanghai
`;

describe('the definitions in jobs/', () => {
  const loaded = loadDefinitions(JOBS);
  const byName = new Map(loaded.definitions.map((d) => [d.name, d]));

  it('all load, with no problem', () => {
    expect(loaded.problems.map(formatProblem)).toEqual([]);
    expect(loaded.readable).toBe(true);
  });

  it('a weekday PlayVoice reminder at 10:00 Asia/Shanghai', () => {
    const d = byName.get('weekday-reminder')!;
    expect(d.raw.action).toBe('playvoice');
    expect(d.schedule).toMatchObject({ timing: { kind: 'cron', cron: '0 10 * * mon-fri' }, timezone: 'Asia/Shanghai', overlap: 'skip' });
    expect(new Date(nextTick(d.schedule!, Date.parse('2026-03-06T03:00:00Z'))!).toISOString()).toBe('2026-03-09T02:00:00.000Z');
  });

  it('a DoubleCall callback list every hour in office hours', () => {
    const d = byName.get('callback-hourly')!;
    expect(d.raw.action).toBe('doublecall');
    expect(d.schedule?.timing).toEqual({ kind: 'cron', cron: '0 9-17 * * mon-fri' });
  });

  it('a pbx originate list at 09:30 Asia/Tehran (JSON), from its start date', () => {
    const d = byName.get('pbx-morning')!;
    expect(d.raw.action).toBe('originate');
    expect(d.schedule).toMatchObject({ timing: { kind: 'cron', cron: '30 9 * * 6,0-3' }, timezone: 'Asia/Tehran' });
    // "2026-03-21" is that day's start in Tehran (+03:30).
    expect(new Date(d.schedule!.startMs!).toISOString()).toBe('2026-03-20T20:30:00.000Z');
    expect(new Date(nextTick(d.schedule!, Date.parse('2026-03-01T00:00:00Z'))!).toISOString()).toBe('2026-03-21T06:00:00.000Z');
  });

  it('each scheduled one is a valid campaign definition with a contact file in fixtures/', () => {
    for (const name of ['weekday-reminder', 'callback-hourly', 'pbx-morning']) {
      const d = byName.get(name)!;
      expect(() => parseCampaignDefinition(d.raw, { timezone: 'UTC', region: null })).not.toThrow();
      expect(d.contacts?.kind).toBe('file');
      const path = d.contacts?.kind === 'file' ? d.contacts.path : '';
      expect(path).toContain(`${join('fixtures', 'schedules')}`);
      expect(existsSync(path)).toBe(true);
    }
  });

  it('the plain --definition files load as definitions with no schedule', () => {
    for (const name of ['demo-playvoice', 'pbx-originate', 'weekday-makecall']) {
      expect(byName.get(name)).toMatchObject({ schedule: null, contacts: null });
    }
  });
});

describe('problems', () => {
  it('name the file, the line and the field, and say what to write', () => {
    const text = GOOD.replace('"0 10 * * mon-fri"', '"0 10 * *"').replace('  timezone: Asia/Shanghai\n', '  timezone: Asia/Shanghai\n  overlap: never\n');
    const p = problemsOf('jobs/reminder.yaml', text);
    expect(p.map(formatProblem)).toEqual([
      expect.stringMatching(/^jobs\/reminder\.yaml:11: schedule\.overlap: must be skip .* or parallel$/),
    ]);
    const p2 = problemsOf('jobs/reminder.yaml', GOOD.replace('"0 10 * * mon-fri"', '"0 10 * *"'));
    expect(p2.map(formatProblem)).toEqual([expect.stringMatching(/^jobs\/reminder\.yaml:9: schedule\.cron: a cron has 5 fields .*got 4$/)]);
  });

  it('an unknown field is named at its own line', () => {
    const p = problemsOf('jobs/r.yaml', GOOD.replace('contacts: list.csv\n', 'contacts: list.csv\ncolour: red\n').replace('  timezone:', '  timezon:'));
    expect(p.map(formatProblem)).toEqual([
      'jobs/r.yaml:8: colour: unknown field: remove it or correct its spelling',
      'jobs/r.yaml:11: schedule.timezon: unknown field: remove it or correct its spelling',
    ]);
  });

  it('a definition rule (a missing dial parameter) is named at params', () => {
    const p = problemsOf('jobs/r.yaml', GOOD.replace('  userid: 1@extGroup-1\n', ''));
    expect(p.map(formatProblem)).toEqual(['jobs/r.yaml:2: params: playvoice needs params.userid: 1@extGroup-1']);
  });

  it('schedule rules: cron or every, a zone for a cron, contacts, dates, no name', () => {
    const both = problemsOf('jobs/r.yaml', GOOD.replace('  timezone:', '  every: 1h\n  timezone:'));
    expect(both.map(formatProblem)).toEqual(['jobs/r.yaml:8: schedule: give cron or every, not both']);
    const zone = problemsOf('jobs/r.yaml', GOOD.replace('  timezone: Asia/Shanghai\n', ''));
    expect(zone.map(formatProblem)).toEqual([expect.stringMatching(/^jobs\/r\.yaml:8: schedule\.timezone: required with a cron: the IANA zone/)]);
    const noContacts = problemsOf('jobs/r.yaml', GOOD.replace('contacts: list.csv\n', ''));
    expect(noContacts.map(formatProblem)).toEqual([expect.stringMatching(/^jobs\/r\.yaml:7: contacts: required with a schedule: the list each run dials/)]);
    const dates = problemsOf('jobs/r.yaml', GOOD + '  startDate: "2026-05-01"\n  endDate: "2026-04-01"\n');
    expect(dates.map(formatProblem)).toEqual(['jobs/r.yaml:12: schedule.endDate: must come after schedule.startDate']);
    const named = problemsOf('jobs/r.yaml', `name: Reminders\n${GOOD}`);
    expect(named.map(formatProblem)).toEqual([expect.stringMatching(/^jobs\/r\.yaml:1: name: a scheduled definition is named by its file \(r\)/)]);
    const ftp = problemsOf('jobs/r.yaml', GOOD.replace('list.csv', 'ftp://lists.example.com/a.csv'));
    expect(ftp.map(formatProblem)).toEqual(['jobs/r.yaml:7: contacts: ftp: is not supported: give an http(s) URL or a path relative to this file']);
    const every = problemsOf('jobs/r.yaml', GOOD.replace('  cron: "0 10 * * mon-fri"\n', '  every: 10 minutes\n'));
    expect(every.map(formatProblem)).toEqual([expect.stringMatching(/^jobs\/r\.yaml:9: schedule\.every: invalid duration "10 minutes"/)]);
  });

  it('syntax errors give the line (an unquoted cron says to quote it)', () => {
    const yaml = problemsOf('jobs/r.yaml', GOOD.replace('"0 10 * * mon-fri"', '*/5 * * * *'));
    expect(yaml.map(formatProblem)).toEqual([expect.stringMatching(/^jobs\/r\.yaml:9: not valid YAML .*must be quoted, as in cron: "\*\/5 \* \* \* \*"$/)]);
    const json = problemsOf('jobs/r.json', '{\n  "action": "playvoice",\n  "cps": 1,\n}\n');
    expect(json.map(formatProblem)).toEqual([expect.stringMatching(/^jobs\/r\.json:4: not valid JSON .*: fix the syntax$/)]);
  });

  it('a file name that cannot name a definition is refused', () => {
    expect(problemsOf('jobs/my reminders.yaml', GOOD).map(formatProblem)).toEqual([
      expect.stringMatching(/^jobs\/my reminders\.yaml: a definition is named by its file name, which may hold letters, digits, - and _ only/),
    ]);
  });

  it('one bad file never stops the others', () => {
    const dir = tempDir({ 'a.yaml': GOOD, 'b.yaml': 'action: [', 'c.json': '{"action": "originate"}', 'd.yaml': GOOD, 'd.yml': GOOD, 'notes.txt': 'ignored' });
    const loaded = loadDefinitions(dir);
    expect(loaded.definitions.map((d) => d.name)).toEqual(['a']);
    const files = loaded.problems.map((p) => p.file.replace(`${dir}/`, ''));
    expect([...new Set(files)]).toEqual(['b.yaml', 'c.json', 'd.yaml', 'd.yml']);
    const text = loaded.problems.map(formatProblem).join('\n');
    expect(text).toMatch(/b\.yaml:1: not valid YAML/);
    expect(text).toMatch(/c\.json:1: params: originate needs params\.caller: <first party>/);
    expect(text).toMatch(/d\.yaml: d\.yaml and d\.yml define the same name: keep one of them/);
  });

  it('a directory that cannot be read is one problem, and says so', () => {
    const loaded = loadDefinitions('/nonexistent/jobs');
    expect(loaded.readable).toBe(false);
    expect(formatProblem(loaded.problems[0]!)).toMatch(/cannot read the definitions directory \(ENOENT\): set AUTODIALER_JOBS_DIR or --dir/);
  });

  it('contacts are relative to the file; a changed file changes its fingerprint', () => {
    const a = parseDefinitionFile('/srv/jobs/a.yaml', GOOD);
    const b = parseDefinitionFile('/srv/jobs/a.yaml', GOOD.replace('mon-fri', 'mon-sat'));
    if (!('definition' in a) || !('definition' in b)) throw new Error('expected definitions');
    expect(a.definition.contacts).toEqual({ kind: 'file', path: '/srv/fixtures/../jobs/list.csv'.replace('/srv/fixtures/..', '/srv') });
    expect(a.definition.fingerprint).not.toBe(b.definition.fingerprint);
    const url = parseDefinitionFile('/srv/jobs/a.yaml', GOOD.replace('list.csv', 'https://lists.example.com/today.csv'));
    expect('definition' in url && url.definition.contacts).toEqual({ kind: 'url', url: 'https://lists.example.com/today.csv' });
  });
});
