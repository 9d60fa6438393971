/**
 * A campaign definition: raw input (a `jobs/*.json` file merged with CLI flags
 * or HTTP fields) parsed once into a resolved, stored definition.
 */
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { ACTION_FAMILY, ACTIONS, PROVIDER_FAMILIES } from '../domain/types.js';
import { formatDuration, parseDuration } from '../domain/duration.js';
import { formatFrequencyCap, longestPeriod, parseFrequencyCap } from '../domain/frequency-cap.js';
import { parseBlackout, parseDays, parseHours } from '../domain/window-spec.js';
import { buildRetryPolicy } from '../domain/retry.js';
import { validateDialParams } from '../providers/params.js';

const NUMBER_FORMATS = ['e164', 'national', 'as_written'] as const;

const duration = (field: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === 'number') return Math.round(v * 1000);
    try {
      return parseDuration(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${field}: ${(err as Error).message}` });
      return z.NEVER;
    }
  });

const isoTime = (field: string) =>
  z.string().transform((v, ctx) => {
    const t = Date.parse(v);
    if (Number.isNaN(t)) {
      ctx.addIssue({ code: 'custom', message: `${field} must be an ISO 8601 time such as 2026-12-01T09:00:00+08:00, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return new Date(t).toISOString();
  });

const zone = (field: string) =>
  z.string().refine((v) => IANAZone.isValidZone(v), { message: `${field} must be an IANA time zone such as Asia/Shanghai` });

const paramValue = z.union([z.string(), z.number()]).transform(String);

/** What a user writes: every field optional but provider and action. */
export const rawDefinitionSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    provider: z.enum(PROVIDER_FAMILIES, { message: `provider must be one of ${PROVIDER_FAMILIES.join(', ')}` }).optional(),
    action: z.enum(ACTIONS, { message: `action must be one of ${ACTIONS.join(', ')}` }),
    params: z.record(z.string(), paramValue).default({}),
    /** The campaign's own limits; 0 (the default): none of its own, the provider account's apply. */
    cps: z.number().min(0, 'cps must be 0 (no campaign limit) or more').max(10_000).default(0),
    maxConcurrent: z.number().int().min(0, 'maxConcurrent must be 0 (no campaign limit) or more').max(100_000).default(0),
    maxAttempts: z.number().int().min(1, 'maxAttempts must be at least 1').max(100).default(3),
    retryDelay: duration('retryDelay').default(300_000),
    retry: z.array(z.string()).default([]),
    minGap: duration('minGap').optional(),
    resultTimeout: duration('resultTimeout').default(180_000),
    window: z
      .object({
        hours: z.string().optional(),
        days: z.string().optional(),
        blackout: z.string().optional(),
        timezone: zone('window.timezone').optional(),
        timezoneColumn: z.string().min(1).optional(),
        starts: isoTime('window.starts').optional(),
        expires: isoTime('window.expires').optional(),
      })
      .strict()
      .default({}),
    ingest: z
      .object({
        phoneColumn: z.string().min(1).optional(),
        region: z
          .string()
          .regex(/^[A-Za-z]{2}$/, 'ingest.region must be a two-letter region such as CN')
          .transform((s) => s.toUpperCase())
          .optional(),
        numberFormat: z.enum(NUMBER_FORMATS).default('as_written'),
        encoding: z.string().min(1).optional(),
        delimiter: z.string().min(1).max(1).optional(),
      })
      .strict()
      .default({ numberFormat: 'as_written' }),
    dnc: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a DNC list name may hold letters, digits, _ . -')).default([]),
    /** Attempts per number within rolling periods, across campaigns (`2/1d,7/7d`): adds to the deployment's cap. */
    frequencyCap: z.string().optional(),
    webhook: z
      .object({ url: z.url({ message: 'webhook.url must be an http(s) URL' }), secret: z.string().min(16, 'webhook.secret must be at least 16 characters') })
      .strict()
      .optional(),
  })
  .strict();

export type RawCampaignDefinition = z.input<typeof rawDefinitionSchema>;

/** The resolved definition as stored in Redis; parsed back through this schema. */
export const campaignDefinitionSchema = z
  .object({
    name: z.string(),
    provider: z.enum(PROVIDER_FAMILIES),
    action: z.enum(ACTIONS),
    params: z.record(z.string(), z.string()),
    cps: z.number(),
    maxConcurrent: z.number(),
    maxAttempts: z.number(),
    retryDelayMs: z.number(),
    retry: z.array(z.string()),
    minGapMs: z.number(),
    resultTimeoutMs: z.number(),
    window: z.object({
      hours: z.string().nullable(),
      days: z.string().nullable(),
      blackout: z.string().nullable(),
      timezone: z.string(),
      timezoneColumn: z.string().nullable(),
      startsAt: z.string().nullable(),
      expiresAt: z.string().nullable(),
    }),
    ingest: z.object({
      phoneColumn: z.string().nullable(),
      region: z.string().nullable(),
      numberFormat: z.enum(NUMBER_FORMATS),
      encoding: z.string().nullable(),
      delimiter: z.string().nullable(),
    }),
    dnc: z.array(z.string()),
    /** The campaign's own frequency cap, normalized ('' = none beyond the deployment's). */
    frequencyCap: z.string().default(''),
    webhook: z.object({ url: z.string(), secret: z.string() }).nullable(),
  })
  .strict();

