import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { inferTimezone, isValidZone, SINGLE_ZONE_COUNTRIES } from '../../src/domain/timezone.js';

describe('inferTimezone', () => {
  it.each([
    ['+8613800138000', 'Asia/Shanghai'],
    ['+989121234567', 'Asia/Tehran'],
    ['+4915123456789', 'Europe/Berlin'],
    ['+442071838750', 'Europe/London'],
    ['+447781123456', 'Europe/Guernsey'],
    ['+33612345678', 'Europe/Paris'],
    ['+919876543210', 'Asia/Kolkata'],
    ['+819012345678', 'Asia/Tokyo'],
    ['+905321234567', 'Europe/Istanbul'],
    ['+971501234567', 'Asia/Dubai'],
    ['+85291234567', 'Asia/Hong_Kong'],
    ['+2348031234567', 'Africa/Lagos'],
    ['+201001234567', 'Africa/Cairo'],
    ['+18765551234', 'America/Jamaica'],
    ['+17875551234', 'America/Puerto_Rico'],
    [' +8613800138000 ', 'Asia/Shanghai'],
  ])('%s is in %s', (e164, zone) => {
    expect(inferTimezone(e164)).toBe(zone);
  });

  it.each([
    ['+12125551234', 'US'],
    ['+14165551234', 'CA'],
    ['+79161234567', 'RU'],
    ['+5511912345678', 'BR'],
    ['+61412345678', 'AU'],
    ['+525512345678', 'MX'],
    ['+6281234567890', 'ID'],
    ['+77012345678', 'KZ'],
    ['+243812345678', 'CD'],
    ['+97688123456', 'MN'],
    ['+34612345678', 'ES'],
    ['+351912345678', 'PT'],
    ['+56912345678', 'CL'],
    ['+6421123456', 'NZ'],
  ])('%s (%s, several zones) gives null', (e164) => {
    expect(inferTimezone(e164)).toBeNull();
  });

  it.each(['+80012345678', 'not a number', '', '8613800138000', '+'])('%j (no country) gives null', (text) => {
    expect(inferTimezone(text)).toBeNull();
  });
});

describe('the single-zone table', () => {
  const entries = Object.entries(SINGLE_ZONE_COUNTRIES);

  it('covers at least 150 countries', () => {
    expect(entries.length).toBeGreaterThanOrEqual(150);
  });

  it('names only zones this runtime knows', () => {
    const unknown = entries.filter(([, zone]) => !isValidZone(zone!));
    expect(unknown).toEqual([]);
  });

  it('leaves out countries with several zones', () => {
    for (const country of ['US', 'CA', 'RU', 'BR', 'AU', 'MX', 'ID', 'KZ', 'CD', 'MN', 'CL', 'EC', 'ES', 'PT', 'NZ', 'PG', 'KI', 'FM', 'PF', 'GL']) {
      expect(SINGLE_ZONE_COUNTRIES[country as keyof typeof SINGLE_ZONE_COUNTRIES], country).toBeUndefined();
    }
  });

  it('keeps Tehran on +03:30 in summer (no DST since 2022) and Shanghai on +08:00', () => {
    expect(DateTime.fromISO('2026-07-01T12:00:00Z').setZone(SINGLE_ZONE_COUNTRIES.IR!).offset).toBe(210);
    expect(DateTime.fromISO('2026-07-01T12:00:00Z').setZone(SINGLE_ZONE_COUNTRIES.CN!).offset).toBe(480);
  });
});

describe('isValidZone', () => {
  it.each([
    ['Asia/Tehran', true],
    ['Europe/Berlin', true],
    ['America/New_York', true],
    ['UTC', true],
    ['Mars/Olympus', false],
    ['', false],
    ['  ', false],
    ['Asia/Shanghai ', false],
  ])('%j → %s', (zone, ok) => {
    expect(isValidZone(zone)).toBe(ok);
  });
});
