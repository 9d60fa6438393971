import { describe, expect, it } from 'vitest';
import {
  buildCallingWindow,
  formatBlackout,
  formatDays,
  formatHours,
  parseBlackout,
  parseDays,
  parseHours,
  WindowError,
  type WindowField,
} from '../../src/domain/window.js';

function windowError(fn: () => unknown): WindowError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WindowError) return err;
    throw err;
  }
  throw new Error('expected a WindowError');
}

describe('parseHours', () => {
  it.each([
    ['09:00-20:00', [{ start: 540, end: 1200 }]],
    ['9:00-20:00', [{ start: 540, end: 1200 }]],
    ['09:00-12:00,14:00-20:00', [{ start: 540, end: 720 }, { start: 840, end: 1200 }]],
    [' 09:00 - 12:00 , 14:00-20:00 ', [{ start: 540, end: 720 }, { start: 840, end: 1200 }]],
    ['00:00-24:00', [{ start: 0, end: 1440 }]],
    ['18:30-24:00', [{ start: 1110, end: 1440 }]],
    ['20:00-02:00', [{ start: 1200, end: 120 }]],
    ['22:00-00:00', [{ start: 1320, end: 0 }]],
    ['', []],
    ['all', []],
  ])('%j', (text, ranges) => {
    expect(parseHours(text)).toEqual(ranges);
  });

  it.each([
    ['9am-5pm', 'is not a range'],
    ['09:00', 'is not a range'],
    ['25:00-26:00', 'impossible time'],
    ['09:60-10:00', 'impossible time'],
    ['09:00-24:30', 'impossible time'],
    ['24:00-02:00', 'impossible time'],
    ['09:00-09:00', 'is empty'],
    ['09:00-12:00,', 'empty range'],
  ])('rejects %j', (text, what) => {
    const err = windowError(() => parseHours(text));
    expect(err.code).toBe('ERR_CALLING_WINDOW');
    expect(err.field).toBe('hours');
    expect(err.input).toBe(text);
    expect(err.message).toContain(what);
    expect(err.message).toContain('HH:MM-HH:MM');
  });

  it('formats back to what it reads', () => {
    const text = '09:00-12:00,14:00-20:00,22:30-02:00';
    expect(formatHours(parseHours(text))).toBe(text);
    expect(formatHours(parseHours(''))).toBe('all');
  });
});

describe('parseDays', () => {
  it.each([
    ['mon-fri', [1, 2, 3, 4, 5]],
    ['mon,wed,sat', [1, 3, 6]],
    ['Monday, Sunday', [1, 7]],
    ['fri-mon', [1, 5, 6, 7]],
    ['sat-wed', [1, 2, 3, 6, 7]],
    ['weekdays', [1, 2, 3, 4, 5]],
    ['weekends', [6, 7]],
    ['1-3,7', [1, 2, 3, 7]],
    ['all', [1, 2, 3, 4, 5, 6, 7]],
    ['', [1, 2, 3, 4, 5, 6, 7]],
    ['sun-sun', [7]],
  ])('%j', (text, days) => {
    expect([...parseDays(text)].sort()).toEqual(days);
  });

  it.each(['mnday', 'mon-', 'mon-tue-wed', 'mon,,fri', '8', 'funday-fri'])('rejects %j', (text) => {
    const err = windowError(() => parseDays(text));
    expect(err.field).toBe('days');
    expect(err.message).toContain('mon-fri');
    expect(err.message).toMatch(/days: ".*"/);
  });

  it('formats in weekday order', () => {
    expect(formatDays(parseDays('sun,mon,wed'))).toBe('mon,wed,sun');
    expect(formatDays(parseDays('all'))).toBe('all');
  });
});

describe('parseBlackout', () => {
  it('reads real dates separated by commas', () => {
    expect([...parseBlackout('2026-12-25,2027-01-01')]).toEqual(['2026-12-25', '2027-01-01']);
    expect([...parseBlackout(' 2026-12-25 , 2026-12-25 ')]).toEqual(['2026-12-25']);
    expect(parseBlackout('').size).toBe(0);
    expect(formatBlackout(parseBlackout('2027-01-01,2026-12-25'))).toBe('2026-12-25,2027-01-01');
  });

  it.each(['2026-02-30', '2026-13-01', '25/12/2026', '2026-1-5', 'christmas'])('rejects %j', (text) => {
    const err = windowError(() => parseBlackout(text));
    expect(err.field).toBe('blackout');
    expect(err.message).toContain(JSON.stringify(text));
    expect(err.message).toContain('YYYY-MM-DD');
  });
});

describe('buildCallingWindow', () => {
  it('builds from stored texts, null meaning no restriction', () => {
    const w = buildCallingWindow({ hours: '09:00-20:00', days: 'mon-fri', blackout: '2026-12-25', startsAt: 1, expiresAt: 2 });
    expect(w.hours).toEqual([{ start: 540, end: 1200 }]);
    expect([...w.days].sort()).toEqual([1, 2, 3, 4, 5]);
    expect([...w.blackout]).toEqual(['2026-12-25']);
    expect([w.startsAt, w.expiresAt]).toEqual([1, 2]);
    const open = buildCallingWindow({ hours: null, days: null, blackout: null });
    expect([open.hours.length, open.days.size, open.blackout.size, open.startsAt, open.expiresAt]).toEqual([0, 0, 0, null, null]);
  });

  it.each([
    [{ startsAt: 10, expiresAt: 10 }, 'expiresAt'],
    [{ startsAt: Number.NaN }, 'startsAt'],
    [{ days: 'xyz' }, 'days'],
    [{ hours: '9-5' }, 'hours'],
  ] as const)('names the field at fault: %j', (spec, field: WindowField) => {
    expect(windowError(() => buildCallingWindow(spec)).field).toBe(field);
  });
});
