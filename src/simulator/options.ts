/**
 * Simulator options: the raw input (every field optional) is validated once
 * by `parseSimulatorOptions`, whose messages name the field and say what to
 * change.
 */
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { DEFAULT_MIX, MIX_KEYS, SCRIPT_ENTRY_HELP, parseOutcome } from './outcomes.js';
import type { MixKey } from './outcomes.js';

export const DEFAULT_TOKEN = '0123456789abcdef0123456789abcdef';

export class SimulatorError extends Error {
  constructor(
    readonly code: 'ERR_SIM_OPTIONS' | 'ERR_SIM_SCRIPT' | 'ERR_SIM_CLOSED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SimulatorError';
  }
}

const rate = (name: string) =>
  z
    .number({ error: `${name} must be a number between 0 and 1` })
    .min(0, `${name} must be between 0 and 1`)
    .max(1, `${name} must be between 0 and 1`)
    .default(0);

const int = (name: string, min: number, max: number, fallback: number) =>
  z
    .number({ error: `${name} must be a whole number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be between ${min} and ${max}`)
    .max(max, `${name} must be between ${min} and ${max}`)
    .default(fallback);

const zone = (name: string, fallback: string) =>
  z
    .string({ error: `${name} must be an IANA time zone such as ${fallback}` })
    .refine((v) => IANAZone.isValidZone(v), `${name} must be an IANA time zone such as ${fallback}`)
    .default(fallback);

const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'callbackUrl must be an http(s) URL, for example http://127.0.0.1:8080');

const weight = (key: MixKey) =>
  z.number({ error: `mix.${key} must be a number` }).min(0, `mix.${key} must be 0 or more`).default(0);

const mixSchema = z
  .strictObject(
    Object.fromEntries(MIX_KEYS.map((k) => [k, weight(k)])) as Record<MixKey, ReturnType<typeof weight>>,
  )
  .refine((m) => MIX_KEYS.some((k) => k !== 'agent_no_answer' && m[k] > 0), {
    message: `mix needs a weight above 0 for at least one of ${MIX_KEYS.filter((k) => k !== 'agent_no_answer').join(', ')}`,
  });

export const scriptEntrySchema = z
  .string({ error: `a script entry must be a string: one of ${SCRIPT_ENTRY_HELP}` })
  .superRefine((s, ctx) => {
    if (parseOutcome(s) === null) {
      ctx.addIssue({ code: 'custom', message: `unknown script entry ${JSON.stringify(s)}: use one of ${SCRIPT_ENTRY_HELP}` });
    }
  });

export const scriptSchema = z.record(
  z.string().min(1, 'a script number must not be empty'),
  z.array(scriptEntrySchema, { error: 'a script maps a number to a list of outcomes' }).min(1, 'a script needs at least one outcome per number'),
);

