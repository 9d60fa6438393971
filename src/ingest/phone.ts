/**
 * One phone cell → the dedupe key and what is dialled, or why not.
 *
 * With a region the number is parsed with libphonenumber-js (full metadata)
 * and must be valid; the key is E.164 and the dial string follows the
 * requested format: `e164` (+8613333333333), `national` (the digits of the
 * national format, 13333333333 or 09121234567; a number of another country
 * is written as dialled from the region, e.g. 00989121234567 from CN), or
 * `as_written` (the cell, trimmed). With no region a loose check: 3 to 15
 * digits, an optional leading +; the key is those digits (with the + when
 * written), and the number is dialled as written. With extensions allowed,
 * 2 to 6 bare digits are an internal extension: key `ext:557`, dial `557`.
 */
import { parsePhoneNumberFromString, validatePhoneNumberLength } from 'libphonenumber-js/max';
import type { CountryCode } from 'libphonenumber-js/max';
import type { ContactPhone, NumberFormat } from './types.js';

export interface PhoneRules {
  /** Default region (ISO 3166 alpha-2), or null for the loose check. */
  region: string | null;
  numberFormat: NumberFormat;
  allowExtensions: boolean;
}

export type PhoneCheck = { ok: true; phone: ContactPhone } | { ok: false; problem: string };

const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]/g;
const SEPARATORS = /[\s\-.()/\u2010-\u2015\u00a0]/g;
const SCIENTIFIC = /^[+-]?\d+(?:\.\d+)?e[+-]?\d+$/i;

/** Persian, Arabic-Indic and full-width digits (and ＋) as ASCII. */
export function asciiDigits(s: string): string {
  return s.replace(/[\u06f0-\u06f9\u0660-\u0669\uff10-\uff19\uff0b]/g, (ch) => {
    const c = ch.charCodeAt(0);
    if (c === 0xff0b) return '+';
    if (c >= 0x06f0 && c <= 0x06f9) return String(c - 0x06f0);
    if (c >= 0x0660 && c <= 0x0669) return String(c - 0x0660);
    return String(c - 0xff10);
  });
}

/** The number without separators, or a problem. */
export function cleanNumber(raw: string): { ok: true; number: string } | { ok: false; problem: string } {
  let s = asciiDigits(raw.replace(INVISIBLE, '').trim());
  if (s.startsWith("'")) s = s.slice(1).trim();
  if (SCIENTIFIC.test(s)) {
    return { ok: false, problem: 'is in scientific notation (a spreadsheet turned it into a number): format the column as text and export again' };
  }
  if (/^\+?\d+\.0$/.test(s)) s = s.slice(0, -2);
  s = s.replace(SEPARATORS, '');
  if (s === '' || s === '+') return { ok: false, problem: 'has no digits' };
  if (!/^\+?\d+$/.test(s)) return { ok: false, problem: 'is not a phone number (only digits, spaces, + - . ( ) are allowed)' };
  return { ok: true, number: s };
}

const digitsOf = (s: string) => s.replace(/\D/g, '');

function lengthProblem(number: string, region: string): string {
  const code = validatePhoneNumberLength(number, region as CountryCode);
  const where = number.startsWith('+') ? '' : ` for region ${region}`;
  switch (code) {
    case 'TOO_SHORT':
      return `is too short${where}`;
    case 'TOO_LONG':
      return `is too long${where}`;
    case 'INVALID_LENGTH':
      return `has a length no number${where} has`;
    case 'INVALID_COUNTRY':
      return 'has an unknown country code';
    case 'NOT_A_NUMBER':
      return 'is not a phone number';
    default:
      return `is not a valid number${where}`;
  }
}

function checkWithRegion(raw: string, number: string, region: string, format: NumberFormat): PhoneCheck {
  const parsed = parsePhoneNumberFromString(number, { defaultCountry: region as CountryCode, extract: false });
  if (parsed === undefined || !parsed.isValid()) return { ok: false, problem: lengthProblem(number, region) };
  const e164 = parsed.number;
  let dial: string;
  if (format === 'e164') dial = e164;
  else if (format === 'as_written') dial = raw.trim();
  else if (parsed.country === region) dial = digitsOf(parsed.format('NATIONAL'));
  else dial = digitsOf(parsed.format('IDD', { fromCountry: region as CountryCode }) ?? '') || e164;
  return { ok: true, phone: { e164, dial } };
}

function checkLoose(raw: string, number: string): PhoneCheck {
  const digits = digitsOf(number);
  if (digits.length < 3) return { ok: false, problem: 'is too short (3 digits at least)' };
  if (digits.length > 15) return { ok: false, problem: 'is too long (15 digits at most)' };
  return { ok: true, phone: { e164: number.startsWith('+') ? `+${digits}` : digits, dial: raw.trim() } };
}

export function checkPhone(raw: string, rules: PhoneRules): PhoneCheck {
  const cleaned = cleanNumber(raw);
  if (!cleaned.ok) return cleaned;
  const { number } = cleaned;
  if (rules.allowExtensions && /^\d{2,6}$/.test(number)) {
    return { ok: true, phone: { e164: `ext:${number}`, dial: number } };
  }
  return rules.region === null
    ? checkLoose(raw, number)
    : checkWithRegion(raw, number, rules.region, rules.numberFormat);
}
