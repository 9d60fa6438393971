import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  ALWAYS_CALLABLE,
  buildCallingWindow,
  isCallable,
  nextCallableTime,
  TimeZoneError,
  windowClosesAt,
  type CallingWindow,
  type CallingWindowSpec,
} from '../../src/domain/window.js';

/** Instants are written with their offset, so the expected values do not depend on the code under test. */
const t = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad test instant ${iso}`);
  return ms;
};
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

interface Case {
  name: string;
  spec: CallingWindowSpec;
  zone: string;
  now: string;
  callable: boolean;
  next: string | null;
  /** windowClosesAt; omitted when not checked. */
  closes?: string | null;
}

const SH = 'Asia/Shanghai';
const NY = 'America/New_York';
const BER = 'Europe/Berlin';
const THR = 'Asia/Tehran';

const CASES: Case[] = [
  // Asia/Shanghai: +08:00 all year. 2026-06-01 is a Monday.
  { name: 'before opening on a weekday', spec: { hours: '09:00-20:00', days: 'mon-fri' }, zone: SH, now: '2026-06-01T08:59:59.999+08:00', callable: false, next: '2026-06-01T09:00:00+08:00' },
  { name: 'at opening', spec: { hours: '09:00-20:00', days: 'mon-fri' }, zone: SH, now: '2026-06-01T09:00:00+08:00', callable: true, next: '2026-06-01T09:00:00+08:00', closes: '2026-06-01T20:00:00+08:00' },
  { name: 'last millisecond before closing', spec: { hours: '09:00-20:00', days: 'mon-fri' }, zone: SH, now: '2026-06-01T19:59:59.999+08:00', callable: true, next: '2026-06-01T19:59:59.999+08:00', closes: '2026-06-01T20:00:00+08:00' },
  { name: 'at closing: next morning', spec: { hours: '09:00-20:00', days: 'mon-fri' }, zone: SH, now: '2026-06-01T20:00:00+08:00', callable: false, next: '2026-06-02T09:00:00+08:00', closes: '2026-06-01T20:00:00+08:00' },
  { name: 'friday evening: monday', spec: { hours: '09:00-20:00', days: 'mon-fri' }, zone: SH, now: '2026-06-05T20:00:00+08:00', callable: false, next: '2026-06-08T09:00:00+08:00' },
  { name: 'sunday noon: monday', spec: { hours: '09:00-20:00', days: 'mon-fri' }, zone: SH, now: '2026-06-07T12:00:00+08:00', callable: false, next: '2026-06-08T09:00:00+08:00' },
  { name: 'lunch break', spec: { hours: '09:00-12:00,14:00-20:00' }, zone: SH, now: '2026-06-01T12:30:00+08:00', callable: false, next: '2026-06-01T14:00:00+08:00' },
  { name: 'morning range closes at noon', spec: { hours: '09:00-12:00,14:00-20:00' }, zone: SH, now: '2026-06-01T10:00:00+08:00', callable: true, next: '2026-06-01T10:00:00+08:00', closes: '2026-06-01T12:00:00+08:00' },
  { name: 'adjacent ranges merge', spec: { hours: '09:00-12:00,12:00-20:00' }, zone: SH, now: '2026-06-01T10:00:00+08:00', callable: true, next: '2026-06-01T10:00:00+08:00', closes: '2026-06-01T20:00:00+08:00' },
  { name: 'whole day, weekdays: closes at saturday midnight', spec: { hours: '00:00-24:00', days: 'mon-fri' }, zone: SH, now: '2026-06-03T10:00:00+08:00', callable: true, next: '2026-06-03T10:00:00+08:00', closes: '2026-06-06T00:00:00+08:00' },
  // Overnight span belongs to the day it starts: friday 20:00 to saturday 02:00.
  { name: 'overnight: friday late evening', spec: { hours: '20:00-02:00', days: 'fri' }, zone: SH, now: '2026-06-05T23:00:00+08:00', callable: true, next: '2026-06-05T23:00:00+08:00', closes: '2026-06-06T02:00:00+08:00' },
  { name: 'overnight: saturday small hours belong to friday', spec: { hours: '20:00-02:00', days: 'fri' }, zone: SH, now: '2026-06-06T01:59:00+08:00', callable: true, next: '2026-06-06T01:59:00+08:00' },
  { name: 'overnight: saturday evening is not friday', spec: { hours: '20:00-02:00', days: 'fri' }, zone: SH, now: '2026-06-06T20:00:00+08:00', callable: false, next: '2026-06-12T20:00:00+08:00' },
  { name: 'overnight: friday small hours belong to thursday', spec: { hours: '20:00-02:00', days: 'fri' }, zone: SH, now: '2026-06-05T01:00:00+08:00', callable: false, next: '2026-06-05T20:00:00+08:00' },
  { name: 'overnight to midnight written 00:00', spec: { hours: '22:00-00:00' }, zone: SH, now: '2026-06-01T23:30:00+08:00', callable: true, next: '2026-06-01T23:30:00+08:00', closes: '2026-06-02T00:00:00+08:00' },
  { name: 'overnight and morning ranges join across midnight', spec: { hours: '20:00-24:00,00:00-08:00' }, zone: SH, now: '2026-06-01T21:00:00+08:00', callable: true, next: '2026-06-01T21:00:00+08:00', closes: '2026-06-02T08:00:00+08:00' },
  // Blackout: 2026-10-01 (Thursday).
  { name: 'blackout day skipped', spec: { hours: '09:00-18:00', days: 'mon-fri', blackout: '2026-10-01' }, zone: SH, now: '2026-09-30T18:00:00+08:00', callable: false, next: '2026-10-02T09:00:00+08:00' },
  { name: 'blackout day itself', spec: { hours: '09:00-18:00', blackout: '2026-10-01' }, zone: SH, now: '2026-10-01T10:00:00+08:00', callable: false, next: '2026-10-02T09:00:00+08:00' },
  { name: 'blackout: last millisecond of the day before', spec: { blackout: '2026-10-01' }, zone: SH, now: '2026-09-30T23:59:59.999+08:00', callable: true, next: '2026-09-30T23:59:59.999+08:00', closes: '2026-10-01T00:00:00+08:00' },
  { name: 'blackout: overnight span of the day before still runs', spec: { hours: '22:00-06:00', blackout: '2026-10-01' }, zone: SH, now: '2026-10-01T03:00:00+08:00', callable: true, next: '2026-10-01T03:00:00+08:00', closes: '2026-10-01T06:00:00+08:00' },
  { name: 'blackout: no span starts on the day', spec: { hours: '22:00-06:00', blackout: '2026-10-01' }, zone: SH, now: '2026-10-01T06:00:00+08:00', callable: false, next: '2026-10-02T22:00:00+08:00' },
  { name: 'blackout in the contact zone, not UTC', spec: { blackout: '2026-10-01' }, zone: SH, now: '2026-09-30T16:30:00Z', callable: false, next: '2026-10-02T00:00:00+08:00' },
  { name: 'consecutive blackout weekends', spec: { days: 'sat,sun', blackout: '2026-06-06,2026-06-07,2026-06-13,2026-06-14' }, zone: SH, now: '2026-06-01T00:00:00+08:00', callable: false, next: '2026-06-20T00:00:00+08:00' },
  // startsAt / expiresAt
  { name: 'startsAt in the future, inside hours', spec: { hours: '09:00-20:00', startsAt: t('2026-06-10T12:00:00+08:00') }, zone: SH, now: '2026-06-01T10:00:00+08:00', callable: false, next: '2026-06-10T12:00:00+08:00' },
  { name: 'startsAt in the future, outside hours', spec: { hours: '09:00-20:00', startsAt: t('2026-06-10T21:00:00+08:00') }, zone: SH, now: '2026-06-01T10:00:00+08:00', callable: false, next: '2026-06-11T09:00:00+08:00' },
  { name: 'startsAt reached', spec: { startsAt: t('2026-06-10T12:00:00+08:00') }, zone: SH, now: '2026-06-10T12:00:00+08:00', callable: true, next: '2026-06-10T12:00:00+08:00', closes: null },
  { name: 'expiresAt caps the span', spec: { hours: '09:00-20:00', expiresAt: t('2026-06-01T15:00:00+08:00') }, zone: SH, now: '2026-06-01T14:00:00+08:00', callable: true, next: '2026-06-01T14:00:00+08:00', closes: '2026-06-01T15:00:00+08:00' },
  { name: 'expiresAt is excluded', spec: { hours: '09:00-20:00', expiresAt: t('2026-06-01T15:00:00+08:00') }, zone: SH, now: '2026-06-01T15:00:00+08:00', callable: false, next: null, closes: '2026-06-01T15:00:00+08:00' },
  { name: 'expires at the opening: never callable', spec: { hours: '09:00-20:00', expiresAt: t('2026-06-01T09:00:00+08:00') }, zone: SH, now: '2026-06-01T08:00:00+08:00', callable: false, next: null },
  { name: 'expires one millisecond after the opening', spec: { hours: '09:00-20:00', expiresAt: t('2026-06-01T09:00:00.001+08:00') }, zone: SH, now: '2026-06-01T08:00:00+08:00', callable: false, next: '2026-06-01T09:00:00+08:00' },
  { name: 'expires before the next allowed day', spec: { days: 'sat', expiresAt: t('2026-06-05T12:00:00+08:00') }, zone: SH, now: '2026-06-01T08:00:00+08:00', callable: false, next: null },
  { name: 'empty spec: always', spec: {}, zone: SH, now: '2026-06-01T03:17:00+08:00', callable: true, next: '2026-06-01T03:17:00+08:00', closes: null },
  { name: 'every day whole day with expiry', spec: { hours: '00:00-24:00', expiresAt: t('2026-07-01T00:00:00Z') }, zone: SH, now: '2026-06-01T03:17:00+08:00', callable: true, next: '2026-06-01T03:17:00+08:00', closes: '2026-07-01T00:00:00Z' },

  // America/New_York, spring forward 2026-03-08 02:00 EST → 03:00 EDT.
  { name: 'NY: start inside the skipped hour opens at the jump', spec: { hours: '02:30-05:00' }, zone: NY, now: '2026-03-08T00:00:00-05:00', callable: false, next: '2026-03-08T03:00:00-04:00' },
  { name: 'NY: just before the jump', spec: { hours: '02:30-05:00' }, zone: NY, now: '2026-03-08T01:59:59-05:00', callable: false, next: '2026-03-08T03:00:00-04:00' },
  { name: 'NY: a range inside the skipped hour is empty that day', spec: { hours: '02:00-02:30', days: 'sun' }, zone: NY, now: '2026-03-08T00:00:00-05:00', callable: false, next: '2026-03-15T02:00:00-04:00' },
  { name: 'NY: weekend across spring forward', spec: { hours: '09:00-17:00', days: 'mon-fri' }, zone: NY, now: '2026-03-06T17:00:00-05:00', callable: false, next: '2026-03-09T09:00:00-04:00' },
  { name: 'NY: overnight span shortened by the jump', spec: { hours: '22:00-06:00' }, zone: NY, now: '2026-03-07T23:00:00-05:00', callable: true, next: '2026-03-07T23:00:00-05:00', closes: '2026-03-08T06:00:00-04:00' },
  // America/New_York, fall back 2026-11-01 02:00 EDT → 01:00 EST.
  { name: 'NY: start in the repeated hour is its first occurrence', spec: { hours: '01:30-03:00' }, zone: NY, now: '2026-11-01T00:00:00-04:00', callable: false, next: '2026-11-01T01:30:00-04:00' },
  { name: 'NY: a span runs through the repeated hour', spec: { hours: '01:30-03:00' }, zone: NY, now: '2026-11-01T01:15:00-05:00', callable: true, next: '2026-11-01T01:15:00-05:00', closes: '2026-11-01T03:00:00-05:00' },
  { name: 'NY: end in the repeated hour is its first occurrence', spec: { hours: '20:00-01:30' }, zone: NY, now: '2026-11-01T01:15:00-04:00', callable: true, next: '2026-11-01T01:15:00-04:00', closes: '2026-11-01T01:30:00-04:00' },
  { name: 'NY: the second 01:15 is after that end', spec: { hours: '20:00-01:30' }, zone: NY, now: '2026-11-01T01:15:00-05:00', callable: false, next: '2026-11-01T20:00:00-05:00' },
  { name: 'NY: a day with 25 hours', spec: { days: 'sun' }, zone: NY, now: '2026-11-01T12:00:00-05:00', callable: true, next: '2026-11-01T12:00:00-05:00', closes: '2026-11-02T00:00:00-05:00' },

  // Europe/Berlin, spring forward 2026-03-29 02:00 CET → 03:00 CEST.
  { name: 'Berlin: start inside the skipped hour', spec: { hours: '02:30-04:00' }, zone: BER, now: '2026-03-29T00:00:00+01:00', callable: false, next: '2026-03-29T03:00:00+02:00' },
  { name: 'Berlin: next morning after spring forward', spec: { hours: '08:00-20:00' }, zone: BER, now: '2026-03-28T20:00:00+01:00', callable: false, next: '2026-03-29T08:00:00+02:00' },
  { name: 'Berlin: before the change, on the old offset', spec: { hours: '08:00-20:00' }, zone: BER, now: '2026-03-28T07:00:00+01:00', callable: false, next: '2026-03-28T08:00:00+01:00' },
  // Europe/Berlin, fall back 2026-10-25 03:00 CEST → 02:00 CET.
  { name: 'Berlin: start in the repeated hour', spec: { hours: '02:30-06:00' }, zone: BER, now: '2026-10-25T00:00:00+02:00', callable: false, next: '2026-10-25T02:30:00+02:00' },
  { name: 'Berlin: span through the repeated hour', spec: { hours: '02:30-06:00' }, zone: BER, now: '2026-10-25T02:45:00+01:00', callable: true, next: '2026-10-25T02:45:00+01:00', closes: '2026-10-25T06:00:00+01:00' },
  { name: 'Berlin: overnight end in the repeated hour', spec: { hours: '20:00-02:30' }, zone: BER, now: '2026-10-25T02:40:00+01:00', callable: false, next: '2026-10-25T20:00:00+01:00' },
  { name: 'Berlin: weekdays, monday after fall back', spec: { hours: '09:00-18:00', days: 'mon-fri' }, zone: BER, now: '2026-10-23T18:00:00+02:00', callable: false, next: '2026-10-26T09:00:00+01:00' },

  // Asia/Tehran: +03:30 all year since 2022 (no summer time in June 2026).
  { name: 'Tehran: summer on +03:30', spec: { hours: '09:00-21:00' }, zone: THR, now: '2026-06-15T08:00:00+03:30', callable: false, next: '2026-06-15T09:00:00+03:30' },
  { name: 'Tehran: saturday-to-wednesday week, friday off', spec: { hours: '09:00-21:00', days: 'sat-wed' }, zone: THR, now: '2026-06-18T21:00:00+03:30', callable: false, next: '2026-06-20T09:00:00+03:30' },
  { name: 'Tehran: Nowruz blackout', spec: { hours: '09:00-21:00', days: 'sat-wed', blackout: '2026-03-21,2026-03-22,2026-03-23,2026-03-24' }, zone: THR, now: '2026-03-18T21:00:00+03:30', callable: false, next: '2026-03-25T09:00:00+03:30' },
  { name: 'Tehran: March 22 kept +03:30 (no spring forward)', spec: { hours: '00:00-24:00' }, zone: THR, now: '2026-03-22T12:00:00+03:30', callable: true, next: '2026-03-22T12:00:00+03:30', closes: null },
];

describe('calling windows at fixed instants', () => {
  it.each(CASES)('$name ($zone)', (c) => {
    const w = buildCallingWindow(c.spec);
    const now = t(c.now);
    expect(isCallable(w, c.zone, now)).toBe(c.callable);
    expect(iso(nextCallableTime(w, c.zone, now))).toBe(c.next === null ? null : iso(t(c.next)));
    if (c.closes !== undefined) {
      expect(iso(windowClosesAt(w, c.zone, now))).toBe(c.closes === null ? null : iso(t(c.closes)));
    }
  });
});

/** Oracle from luxon's own wall-clock reading; valid on days without a DST change. */
function oracleCallable(w: CallingWindow, zone: string, ms: number): boolean {
  const local = DateTime.fromMillis(ms, { zone });
  const minute = local.hour * 60 + local.minute;
  const allowedDay = (d: DateTime): boolean =>
    (w.days.size === 0 || w.days.has(d.weekday)) && !w.blackout.has(d.toISODate() ?? '');
  const ranges = w.hours.length > 0 ? w.hours : [{ start: 0, end: 1440 }];
  return ranges.some((r) => {
    if (r.start < r.end) return allowedDay(local) && minute >= r.start && minute < r.end;
    return (allowedDay(local) && minute >= r.start) || (allowedDay(local.minus({ days: 1 })) && minute < r.end);
  });
}

const QUARTER = 15 * 60_000;

describe('window maths agree with a wall-clock oracle', () => {
  const window = buildCallingWindow({ hours: '08:30-12:00,13:00-21:15,23:00-01:45', days: 'mon-fri,sun', blackout: '2026-05-01,2026-05-04' });
  it.each([SH, THR, NY, BER])('%s, two weeks of quarter hours without a DST change', (zone) => {
    const from = t('2026-04-26T00:00:00Z');
    let checked = 0;
    for (let ms = from; ms < from + 14 * 86_400_000; ms += QUARTER) {
      expect(isCallable(window, zone, ms), new Date(ms).toISOString()).toBe(oracleCallable(window, zone, ms));
      checked++;
    }
    expect(checked).toBe(14 * 96);
  });
});

describe('nextCallableTime and windowClosesAt agree with isCallable around DST changes', () => {
  const windows: [string, CallingWindow][] = [
    ['overnight weekdays', buildCallingWindow({ hours: '20:00-02:30', days: 'mon-fri' })],
    ['small hours', buildCallingWindow({ hours: '01:00-03:30,05:00-06:00' })],
    ['sundays only', buildCallingWindow({ days: 'sun' })],
    ['always', ALWAYS_CALLABLE],
  ];
  const weeks: [string, string][] = [
    [NY, '2026-03-05T00:00:00Z'],
    [NY, '2026-10-29T00:00:00Z'],
    [BER, '2026-03-26T00:00:00Z'],
    [BER, '2026-10-22T00:00:00Z'],
  ];
  for (const [zone, start] of weeks) {
    for (const [name, w] of windows) {
      it(`${name}, ${zone} from ${start}`, () => {
        const from = t(start);
        const samples: number[] = [];
        for (let ms = from; ms < from + 7 * 86_400_000; ms += QUARTER) samples.push(ms);
        const callable = samples.map((ms) => isCallable(w, zone, ms));
        samples.forEach((ms, i) => {
          // Decisions at every third quarter hour (each phase of the hour in turn); membership at all of them.
          if (i % 3 !== 0) return;
          const next = nextCallableTime(w, zone, ms);
          expect(next).not.toBeNull();
          expect(next!).toBeGreaterThanOrEqual(ms);
          expect(isCallable(w, zone, next!)).toBe(true);
          // No sampled instant in [ms, next) is callable.
          for (let j = i; j < samples.length && samples[j]! < next!; j++) expect(callable[j]).toBe(false);
          const closes = windowClosesAt(w, zone, ms);
          if (!callable[i]) expect(closes).toBe(ms);
          else if (closes !== null) {
            expect(closes).toBeGreaterThan(ms);
            expect(isCallable(w, zone, closes)).toBe(false);
            expect(isCallable(w, zone, closes - 1)).toBe(true);
            for (let j = i; j < samples.length && samples[j]! < closes; j++) expect(callable[j]).toBe(true);
          } else {
            expect(name).toBe('always');
          }
        });
        expect(callable.some(Boolean)).toBe(true);
      });
    }
  }
});

describe('windowClosesAt far ahead', () => {
  it.each([
    ['whole days until a blackout two years on', { blackout: '2028-02-29' }, '2028-02-29T00:00:00+08:00'],
    ['overlapping overnight ranges run into the blackout day', { hours: '06:00-23:00,22:00-07:00', blackout: '2027-03-10' }, '2027-03-10T07:00:00+08:00'],
    ['ten blackout days from tomorrow', { blackout: '2026-06-02,2026-06-03,2026-06-04,2026-06-05,2026-06-06,2026-06-07,2026-06-08,2026-06-09,2026-06-10,2026-06-11' }, '2026-06-02T00:00:00+08:00'],
    ['a past blackout does not matter', { blackout: '2025-01-01' }, null],
    ['two blackouts: the first one stops', { blackout: '2027-05-01,2026-12-25' }, '2026-12-25T00:00:00+08:00'],
  ] as const)('%s', (_name, spec, closes) => {
    const w = buildCallingWindow(spec);
    const now = t('2026-06-01T10:00:00+08:00');
    expect(isCallable(w, SH, now)).toBe(true);
    expect(iso(windowClosesAt(w, SH, now))).toBe(closes === null ? null : iso(t(closes)));
  });
});

describe('zones', () => {
  it('throws a TimeZoneError naming an unknown zone', () => {
    expect(() => isCallable(ALWAYS_CALLABLE, 'Mars/Olympus', 0)).toThrow(TimeZoneError);
    expect(() => nextCallableTime(ALWAYS_CALLABLE, 'Mars/Olympus', 0)).toThrow(/Mars\/Olympus/);
  });
});
