/**
 * One data row → a contact or a reject. Pure: the layout and the rules say
 * where the phone, the time zone and the provider fields are and how the
 * number is checked.
 */
import { IANAZone } from 'luxon';
import type { ColumnLayout } from './columns.js';
import { checkPhone } from './phone.js';
import type { PhoneRules } from './phone.js';
import type { ColumnRef, IngestRecord, RejectReason } from './types.js';

/** The canonical IANA name of a zone (`asia/shanghai` → `Asia/Shanghai`), or null when it is not one. */
export function canonicalZone(value: string): string | null {
  const zone = value.trim();
  if (zone === '' || !IANAZone.isValidZone(zone)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** canonicalZone with a small memo: a list names few distinct zones, and each check builds an Intl formatter. */
export function makeZoneCheck(limit = 1000): (value: string) => string | null {
  const memo = new Map<string, string | null>();
  return (value) => {
    const hit = memo.get(value);
    if (hit !== undefined) return hit;
    const zone = canonicalZone(value);
    if (memo.size < limit) memo.set(value, zone);
    return zone;
  };
}

export interface RowChecks {
  phone: PhoneRules;
  zone: (value: string) => string | null;
}

const quote = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);

function column(ref: ColumnRef): string {
  return `column "${ref.name}"`;
}

function reject(line: number, values: string[], reason: RejectReason, message: string): IngestRecord {
  return { kind: 'reject', line, values, reason, message };
}

export function toRecord(values: string[], line: number, layout: ColumnLayout, checks: RowChecks): IngestRecord {
  const { phone: phoneRef, timezone: zoneRef } = layout;
  const cell = values[phoneRef.index];
  if (cell === undefined) {
    return reject(line, values, 'missing_phone', `the row has ${values.length} ${values.length === 1 ? 'column' : 'columns'} and stops before the phone ${column(phoneRef)} (column ${phoneRef.index + 1})`);
  }
  if (cell.trim() === '') return reject(line, values, 'missing_phone', `the phone ${column(phoneRef)} is empty`);
  const checked = checkPhone(cell, checks.phone);
  if (!checked.ok) return reject(line, values, 'invalid_phone', `${quote(cell.trim())} in ${column(phoneRef)} ${checked.problem}`);

  let timezone: string | null = null;
  const zoneCell = zoneRef === null ? undefined : values[zoneRef.index];
  if (zoneRef !== null && zoneCell !== undefined && zoneCell.trim() !== '') {
    timezone = checks.zone(zoneCell);
    if (timezone === null) {
      return reject(
        line,
        values,
        'bad_timezone',
        `${quote(zoneCell.trim())} in ${column(zoneRef)} is not an IANA time zone (for example Asia/Shanghai or Asia/Tehran)`,
      );
    }
  }

  const custom: Record<string, string> = {};
  for (const [field, ref] of Object.entries(layout.custom)) {
    const v = values[ref.index]?.trim();
    if (v !== undefined && v !== '') custom[field] = v;
  }
  return { kind: 'contact', line, values, phone: checked.phone, timezone, custom };
}
