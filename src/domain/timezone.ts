/**
 * A contact's time zone guessed from its number: the zone of the number's
 * country when the whole country keeps one civil time. Countries whose parts
 * keep different times (US, CA, MX, BR, RU, AU, ID, KZ, CD, MN, …) are not in
 * the table, so they give null and the campaign's zone applies.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { CountryCode } from 'libphonenumber-js';
import { IANAZone } from 'luxon';

/** ISO 3166 country → its only civil time zone. */
export const SINGLE_ZONE_COUNTRIES: Readonly<Partial<Record<CountryCode, string>>> = Object.freeze({
  // Asia
  AE: 'Asia/Dubai', AF: 'Asia/Kabul', AM: 'Asia/Yerevan', AZ: 'Asia/Baku', BD: 'Asia/Dhaka',
  BH: 'Asia/Bahrain', BN: 'Asia/Brunei', BT: 'Asia/Thimphu', CN: 'Asia/Shanghai', GE: 'Asia/Tbilisi',
  HK: 'Asia/Hong_Kong', IL: 'Asia/Jerusalem', IN: 'Asia/Kolkata', IQ: 'Asia/Baghdad', IR: 'Asia/Tehran',
  JO: 'Asia/Amman', JP: 'Asia/Tokyo', KG: 'Asia/Bishkek', KH: 'Asia/Phnom_Penh', KP: 'Asia/Pyongyang',
  KR: 'Asia/Seoul', KW: 'Asia/Kuwait', LA: 'Asia/Vientiane', LB: 'Asia/Beirut', LK: 'Asia/Colombo',
  MM: 'Asia/Yangon', MO: 'Asia/Macau', MV: 'Indian/Maldives', MY: 'Asia/Kuala_Lumpur', NP: 'Asia/Kathmandu',
  OM: 'Asia/Muscat', PH: 'Asia/Manila', PK: 'Asia/Karachi', QA: 'Asia/Qatar', SA: 'Asia/Riyadh',
  SG: 'Asia/Singapore', SY: 'Asia/Damascus', TH: 'Asia/Bangkok', TJ: 'Asia/Dushanbe', TL: 'Asia/Dili',
  TM: 'Asia/Ashgabat', TR: 'Europe/Istanbul', TW: 'Asia/Taipei', UZ: 'Asia/Tashkent', VN: 'Asia/Ho_Chi_Minh',
  YE: 'Asia/Aden', CY: 'Asia/Nicosia',
  // Europe
  AD: 'Europe/Andorra', AL: 'Europe/Tirane', AT: 'Europe/Vienna', AX: 'Europe/Mariehamn', BA: 'Europe/Sarajevo',
  BE: 'Europe/Brussels', BG: 'Europe/Sofia', BY: 'Europe/Minsk', CH: 'Europe/Zurich', CZ: 'Europe/Prague',
  DE: 'Europe/Berlin', DK: 'Europe/Copenhagen', EE: 'Europe/Tallinn', FI: 'Europe/Helsinki', FO: 'Atlantic/Faroe',
  FR: 'Europe/Paris', GB: 'Europe/London', GG: 'Europe/Guernsey', GI: 'Europe/Gibraltar', GR: 'Europe/Athens',
  HR: 'Europe/Zagreb', HU: 'Europe/Budapest', IE: 'Europe/Dublin', IM: 'Europe/Isle_of_Man', IS: 'Atlantic/Reykjavik',
  IT: 'Europe/Rome', JE: 'Europe/Jersey', LI: 'Europe/Vaduz', LT: 'Europe/Vilnius', LU: 'Europe/Luxembourg',
  LV: 'Europe/Riga', MC: 'Europe/Monaco', MD: 'Europe/Chisinau', ME: 'Europe/Podgorica', MK: 'Europe/Skopje',
  MT: 'Europe/Malta', NL: 'Europe/Amsterdam', NO: 'Europe/Oslo', PL: 'Europe/Warsaw', RO: 'Europe/Bucharest',
  RS: 'Europe/Belgrade', SE: 'Europe/Stockholm', SI: 'Europe/Ljubljana', SK: 'Europe/Bratislava', SM: 'Europe/San_Marino',
  UA: 'Europe/Kyiv', VA: 'Europe/Vatican', XK: 'Europe/Belgrade',
  // Africa
  AO: 'Africa/Luanda', BF: 'Africa/Ouagadougou', BI: 'Africa/Bujumbura', BJ: 'Africa/Porto-Novo', BW: 'Africa/Gaborone',
  CF: 'Africa/Bangui', CG: 'Africa/Brazzaville', CI: 'Africa/Abidjan', CM: 'Africa/Douala', CV: 'Atlantic/Cape_Verde',
  DJ: 'Africa/Djibouti', DZ: 'Africa/Algiers', EG: 'Africa/Cairo', ER: 'Africa/Asmara', ET: 'Africa/Addis_Ababa',
  GA: 'Africa/Libreville', GH: 'Africa/Accra', GM: 'Africa/Banjul', GN: 'Africa/Conakry', GQ: 'Africa/Malabo',
  GW: 'Africa/Bissau', KE: 'Africa/Nairobi', KM: 'Indian/Comoro', LR: 'Africa/Monrovia', LS: 'Africa/Maseru',
  LY: 'Africa/Tripoli', MA: 'Africa/Casablanca', MG: 'Indian/Antananarivo', ML: 'Africa/Bamako', MR: 'Africa/Nouakchott',
  MU: 'Indian/Mauritius', MW: 'Africa/Blantyre', MZ: 'Africa/Maputo', NA: 'Africa/Windhoek', NE: 'Africa/Niamey',
  NG: 'Africa/Lagos', RE: 'Indian/Reunion', RW: 'Africa/Kigali', SC: 'Indian/Mahe', SD: 'Africa/Khartoum',
  SL: 'Africa/Freetown', SN: 'Africa/Dakar', SO: 'Africa/Mogadishu', SS: 'Africa/Juba', ST: 'Africa/Sao_Tome',
  SZ: 'Africa/Mbabane', TD: 'Africa/Ndjamena', TG: 'Africa/Lome', TN: 'Africa/Tunis', TZ: 'Africa/Dar_es_Salaam',
  UG: 'Africa/Kampala', YT: 'Indian/Mayotte', ZA: 'Africa/Johannesburg', ZM: 'Africa/Lusaka', ZW: 'Africa/Harare',
  // Americas
  AG: 'America/Antigua', AI: 'America/Anguilla', AR: 'America/Argentina/Buenos_Aires', AW: 'America/Aruba', BB: 'America/Barbados',
  BM: 'Atlantic/Bermuda', BO: 'America/La_Paz', BQ: 'America/Kralendijk', BS: 'America/Nassau', BZ: 'America/Belize',
  CO: 'America/Bogota', CR: 'America/Costa_Rica', CU: 'America/Havana', CW: 'America/Curacao', DM: 'America/Dominica',
  DO: 'America/Santo_Domingo', GD: 'America/Grenada', GF: 'America/Cayenne', GP: 'America/Guadeloupe', GT: 'America/Guatemala',
  GY: 'America/Guyana', HN: 'America/Tegucigalpa', HT: 'America/Port-au-Prince', JM: 'America/Jamaica', KN: 'America/St_Kitts',
  KY: 'America/Cayman', LC: 'America/St_Lucia', MQ: 'America/Martinique', MS: 'America/Montserrat', NI: 'America/Managua',
  PA: 'America/Panama', PE: 'America/Lima', PM: 'America/Miquelon', PR: 'America/Puerto_Rico', PY: 'America/Asuncion',
  SR: 'America/Paramaribo', SV: 'America/El_Salvador', SX: 'America/Lower_Princes', TC: 'America/Grand_Turk', TT: 'America/Port_of_Spain',
  UY: 'America/Montevideo', VC: 'America/St_Vincent', VE: 'America/Caracas', VG: 'America/Tortola', VI: 'America/St_Thomas',
  // Oceania
  AS: 'Pacific/Pago_Pago', CK: 'Pacific/Rarotonga', FJ: 'Pacific/Fiji', GU: 'Pacific/Guam', MH: 'Pacific/Majuro',
  MP: 'Pacific/Saipan', NC: 'Pacific/Noumea', NR: 'Pacific/Nauru', NU: 'Pacific/Niue', PW: 'Pacific/Palau',
  SB: 'Pacific/Guadalcanal', TO: 'Pacific/Tongatapu', TV: 'Pacific/Funafuti', VU: 'Pacific/Efate', WS: 'Pacific/Apia',
});

/**
 * The time zone of an E.164 number's country when that country keeps a
 * single civil time; null for several-zone countries, non-geographic and
 * unparseable numbers.
 */
export function inferTimezone(e164: string): string | null {
  const text = e164.trim();
  // Only an international number names its country (loose-mode digits and extensions do not);
  // asking the parser about the others costs a thrown error each.
  if (!text.startsWith('+')) return null;
  const parsed = parsePhoneNumberFromString(text);
  const country = parsed?.country;
  if (country === undefined) return null;
  return SINGLE_ZONE_COUNTRIES[country] ?? null;
}

/** Whether `zone` is an IANA zone name this runtime knows. */
export function isValidZone(zone: string): boolean {
  return zone.trim() !== '' && IANAZone.isValidZone(zone);
}