export const simulatorOptionsSchema = z.strictObject({
  /** Port to listen on (0: any free port). */
  port: int('port', 0, 65535, 0),
  host: z.string().min(1, 'host must not be empty').default('127.0.0.1'),
  /** The sipcall token, exactly 32 characters. */
  token: z
    .string()
    .superRefine((t, ctx) => {
      if (t.length !== 32) ctx.addIssue({ code: 'custom', message: `token must be exactly 32 characters, got ${t.length}` });
    })
    .default(DEFAULT_TOKEN),
  /** The pbx X-APIKEY. */
  apiKey: z.string().min(1, 'apiKey must not be empty').default('sim-api-key'),
  username: z.string().min(1, 'username must not be empty').default('sim'),
  password: z.string().min(1, 'password must not be empty').default('sim-password'),
  /** The dialer's public URL, where callbacks are posted; null: no callbacks. */
  callbackUrl: httpUrl.nullable().default(null),
  callbackSecret: z.string().min(1, 'callbackSecret must not be empty (use null for none)').nullable().default(null),
  callbackKeyIn: z.enum(['query', 'header'], { error: 'callbackKeyIn must be query or header' }).default('query'),
  callbackEncoding: z.enum(['json', 'form'], { error: 'callbackEncoding must be json or form' }).default('json'),
  /** Real milliseconds between accepting a call and its first callback. */
  callbackDelayMs: int('callbackDelayMs', 0, 600_000, 50),
  /** Extra attempts for a callback post that failed. */
  callbackRetries: int('callbackRetries', 0, 20, 3),
  /** Backoff before retry n is callbackRetryBaseMs * 2^(n-1). */
  callbackRetryBaseMs: int('callbackRetryBaseMs', 0, 600_000, 100),
  callbackTimeoutMs: int('callbackTimeoutMs', 1, 600_000, 5_000),
  callbackConnections: int('callbackConnections', 1, 1024, 32),
  /** Real time per simulated time: 0.001 makes a 10 s call last 10 ms. */
  timeScale: z
    .number({ error: 'timeScale must be a number' })
    .min(0, 'timeScale must be between 0 and 10')
    .max(10, 'timeScale must be between 0 and 10')
    .default(0.001),
  seed: z.union([z.number().int(), z.string().min(1)], { error: 'seed must be a whole number or a string' }).default(1),
  mix: mixSchema.default(DEFAULT_MIX),
  script: scriptSchema.default({}),
  duplicateCdrRate: rate('duplicateCdrRate'),
  outOfOrderRate: rate('outOfOrderRate'),
  lostCdrRate: rate('lostCdrRate'),
  http5xxRate: rate('http5xxRate'),
  http429Rate: rate('http429Rate'),
  resetRate: rate('resetRate'),
  timeoutRate: rate('timeoutRate'),
  /** Milliseconds to wait before answering each dial request. */
  slowResponseMs: int('slowResponseMs', 0, 600_000, 0),
  /** Calls accepted in any sliding second before the next is refused with 429 (0: no cap). */
  cpsCap: int('cpsCap', 0, 1_000_000, 0),
  /** Append every ledger entry to this JSONL file. */
  ledgerFile: z.string().min(1, 'ledgerFile must not be empty (use null for none)').nullable().default(null),
  /** Ledger entries kept in memory (the oldest are dropped beyond it; 0: none kept). */
  ledgerLimit: int('ledgerLimit', 0, 10_000_000, 100_000),
  timezone: zone('timezone', 'Asia/Shanghai'),
  pbxTimezone: zone('pbxTimezone', 'Asia/Tehran'),
  numbersAsStrings: z
    .enum(['never', 'always', 'random'], { error: 'numbersAsStrings must be never, always or random' })
    .default('never'),
  companyCode: z.string().regex(/^\d{1,9}$/, 'companyCode must be digits').default('2028'),
  /** The provider's address reported in callbacks (`ip`, `downloadip`). */
  providerIp: z.string().min(1).default('127.0.0.1'),
  /** Caller ids picked at random when a sipcall request leaves `disnumber` blank. */
  callerIds: z.array(z.string().regex(/^\d+$/, 'callerIds must hold digits only')).min(1, 'callerIds needs at least one number').default(['2120280001']),
  /** pbx: refuse a PSTN callee (more than 6 digits) without trunk_name, as the seed requires. */
  pbxRequireTrunkForPstn: z.boolean({ error: 'pbxRequireTrunkForPstn must be true or false' }).default(true),
  maxBodyBytes: int('maxBodyBytes', 1024, 64 * 1024 * 1024, 1024 * 1024),
});

/** Raw options, every field optional. */
export type SimulatorOptions = z.input<typeof simulatorOptionsSchema>;
/** Options after validation, every default applied. */
export type ResolvedSimulatorOptions = z.output<typeof simulatorOptionsSchema>;

function describe(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const path = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      const hint = path === 'mix' ? ` (use ${MIX_KEYS.join(', ')})` : '';
      return `${path === '' ? 'options' : path}: unknown ${i.keys.length > 1 ? 'keys' : 'key'} ${i.keys.join(', ')}${hint}`;
    }
    return path === '' || i.message.startsWith(path) ? i.message : `${path}: ${i.message}`;
  });
}

/** Validates raw options; throws a SimulatorError listing every problem. */
export function parseSimulatorOptions(raw: unknown): ResolvedSimulatorOptions {
  const r = simulatorOptionsSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new SimulatorError('ERR_SIM_OPTIONS', `invalid simulator options:\n  - ${describe(r.error.issues).join('\n  - ')}`);
}

/** Validates a script (`{ number: [outcome, …] }`); throws a SimulatorError naming the entry. */
export function parseScript(raw: unknown, source = 'script'): Record<string, string[]> {
  const r = scriptSchema.safeParse(raw);
  if (r.success) return r.data;
  throw new SimulatorError('ERR_SIM_SCRIPT', `invalid ${source}:\n  - ${describe(r.error.issues).join('\n  - ')}`);
}
