/**
 * The operation fields of every action, in the order the provider documents
 * them, and the checks a campaign's `--param` set must pass before any call.
 */
import type { Action } from '../domain/types.js';

/**
 * - contact: the contact's number (set by the dialer);
 * - attempt: the attempt id, customuuid (set by the dialer);
 * - required / optional: taken from the campaign's params.
 */
export type FieldRole = 'contact' | 'attempt' | 'required' | 'optional';

export interface FieldSpec {
  readonly name: string;
  readonly role: FieldRole;
}

const f = (name: string, role: FieldRole): FieldSpec => ({ name, role });

/** Wire fields per action, in the seeds' order (sipcall's `service` and `token` come first and are not listed). */
export const ACTION_FIELDS: Readonly<Record<Action, readonly FieldSpec[]>> = {
  playvoice: [
    f('voicetype', 'required'),
    f('destnumber', 'contact'),
    f('voicefile', 'required'),
    f('chengshudu', 'required'),
    f('userid', 'required'),
    f('disnumber', 'optional'),
    f('customuuid', 'attempt'),
  ],
  makecall: [
    f('extnumber', 'required'),
    f('destnumber', 'contact'),
    f('disnumber', 'optional'),
    f('userid', 'optional'),
    f('chengshudu', 'optional'),
    f('memberid', 'optional'),
    f('customuuid', 'attempt'),
  ],
  doublecall: [
    f('extnumber', 'required'),
    f('anumber', 'required'),
    f('bnumber', 'contact'),
    f('disnumber', 'optional'),
    f('userid', 'optional'),
    f('memberid', 'optional'),
    f('chengshudu', 'optional'),
    f('customuuid', 'attempt'),
  ],
  originate: [
    f('caller', 'required'),
    f('callee', 'contact'),
    f('context', 'required'),
    f('caller_id', 'required'),
    f('trunk_name', 'optional'),
    f('timeout', 'optional'),
  ],
};

/** Names the dialer sets itself on every request; a campaign may not set them. */
const RESERVED: ReadonlyMap<string, string> = new Map([
  ['service', 'the operation, chosen by the action'],
  ['token', 'the configured sipcall token'],
]);

const PLACEHOLDER: Readonly<Record<string, string>> = {
  voicetype: '1|2',
  voicefile: '<file name or URL>',
  chengshudu: '1',
  userid: '1@extGroup-1',
  extnumber: '<extension>',
  anumber: '<agent phone>',
  caller: '<first party>',
  context: 'main_routing',
  caller_id: '<caller id>',
  timeout: '30',
};

/** Params the campaign must set for an action. */
export function requiredParams(action: Action): string[] {
  return ACTION_FIELDS[action].filter((s) => s.role === 'required').map((s) => s.name);
}

/** Params the campaign may set for an action. */
export function optionalParams(action: Action): string[] {
  return ACTION_FIELDS[action].filter((s) => s.role === 'optional').map((s) => s.name);
}

/** Params set by the dialer for an action (contact number, attempt id). */
export function dialerParams(action: Action): string[] {
  return ACTION_FIELDS[action].filter((s) => s.role === 'contact' || s.role === 'attempt').map((s) => s.name);
}

export interface ValidateOptions {
  /**
   * Dial-time check: params the action does not take (per-contact custom
   * fields merged in) are ignored, as they are not sent, and so are the
   * names the dialer sets itself, as they are overwritten. Campaign creation
   * leaves it off so a typo or a misplaced field is refused.
   */
  lenient?: boolean;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const USERID_RULE = /^[0-9*#]+@[^\s@,]+$/;

function valueProblem(action: Action, name: string, value: string): string | null {
  if (CONTROL.test(value)) return `${action} --param ${name} must not contain control characters or line breaks`;
  switch (name) {
    case 'voicetype':
      return value === '1' || value === '2'
        ? null
        : `${action} --param voicetype must be 1 (a file already on the platform) or 2 (a URL), got ${JSON.stringify(value)}`;
    case 'userid':
      if (action !== 'playvoice') return null;
      return value.split(',').every((rule) => USERID_RULE.test(rule.trim()))
        ? null
        : `${action} --param userid must be a key-to-group rule such as 1@extGroup-1 (key, @, extension group), got ${JSON.stringify(value)}`;
    case 'timeout': {
      if (!/^\d+$/.test(value)) return `${action} --param timeout must be a whole number of seconds such as 30, got ${JSON.stringify(value)}`;
      const n = Number(value);
      return n >= 1 && n <= 3600 ? null : `${action} --param timeout must be between 1 and 3600 seconds, got ${value}`;
    }
    default:
      return null;
  }
}

/**
 * Problems with an action's params, each naming the field and saying what to
 * set; empty when the params are good.
 */
/** Each action's field specs by name, built once (validation runs for every dial). */
const SPECS_BY_NAME = new Map<Action, ReadonlyMap<string, (typeof ACTION_FIELDS)[Action][number]>>();

function specsByName(action: Action): ReadonlyMap<string, (typeof ACTION_FIELDS)[Action][number]> {
  let m = SPECS_BY_NAME.get(action);
  if (!m) {
    m = new Map(ACTION_FIELDS[action].map((s) => [s.name, s]));
    SPECS_BY_NAME.set(action, m);
  }
  return m;
}

export function validateDialParams(
  action: Action,
  params: Readonly<Record<string, string>>,
  options: ValidateOptions = {},
): string[] {
  const problems: string[] = [];
  const specs = ACTION_FIELDS[action];
  const byName = specsByName(action);

  for (const spec of specs) {
    if (spec.role !== 'required') continue;
    const value = params[spec.name];
    if (value === undefined || value.trim() === '') {
      problems.push(`${action} needs --param ${spec.name}=${PLACEHOLDER[spec.name] ?? '…'}`);
    }
  }

  for (const [name, value] of Object.entries(params)) {
    const spec = byName.get(name);
    const reserved = RESERVED.get(name);
    const setByDialer =
      reserved ?? (spec?.role === 'contact' ? "the contact's number" : spec?.role === 'attempt' ? 'the attempt id' : undefined);
    if (setByDialer !== undefined) {
      if (!options.lenient) problems.push(`${action} --param ${name} is set by the dialer (${setByDialer}): remove it`);
      continue;
    }
    if (spec === undefined) {
      if (!options.lenient) {
        const takes = [...requiredParams(action), ...optionalParams(action)].join(', ');
        problems.push(`${action} does not take --param ${name}: remove it (it takes ${takes})`);
      }
      continue;
    }
    if (value === '') continue;
    const problem = valueProblem(action, name, value);
    if (problem !== null) problems.push(problem);
  }
  return problems;
}

/**
 * The wire fields of one request, in the documented order: campaign params
 * (known names only), the contact's number and the attempt id. Absent
 * optional params are left out; `omitEmpty` also drops empty ones.
 */
export function wireFields(
  action: Action,
  params: Readonly<Record<string, string>>,
  number: string,
  attemptId: string,
  omitEmpty: ReadonlySet<string> = new Set(),
): [string, string][] {
  const out: [string, string][] = [];
  for (const spec of ACTION_FIELDS[action]) {
    if (spec.role === 'contact') out.push([spec.name, number]);
    else if (spec.role === 'attempt') out.push([spec.name, attemptId]);
    else {
      const value = params[spec.name];
      if (value === undefined) continue;
      if (value === '' && omitEmpty.has(spec.name)) continue;
      out.push([spec.name, value]);
    }
  }
  return out;
}
