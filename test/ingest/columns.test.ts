import { describe, expect, it } from 'vitest';
import { findByNames, normalizeHeader, resolveColumns } from '../../src/ingest/columns.js';
import { IngestError, PHONE_HEADER_NAMES, TIMEZONE_HEADER_NAMES } from '../../src/ingest/index.js';
import { readAll } from './helpers.js';

const none = { phoneColumn: null, timezoneColumn: null, customColumns: null };

describe('finding the phone column by name', () => {
  it.each([
    'phone', 'Phone Number', 'PHONE_NUMBER', 'mobile', 'Mobile Number', 'mobile-phone', 'Cell', 'number', 'Tel.', 'telephone',
    'MSISDN', 'contact', '电话', '电话号码', '手机', '手机号', '手机号码', '*手机号码', '联系电话', '【手机号码】',
    'تلفن', 'شماره', 'شماره تلفن', 'موبایل', 'موبايل', 'تلفن همراه', 'شماره موبایل', 'شماره‌موبایل', 'شماره موبايل',
  ])('%s', (name) => {
    expect(resolveColumns(['id', name, 'note'], none, 'x.csv').phone).toEqual({ index: 1, name });
  });

  it('prefers a mobile column to a phone column, and both to generic names', () => {
    expect(findByNames(['contact', 'phone', 'mobile'], PHONE_HEADER_NAMES)).toEqual({ index: 2, name: 'mobile' });
    expect(findByNames(['number', 'Telephone'], PHONE_HEADER_NAMES)).toEqual({ index: 1, name: 'Telephone' });
    expect(findByNames(['phone', 'phone'], PHONE_HEADER_NAMES)).toEqual({ index: 0, name: 'phone' });
  });

  it('normalizes case, spaces, punctuation, zero-width characters and Arabic letter forms', () => {
    expect(normalizeHeader('\ufeff Phone_Number ')).toBe('phonenumber');
    expect(normalizeHeader('شماره\u200cموبايل')).toBe('شمارهموبایل');
    expect(normalizeHeader('Time Zone')).toBe('timezone');
  });
});

describe('the time zone column', () => {
  it.each(['timezone', 'Time Zone', 'time_zone', 'TZ', 'zone', '时区', 'منطقه زمانی', 'منطقه زماني'])('%s', (name) => {
    expect(resolveColumns(['phone', name], none, 'x.csv').timezone).toEqual({ index: 1, name });
  });

  it('is null when there is none', () => {
    expect(resolveColumns(['phone', 'name'], none, 'x.csv').timezone).toBeNull();
    expect(TIMEZONE_HEADER_NAMES).toContain('tz');
  });
});

describe('provider fields', () => {
  it('come from columns named exactly like them', () => {
    const layout = resolveColumns(['phone', 'UserID', 'memberid', 'chengshudu', 'extnumber', 'disnumber', 'user id'], none, 'x.csv');
    expect(Object.keys(layout.custom).sort()).toEqual(['chengshudu', 'disnumber', 'extnumber', 'memberid', 'userid']);
    expect(layout.custom.userid).toEqual({ index: 1, name: 'UserID' });
  });

  it('or from the mapping given, which replaces the defaults', async () => {
    const r = await readAll('tel,group,level,userid\n13333333333,1@extGroup-1, 3 ,ignored\n13333333334,,0,\n', {
      region: 'CN',
      customColumns: { userid: 'group', chengshudu: 'Level' },
    });
    expect(r.header.custom).toEqual({ userid: { index: 1, name: 'group' }, chengshudu: { index: 2, name: 'level' } });
    expect(r.records.map((x) => (x.kind === 'contact' ? x.custom : null))).toEqual([
      { userid: '1@extGroup-1', chengshudu: '3' },
      { chengshudu: '0' },
    ]);
  });
});

describe('columns named by the user', () => {
  it('are found exactly or loosely', async () => {
    const r = await readAll('Customer Phone,Zone Name\n13333333333,Asia/Tehran\n', {
      region: 'CN',
      phoneColumn: 'customer phone',
      timezoneColumn: 'Zone Name',
    });
    expect(r.header.phone).toEqual({ index: 0, name: 'Customer Phone' });
    expect(r.records[0]).toMatchObject({ kind: 'contact', timezone: 'Asia/Tehran' });
  });

  it('that do not exist refuse the file, listing the headers', async () => {
    const err = await readAll('name,phone\nA,13333333333\n', { fileName: 'c.csv', timezoneColumn: 'tz' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect(err).toMatchObject({
      code: 'unknown_column',
      message: 'no column named "tz" (time zone column) in c.csv: headers are name, phone; fix --timezone-column',
    });
  });
});
