/**
 * The campaign fields of an upload form → a raw campaign definition, the
 * way the CLI's flags build one: a `definition` field holding the JSON
 * definition, overridden field by field by named fields (`action`,
 * `param.voicefile`, `cps`, `window`, `dnc`, …). Names are accepted in
 * camelCase or with dashes (`maxConcurrent`, `max-concurrent`). Pure: every
 * problem is collected with the field named, so the caller answers once.
 */

export class UploadFieldsError extends Error {
  readonly code = 'ERR_UPLOAD_FIELDS';
  constructor(readonly problems: string[]) {
    super(`the upload's fields cannot be used:\n  - ${problems.join('\n  - ')}`);
    this.name = 'UploadFieldsError';
  }
}

/** A form field as received: its name and text (or an object when sent as application/json). */
export interface FormField {
  name: string;
  value: unknown;
}

export interface UploadFields {
  /** The raw definition to parse with the deployment's defaults. */
  raw: Record<string, unknown>;
  dryRun: boolean;
}

type Target = { at: 'top' | 'window' | 'ingest'; key: string; kind: 'text' | 'number' | 'list' };

/** Named fields, by normalized name (lower case, no dashes or underscores). */
const NAMED: Record<string, Target> = {
  provider: { at: 'top', key: 'provider', kind: 'text' },
  action: { at: 'top', key: 'action', kind: 'text' },
  name: { at: 'top', key: 'name', kind: 'text' },
  cps: { at: 'top', key: 'cps', kind: 'number' },
  maxconcurrent: { at: 'top', key: 'maxConcurrent', kind: 'number' },
  maxattempts: { at: 'top', key: 'maxAttempts', kind: 'number' },
  retrydelay: { at: 'top', key: 'retryDelay', kind: 'text' },
  retry: { at: 'top', key: 'retry', kind: 'list' },
  mingap: { at: 'top', key: 'minGap', kind: 'text' },
  resulttimeout: { at: 'top', key: 'resultTimeout', kind: 'text' },
  dnc: { at: 'top', key: 'dnc', kind: 'list' },
  window: { at: 'window', key: 'hours', kind: 'text' },
  days: { at: 'window', key: 'days', kind: 'text' },
  timezone: { at: 'window', key: 'timezone', kind: 'text' },
  timezonecolumn: { at: 'window', key: 'timezoneColumn', kind: 'text' },
  blackout: { at: 'window', key: 'blackout', kind: 'text' },
  starts: { at: 'window', key: 'starts', kind: 'text' },
  expires: { at: 'window', key: 'expires', kind: 'text' },
  phonecolumn: { at: 'ingest', key: 'phoneColumn', kind: 'text' },
  region: { at: 'ingest', key: 'region', kind: 'text' },
  numberformat: { at: 'ingest', key: 'numberFormat', kind: 'text' },
  encoding: { at: 'ingest', key: 'encoding', kind: 'text' },
  delimiter: { at: 'ingest', key: 'delimiter', kind: 'text' },
};

export const UPLOAD_FIELD_NAMES = [
  'definition', 'dryRun', 'param.<name>', 'provider', 'action', 'name', 'cps', 'maxConcurrent', 'maxAttempts', 'retryDelay', 'retry',
  'minGap', 'resultTimeout', 'dnc', 'window', 'days', 'timezone', 'timezoneColumn', 'blackout', 'starts', 'expires', 'phoneColumn',
  'region', 'numberFormat', 'encoding', 'delimiter',
];

const normalize = (name: string) => name.toLowerCase().replace(/[-_]/g, '');

function asObject(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function parseBoolean(field: string, value: string, problems: string[]): boolean {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'true' || v === '1' || v === 'yes' || v === 'on') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === 'off') return false;
  problems.push(`field ${field} must be true or false, got ${JSON.stringify(value)}`);
  return false;
}

function parseDefinition(value: unknown, problems: string[]): Record<string, unknown> {
  if (typeof value !== 'string') {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    problems.push('field definition must hold a JSON object');
    return {};
  }
  try {
    const parsed = JSON.parse(value) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    problems.push('field definition must hold a JSON object, such as {"action":"playvoice","params":{…}}');
  } catch (err) {
    problems.push(`field definition is not valid JSON: ${(err as Error).message}`);
  }
  return {};
}

/** Builds the raw definition from the form's fields, or throws an UploadFieldsError listing every problem. */
export function parseUploadFields(fields: readonly FormField[]): UploadFields {
  const problems: string[] = [];
  let base: Record<string, unknown> = {};
  let dryRun = false;
  const top: Record<string, unknown> = {};
  const window: Record<string, unknown> = {};
  const ingest: Record<string, unknown> = {};
  const params: Record<string, string> = {};
  const seen = new Set<string>();
  const once = (field: string, key: string): boolean => {
    if (seen.has(key)) {
      problems.push(`field ${field} was sent twice: send it once`);
      return false;
    }
    seen.add(key);
    return true;
  };

  for (const { name, value } of fields) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const n = normalize(name);
    if (n === 'definition') {
      if (once(name, n)) base = parseDefinition(value, problems);
      continue;
    }
    if (n === 'dryrun') {
      if (once(name, n)) dryRun = parseBoolean(name, text, problems);
      continue;
    }
    if (n.startsWith('param.') || n.startsWith('params.')) {
      const key = name.slice(name.indexOf('.') + 1).trim();
      if (key === '') problems.push(`field ${name} names no parameter: write param.voicefile, param.userid, …`);
      else if (once(name, `param.${key}`)) params[key] = text;
      continue;
    }
    if (n === 'param' || n === 'params') {
      const eq = text.indexOf('=');
      if (eq <= 0) problems.push(`field ${name} must be key=value, got ${JSON.stringify(text)}`);
      else {
        const key = text.slice(0, eq).trim();
        if (once(`${name} ${key}`, `param.${key}`)) params[key] = text.slice(eq + 1);
      }
      continue;
    }
    const target = NAMED[n];
    if (!target) {
      problems.push(`unknown field ${JSON.stringify(name)}: send definition (JSON) or named fields: ${UPLOAD_FIELD_NAMES.join(', ')}`);
      continue;
    }
    const into = target.at === 'top' ? top : target.at === 'window' ? window : ingest;
    if (target.kind === 'list') {
      const items = target.key === 'dnc' ? text.split(',').map((s) => s.trim()).filter((s) => s !== '') : [text];
      into[target.key] = [...((into[target.key] as string[] | undefined) ?? []), ...items];
      continue;
    }
    if (!once(name, `${target.at}.${target.key}`)) continue;
    if (target.kind === 'number') {
      const num = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(num)) problems.push(`field ${name} must be a number, got ${JSON.stringify(text)}`);
      else into[target.key] = num;
    } else into[target.key] = text;
  }
  if (problems.length > 0) throw new UploadFieldsError(problems);

  const raw: Record<string, unknown> = { ...base, ...top };
  if (Object.keys(params).length > 0) raw.params = { ...asObject(base.params), ...params };
  if (Object.keys(window).length > 0) raw.window = { ...asObject(base.window), ...window };
  if (Object.keys(ingest).length > 0) raw.ingest = { ...asObject(base.ingest), ...ingest };
  return { raw, dryRun };
}
