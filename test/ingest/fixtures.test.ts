import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IngestError } from '../../src/ingest/index.js';
import { GENERATED_FIXTURES } from './fixture-sources.js';
import { contacts, FIXTURES, readFixture, rejects } from './helpers.js';

describe('committed fixtures', () => {
  it.each(GENERATED_FIXTURES.map((f) => [f.file, f] as const))('%s matches its source in fixture-sources.ts', (_name, f) => {
    expect(readFileSync(`${FIXTURES}${f.file}`).equals(f.bytes())).toBe(true);
  });
});

describe('reading each fixture', () => {
  it('utf8.csv: time zones, a provider field, numbers written four ways', async () => {
    const r = await readFixture('utf8.csv', { region: 'CN' });
    expect(r.header).toMatchObject({
      columns: ['name', 'phone', 'city', 'timezone', 'userid'],
      encoding: 'utf8',
      encodingSource: 'utf8',
      delimiter: ',',
      delimiterSource: 'detected',
      phone: { index: 1, name: 'phone' },
      timezone: { index: 3, name: 'timezone' },
      custom: { userid: { index: 4, name: 'userid' } },
      line: 1,
      sample: { rows: 4, complete: true },
    });
    expect(contacts(r)).toEqual([
      { line: 2, e164: '+8613333333333', dial: '+8613333333333' },
      { line: 3, e164: '+8613333333334', dial: '+8613333333334' },
      { line: 4, e164: '+8613333333335', dial: '+8613333333335' },
      { line: 5, e164: '+861012345678', dial: '+861012345678' },
    ]);
    const [first, second, third] = r.records;
    expect(first).toMatchObject({ timezone: 'Asia/Shanghai', custom: { userid: '1@extGroup-1' } });
    expect(first?.values).toEqual(['Wang Wei', '13333333333', 'Beijing', 'Asia/Shanghai', '1@extGroup-1']);
    expect(second).toMatchObject({ timezone: null, custom: { userid: '2@extGroup-1' } });
    // a zone written in lower case comes out canonical; an empty custom cell is left out
    expect(third).toMatchObject({ timezone: 'Asia/Shanghai', custom: {} });
    expect(r.summary).toEqual({
      fileName: 'utf8.csv',
      encoding: 'utf8',
      delimiter: ',',
      header: ['name', 'phone', 'city', 'timezone', 'userid'],
      rowsRead: 4,
      contacts: 4,
      rejects: 0,
      rejectsByReason: {},
      blankLines: 0,
      bytesRead: 230,
      done: true,
    });
  });

  it('utf8-bom.csv: the mark is dropped, Chinese headers are found', async () => {
    const r = await readFixture('utf8-bom.csv', { region: 'CN' });
    expect(r.header).toMatchObject({
      columns: ['电话', '姓名', '时区'],
      encoding: 'utf8',
      encodingSource: 'bom',
      phone: { index: 0, name: '电话' },
      timezone: { index: 2, name: '时区' },
    });
    expect(r.records.map((x) => x.values)).toEqual([
      ['13333333333', '王伟', 'Asia/Shanghai'],
      ['13333333334', '李娜', ''],
    ]);
    expect(r.summary).toMatchObject({ rowsRead: 2, contacts: 2, rejects: 0, blankLines: 0 });
  });

  it("utf16le-bom.csv: Excel's Unicode Text (UTF-16 LE, tab-separated)", async () => {
    const r = await readFixture('utf16le-bom.csv', { region: 'CN' });
    expect(r.header).toMatchObject({
      columns: ['Name', 'Mobile Number', 'City'],
      encoding: 'utf16le',
      encodingSource: 'bom',
      delimiter: '\t',
      delimiterSource: 'detected',
      phone: { index: 1, name: 'Mobile Number' },
    });
    expect(r.records[0]?.values).toEqual(['Wang Wei', '13333333333', '北京']);
    expect(contacts(r)).toEqual([
      { line: 2, e164: '+8613333333333', dial: '+8613333333333' },
      { line: 3, e164: '+989121234567', dial: '+989121234567' },
    ]);
    expect(rejects(r)).toEqual([{ line: 4, reason: 'invalid_phone' }]);
    expect(r.summary).toMatchObject({ encoding: 'utf16le', delimiter: '\t', rowsRead: 3, contacts: 2, rejects: 1, rejectsByReason: { invalid_phone: 1 } });
  });

  it('gb18030.csv: detected from its bytes, Chinese headers, national dialling', async () => {
    const r = await readFixture('gb18030.csv', { region: 'CN', numberFormat: 'national' });
    expect(r.header).toMatchObject({
      columns: ['姓名', '电话', '城市', '备注'],
      encoding: 'gb18030',
      encodingSource: 'heuristic',
      phone: { index: 1, name: '电话' },
    });
    expect(r.records[0]?.values).toEqual(['张三', '13333333333', '北京', '老客户']);
    expect(contacts(r)).toEqual([
      { line: 2, e164: '+8613333333333', dial: '13333333333' },
      { line: 3, e164: '+8613333333334', dial: '13333333334' },
      { line: 5, e164: '+861012345678', dial: '01012345678' },
    ]);
    const bad = r.records[2];
    expect(bad).toMatchObject({ kind: 'reject', line: 4, reason: 'invalid_phone' });
    expect(bad?.kind === 'reject' && bad.message).toContain('column "电话"');
    expect(r.summary).toMatchObject({ encoding: 'gb18030', rowsRead: 4, contacts: 3, rejects: 1, rejectsByReason: { invalid_phone: 1 } });
  });

  it('windows-1256.csv: detected from its bytes, Persian headers (Arabic yeh) found, region IR', async () => {
    const r = await readFixture('windows-1256.csv', { region: 'IR', numberFormat: 'national' });
    expect(r.header).toMatchObject({
      columns: ['نام', 'موبايل', 'شهر'],
      encoding: 'windows-1256',
      encodingSource: 'heuristic',
      phone: { index: 1, name: 'موبايل' },
    });
    expect(r.records[0]?.values).toEqual(['علي رضايي', '09121234567', 'تهران']);
    expect(contacts(r)).toEqual([
      { line: 2, e164: '+989121234567', dial: '09121234567' },
      { line: 3, e164: '+989121234568', dial: '09121234568' },
    ]);
    expect(rejects(r)).toEqual([{ line: 4, reason: 'invalid_phone' }]);
    expect(r.summary).toMatchObject({ encoding: 'windows-1256', rowsRead: 3, contacts: 2, rejects: 1 });
  });

  it("semicolon-sep.csv: Excel's sep=; line is honoured and not a row; decimal commas stay in their cells", async () => {
    const r = await readFixture('semicolon-sep.csv', { region: 'CN' });
    expect(r.header).toMatchObject({ columns: ['name', 'phone', 'amount'], delimiter: ';', delimiterSource: 'sep_line', line: 2 });
    expect(r.records.map((x) => [x.line, x.values])).toEqual([
      [3, ['Anna', '13333333333', '1,5']],
      [4, ['Boris', '13333333334', '2,75']],
      [5, ['Chen', '13333333335', '10,0']],
    ]);
    expect(r.summary).toMatchObject({ delimiter: ';', rowsRead: 3, contacts: 3, rejects: 0, blankLines: 0 });
  });

  it('tab.tsv: tabs win over the commas inside a note', async () => {
    const r = await readFixture('tab.tsv', { region: 'CN' });
    expect(r.header).toMatchObject({ delimiter: '\t', delimiterSource: 'detected' });
    expect(r.records.map((x) => x.values)).toEqual([
      ['Anna', '13333333333', 'calls after 6, please'],
      ['Boris', '13333333334', ''],
      ['Chen', '13333333335', 'prefers "WeChat"'],
    ]);
    expect(r.summary).toMatchObject({ rowsRead: 3, contacts: 3 });
  });

  it('pipe.csv: pipes, and a "mobile" header', async () => {
    const r = await readFixture('pipe.csv', { region: 'CN' });
    expect(r.header).toMatchObject({ delimiter: '|', phone: { index: 1, name: 'mobile' } });
    expect(r.records[1]?.values).toEqual(['2', '13333333334', 'Boris, Jr.']);
    expect(r.summary).toMatchObject({ delimiter: '|', rowsRead: 3, contacts: 3 });
  });

  it('quoted.csv: delimiters, escaped quotes and line breaks inside quotes; lines are physical', async () => {
    const r = await readFixture('quoted.csv', { region: 'CN' });
    expect(r.records.map((x) => [x.line, x.values])).toEqual([
      [2, ['Smith, John', '13333333333', 'likes "quotes"']],
      [3, ['Multi\nLine Name', '13333333334', 'note with\r\ntwo lines, and a comma']],
      [6, ['Plain', '13333333335', '']],
    ]);
    expect(r.summary).toMatchObject({ rowsRead: 3, contacts: 3, rejects: 0 });
  });

  it('ragged.csv: short rows with the phone are kept, rows without it are rejected, extra columns kept', async () => {
    const r = await readFixture('ragged.csv', { region: 'CN' });
    expect(r.records.map((x) => [x.line, x.kind, x.values])).toEqual([
      [2, 'contact', ['Short', '13333333333']],
      [3, 'reject', ['OnlyName']],
      [4, 'contact', ['Extra', '13333333334', 'Beijing', 'vip', '2024']],
      [5, 'contact', ['', '13333333335', '']],
    ]);
    const missing = r.records[1];
    expect(missing).toMatchObject({ reason: 'missing_phone' });
    expect(missing?.kind === 'reject' && missing.message).toBe(
      'the row has 1 column and stops before the phone column "phone" (column 2)',
    );
    expect(r.summary).toMatchObject({ rowsRead: 4, contacts: 3, rejects: 1, rejectsByReason: { missing_phone: 1 } });
  });

  it('blank-lines.csv: empty, delimiter-only and whitespace-only lines are skipped and counted', async () => {
    const r = await readFixture('blank-lines.csv', { region: 'CN' });
    expect(r.header).toMatchObject({ columns: ['name', 'phone'], line: 2 });
    expect(contacts(r)).toEqual([
      { line: 4, e164: '+8613333333333', dial: '+8613333333333' },
      { line: 7, e164: '+8613333333334', dial: '+8613333333334' },
    ]);
    // lines 1, 3, 5 (","), 6 ("   "), 8 and 9
    expect(r.summary).toMatchObject({ rowsRead: 2, contacts: 2, rejects: 0, blankLines: 6 });
  });

  it('bad-numbers.csv: each bad row rejected with its reason and a message naming the column', async () => {
    const r = await readFixture('bad-numbers.csv', { region: 'CN' });
    expect(r.records.map((x) => [x.line, x.kind === 'reject' ? x.reason : 'contact'])).toEqual([
      [2, 'contact'],
      [3, 'invalid_phone'],
      [4, 'invalid_phone'],
      [5, 'invalid_phone'],
      [6, 'missing_phone'],
      [7, 'invalid_phone'],
      [8, 'bad_timezone'],
      [9, 'invalid_phone'],
      [10, 'contact'],
    ]);
    const messages = r.records.flatMap((x) => (x.kind === 'reject' ? [x.message] : []));
    expect(messages).toEqual([
      '"call me" in column "phone" is not a phone number (only digits, spaces, + - . ( ) are allowed)',
      '"123" in column "phone" is too short for region CN',
      '"1.33333333E+10" in column "phone" is in scientific notation (a spreadsheet turned it into a number): format the column as text and export again',
      'the phone column "phone" is empty',
      '"133333333333333333" in column "phone" is too long for region CN',
      '"Mars/Olympus" in column "tz" is not an IANA time zone (for example Asia/Shanghai or Asia/Tehran)',
      '"12012345678" in column "phone" is not a valid number for region CN',
    ]);
    // Persian digits are read as digits
    expect(contacts(r)[1]).toEqual({ line: 10, e164: '+8613333333336', dial: '+8613333333336' });
    expect(r.summary).toMatchObject({
      rowsRead: 9,
      contacts: 2,
      rejects: 7,
      rejectsByReason: { invalid_phone: 5, missing_phone: 1, bad_timezone: 1 },
    });
  });

  it('no-phone-column.csv is refused whole, saying which headers it has and how to fix it', async () => {
    const err = await readFixture('no-phone-column.csv', { region: 'CN' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect(err).toMatchObject({
      code: 'no_phone_column',
      fileName: 'no-phone-column.csv',
      message: 'no phone column in no-phone-column.csv: headers are name, city; name it with --phone-column',
    });
  });

  it('no-phone-column.csv reads once the phone column is named', async () => {
    const r = await readFixture('no-phone-column.csv', { phoneColumn: 'city' });
    expect(r.header.phone).toEqual({ index: 1, name: 'city' });
    expect(rejects(r)).toEqual([
      { line: 2, reason: 'invalid_phone' },
      { line: 3, reason: 'invalid_phone' },
    ]);
  });

  it('binary.csv is refused whole as binary content', async () => {
    const err = await readFixture('binary.csv').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect(err).toMatchObject({ code: 'binary_file' });
    expect((err as Error).message).toMatch(/^binary\.csv holds binary data \(\d+ control characters/);
  });
});
