/**
 * Which column holds what: the phone column and the time zone column by their
 * usual names (English, Chinese, Persian), provider fields by their exact
 * names, or as named by the user.
 */
import { IngestError } from './errors.js';
import type { ColumnRef } from './types.js';

/** Phone column names, best first (normalized: see normalizeHeader). */
export const PHONE_HEADER_NAMES = [
  'mobile', 'mobilenumber', 'mobilephone', 'mobileno', 'cell', 'cellphone', 'cellnumber',
  'phone', 'phonenumber', 'phoneno', 'telephone', 'telephonenumber', 'tel', 'msisdn',
  '手机', '手机号', '手机号码', '移动电话', '电话', '电话号码', '联系电话',
  'موبایل', 'شمارهموبایل', 'تلفنهمراه', 'شمارههمراه', 'همراه', 'تلفن', 'شمارهتلفن',
  'number', 'contact', 'contactnumber', 'destnumber', 'callee', '号码', '联系方式', 'شماره',
] as const;

export const TIMEZONE_HEADER_NAMES = ['timezone', 'tz', 'zone', '时区', 'منطقهزمانی'] as const;

/** Provider fields picked up from a column named exactly like them. */
export const DEFAULT_CUSTOM_FIELDS = [
  'userid', 'memberid', 'chengshudu', 'extnumber', 'disnumber', 'anumber', 'voicefile',
  'caller', 'caller_id', 'trunk_name',
] as const;

/**
 * Case-, space- and punctuation-insensitive form of a header cell: NFKC,
 * lower case, Arabic yeh/kaf as Persian ones (Windows-1256 has no Persian
 * yeh), without byte order marks, zero-width characters, spaces, `_ - . : * #`
 * and brackets.
 */
export function normalizeHeader(cell: string): string {
  return cell
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u064a\u0649]/g, '\u06cc')
    .replace(/\u0643/g, '\u06a9')
    .replace(/[\ufeff\u200b-\u200f\u2060\u00ad]/g, '')
    .replace(/[\s_\-.:*#()[\]{}（）【】：＊]/g, '');
}

export interface ColumnLayout {
  phone: ColumnRef;
  timezone: ColumnRef | null;
  custom: Record<string, ColumnRef>;
}

export interface ColumnChoices {
  phoneColumn: string | null;
  timezoneColumn: string | null;
  customColumns: Record<string, string> | null;
}

function listHeaders(columns: string[]): string {
  const shown = columns.slice(0, 20).map((c) => (c.length > 40 ? `${c.slice(0, 40)}…` : c));
  const more = columns.length > 20 ? ` (and ${columns.length - 20} more)` : '';
  return `${shown.join(', ')}${more}`;
}

function findNamed(columns: string[], wanted: string): ColumnRef | null {
  const exact = columns.findIndex((c) => c.trim() === wanted.trim());
  if (exact >= 0) return { index: exact, name: columns[exact] as string };
  const norm = normalizeHeader(wanted);
  const loose = columns.findIndex((c) => normalizeHeader(c) === norm);
  return loose >= 0 ? { index: loose, name: columns[loose] as string } : null;
}

function named(columns: string[], wanted: string, what: string, flag: string, fileName: string): ColumnRef {
  const ref = findNamed(columns, wanted);
  if (ref === null) {
    throw new IngestError(
      'unknown_column',
      `no column named "${wanted}" (${what}) in ${fileName}: headers are ${listHeaders(columns)}; fix ${flag}`,
      fileName,
    );
  }
  return ref;
}

/** The column whose normalized name ranks best in `names`; ties go to the leftmost. */
export function findByNames(columns: string[], names: readonly string[]): ColumnRef | null {
  let bestRank = names.length;
  let bestIndex = -1;
  for (let index = 0; index < columns.length; index++) {
    const rank = names.indexOf(normalizeHeader(columns[index] as string));
    if (rank >= 0 && rank < bestRank) {
      bestRank = rank;
      bestIndex = index;
    }
  }
  return bestIndex < 0 ? null : { index: bestIndex, name: columns[bestIndex] as string };
}

const LOOKS_LIKE_NUMBER = /^\s*\+?[\d\s\-().]{5,}\s*$/;

export function resolveColumns(columns: string[], choices: ColumnChoices, fileName: string): ColumnLayout {
  let phone: ColumnRef | null;
  if (choices.phoneColumn !== null) {
    phone = named(columns, choices.phoneColumn, 'phone column', '--phone-column', fileName);
  } else {
    phone = findByNames(columns, PHONE_HEADER_NAMES);
    if (phone === null) {
      const dataLike = columns.find((c) => LOOKS_LIKE_NUMBER.test(c));
      const hint =
        dataLike !== undefined
          ? `; the first row looks like data (${dataLike.trim()}): add a header row naming the columns, e.g. phone,name`
          : '; name it with --phone-column';
      throw new IngestError('no_phone_column', `no phone column in ${fileName}: headers are ${listHeaders(columns)}${hint}`, fileName);
    }
  }
  const timezone =
    choices.timezoneColumn !== null
      ? named(columns, choices.timezoneColumn, 'time zone column', '--timezone-column', fileName)
      : findByNames(columns, TIMEZONE_HEADER_NAMES);
  const custom: Record<string, ColumnRef> = {};
  if (choices.customColumns !== null) {
    for (const [field, column] of Object.entries(choices.customColumns)) {
      custom[field] = named(columns, column, `custom field ${field}`, '--custom-column', fileName);
    }
  } else {
    for (const field of DEFAULT_CUSTOM_FIELDS) {
      const index = columns.findIndex((c) => c.trim().toLowerCase() === field);
      if (index >= 0) custom[field] = { index, name: columns[index] as string };
    }
  }
  return { phone, timezone, custom };
}
