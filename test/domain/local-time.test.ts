import { describe, expect, it } from 'vitest';
import {
  dayOfIsoDate,
  firstInstantAtWall,
  isoDateOfDay,
  isoWeekday,
  localDayAt,
  TimeZoneError,
  zoneNamed,
} from '../../src/domain/local-time.js';

const wall = (text: string): number => Date.parse(`${text}Z`);

describe('calendar days', () => {
  it.each([
    ['1970-01-01', 4],
    ['2026-03-08', 7],
    ['2026-06-01', 1],
    ['2026-10-25', 7],
    ['1969-12-31', 3],
    ['2028-02-29', 2],
  ])('%s is ISO weekday %d and reads back', (date, weekday) => {
    const day = dayOfIsoDate(date);
    expect(day).not.toBeNull();
    expect(isoWeekday(day!)).toBe(weekday);
    expect(isoDateOfDay(day!)).toBe(date);
  });

  it.each(['2026-02-29', '2026-04-31', '2026-00-10', '26-01-01', '2026-1-1'])('%s is not a date', (date) => {
    expect(dayOfIsoDate(date)).toBeNull();
  });

  it('takes the local date in the zone, not the UTC date', () => {
    const instant = Date.parse('2026-09-30T16:30:00Z');
    expect(isoDateOfDay(localDayAt(zoneNamed('Asia/Shanghai'), instant))).toBe('2026-10-01');
    expect(isoDateOfDay(localDayAt(zoneNamed('America/New_York'), instant))).toBe('2026-09-30');
  });
});

describe('firstInstantAtWall', () => {
  it.each([
    ['Asia/Shanghai', '2026-06-01T09:00:00', '2026-06-01T09:00:00+08:00'],
    ['Asia/Tehran', '2026-06-01T09:00:00', '2026-06-01T09:00:00+03:30'],
    ['America/New_York', '2026-03-08T01:59:00', '2026-03-08T01:59:00-05:00'],
    // Skipped by spring forward: the moment the clocks jump.
    ['America/New_York', '2026-03-08T02:00:00', '2026-03-08T03:00:00-04:00'],
    ['America/New_York', '2026-03-08T02:30:00', '2026-03-08T03:00:00-04:00'],
    ['America/New_York', '2026-03-08T03:00:00', '2026-03-08T03:00:00-04:00'],
    ['Europe/Berlin', '2026-03-29T02:15:00', '2026-03-29T03:00:00+02:00'],
    // Repeated by fall back: the first occurrence.
    ['America/New_York', '2026-11-01T01:00:00', '2026-11-01T01:00:00-04:00'],
    ['America/New_York', '2026-11-01T01:30:00', '2026-11-01T01:30:00-04:00'],
    ['America/New_York', '2026-11-01T02:00:00', '2026-11-01T02:00:00-05:00'],
    ['Europe/Berlin', '2026-10-25T02:30:00', '2026-10-25T02:30:00+02:00'],
    ['Europe/Berlin', '2026-10-25T03:00:00', '2026-10-25T03:00:00+01:00'],
  ])('%s %s', (zone, local, instant) => {
    expect(new Date(firstInstantAtWall(zoneNamed(zone), wall(local))).toISOString()).toBe(new Date(Date.parse(instant)).toISOString());
  });

  it('refuses an unknown zone with a TimeZoneError', () => {
    expect(() => zoneNamed('Europe/Atlantis')).toThrow(TimeZoneError);
    expect(() => zoneNamed('Europe/Atlantis')).toThrow(/IANA zone/);
  });
});