export type CampaignDefinition = z.infer<typeof campaignDefinitionSchema>;

export class DefinitionError extends Error {
  readonly code = 'ERR_CAMPAIGN_DEFINITION';
  constructor(readonly problems: string[]) {
    super(`invalid campaign definition:\n  - ${problems.join('\n  - ')}`);
    this.name = 'DefinitionError';
  }
}

function issuePath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/**
 * Parses a raw definition; throws a DefinitionError listing every problem
 * (with the field named) so the user fixes them in one go.
 */
export function parseCampaignDefinition(
  raw: unknown,
  defaults: {
    timezone: string;
    region: string | null;
    /** How long each number's attempts are kept (AUTODIALER_FREQUENCY_HISTORY): no cap may span longer. */
    frequencyHistoryMs?: number;
  },
): CampaignDefinition {
  const parsed = rawDefinitionSchema.safeParse(raw);
  if (!parsed.success) {
    throw new DefinitionError(
      parsed.error.issues.map((i) => {
        const where = issuePath(i.path);
        return where && !i.message.startsWith(where) ? `${where}: ${i.message}` : i.message;
      }),
    );
  }
  const d = parsed.data;
  const problems: string[] = [];
  const family = ACTION_FAMILY[d.action];
  if (d.provider && d.provider !== family) {
    problems.push(`action ${d.action} belongs to provider ${family}, not ${d.provider}`);
  }
  problems.push(...validateDialParams(d.action, d.params));
  const tryParse = (label: string, fn: () => unknown): void => {
    try {
      fn();
    } catch (err) {
      problems.push(`${label}: ${(err as Error).message}`);
    }
  };
  if (d.window.hours) tryParse('window.hours', () => parseHours(d.window.hours!));
  if (d.window.days) tryParse('window.days', () => parseDays(d.window.days!));
  if (d.window.blackout) tryParse('window.blackout', () => parseBlackout(d.window.blackout!));
  if (d.window.starts && d.window.expires && Date.parse(d.window.expires) <= Date.parse(d.window.starts)) {
    problems.push('window.expires must come after window.starts');
  }
  let frequencyCap = '';
  if (d.frequencyCap !== undefined) {
    tryParse('frequencyCap', () => {
      const caps = parseFrequencyCap(d.frequencyCap!);
      const keep = defaults.frequencyHistoryMs;
      if (keep !== undefined && longestPeriod(caps) > keep) {
        throw new Error(
          `a period of ${formatDuration(longestPeriod(caps))} is longer than the attempts kept per number (${formatDuration(keep)}): shorten it or set AUTODIALER_FREQUENCY_HISTORY=${formatDuration(longestPeriod(caps))}`,
        );
      }
      frequencyCap = formatFrequencyCap(caps);
    });
  }
  tryParse('retry', () =>
    buildRetryPolicy({ retry: d.retry, maxAttempts: d.maxAttempts, retryDelayMs: d.retryDelay, minGapMs: d.minGap ?? 0 }),
  );
  if (problems.length > 0) throw new DefinitionError(problems);

  return {
    name: d.name ?? `${d.action} campaign`,
    provider: family,
    action: d.action,
    params: d.params,
    cps: d.cps,
    maxConcurrent: d.maxConcurrent,
    maxAttempts: d.maxAttempts,
    retryDelayMs: d.retryDelay,
    retry: d.retry,
    minGapMs: d.minGap ?? 0,
    resultTimeoutMs: d.resultTimeout,
    window: {
      hours: d.window.hours ?? null,
      days: d.window.days ?? null,
      blackout: d.window.blackout ?? null,
      timezone: d.window.timezone ?? defaults.timezone,
      timezoneColumn: d.window.timezoneColumn ?? null,
      startsAt: d.window.starts ?? null,
      expiresAt: d.window.expires ?? null,
    },
    ingest: {
      phoneColumn: d.ingest.phoneColumn ?? null,
      region: d.ingest.region ?? defaults.region,
      numberFormat: d.ingest.numberFormat,
      encoding: d.ingest.encoding ?? null,
      delimiter: d.ingest.delimiter ?? null,
    },
    dnc: d.dnc,
    frequencyCap,
    webhook: d.webhook ?? null,
  };
}

