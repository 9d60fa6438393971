/**
 * The API's inputs and answers as zod schemas: the routes validate with them
 * and `/openapi.json` is generated from them. Answers are described with
 * their main fields and pass any other field through (`loose`).
 */
import { z } from 'zod';
import { rawDefinitionSchema } from '../campaign/definition.js';
import { CAMPAIGN_STATES, CONTACT_STATUSES } from '../domain/types.js';
import { isCampaignId } from '../store/ids.js';

export const campaignId = z.string().refine(isCampaignId, 'campaign ids are 8 lowercase letters or digits').describe('Campaign id (8 lowercase letters or digits)');
export const idParams = z.object({ id: campaignId });

const wholeNumber = (name: string, min: number, max: number, dflt: number) =>
  z.coerce
    .number({ message: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`)
    .default(dflt);

export const listQuery = z
  .object({
    limit: wholeNumber('limit', 1, 500, 50).describe('Campaigns per page (1–500)'),
    offset: wholeNumber('offset', 0, 1_000_000_000, 0).describe('Campaigns to skip, newest first'),
    state: z.enum(CAMPAIGN_STATES, { message: `state must be one of ${CAMPAIGN_STATES.join(', ')}` }).optional().describe('Only campaigns in this state'),
  })
  .strict();

export const exportQuery = z.object({ format: z.enum(['csv', 'jsonl'], { message: 'format must be csv or jsonl' }).default('csv') }).strict();
export const failedQuery = z.object({ limit: wholeNumber('limit', 1, 10_000, 100) }).strict();
export const runsQuery = z.object({ limit: wholeNumber('limit', 1, 1000, 50) }).strict();
export const createQuery = z
  .object({ dryRun: z.enum(['true', 'false'], { message: 'dryRun must be true or false' }).optional().describe('true: read and check the list, store nothing') })
  .strict();

export const paceBody = z
  .object({
    cps: z.number({ message: 'cps must be a number' }).min(0, 'cps must be 0 (no campaign limit) or more').optional().describe('Calls per second (0: none of its own)'),
    maxConcurrent: z.number({ message: 'maxConcurrent must be a number' }).int('maxConcurrent must be a whole number').min(0, 'maxConcurrent must be 0 (no campaign limit) or more').optional(),
  })
  .strict();

const scheduleName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a schedule is named by its definition file: letters, digits, - and _').describe('The definition file name, without extension');
export const scheduleParams = z.object({ name: scheduleName });

/** A contact row as a CSV line would hold it: column name → value. */
const contactRow = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

/**
 * `POST /campaigns` as JSON: a definition as in the jobs directory (the same
 * fields), its `contacts` a URL to fetch or the rows themselves.
 */
export const campaignJsonBody = rawDefinitionSchema
  .extend({
    contacts: z
      .union([
        z.url({ protocol: /^https?$/, message: 'contacts must be an http(s) URL or an array of rows' }).describe('An http(s) URL of a CSV list, fetched once'),
        z.array(contactRow).min(1, 'contacts must hold at least one row').describe('The rows, each keyed like a CSV header: [{"phone": "…", "name": "…"}, …]'),
      ])
      .describe('Where the contacts come from: an http(s) URL of a CSV list, or the rows themselves'),
  })
  .strict()
  .meta({ id: 'CampaignDefinition', description: 'A campaign definition with the fields of a jobs/ file; schedule is not accepted here (schedules are files in the jobs directory).' });

export const importSummary = z
  .object({
    fileName: z.string(),
    encoding: z.string(),
    delimiter: z.string(),
    header: z.array(z.string()),
    rowsRead: z.number(),
    blankLines: z.number(),
    added: z.number().describe('Contacts that will be dialed'),
    duplicate: z.number(),
    dnc: z.number(),
    invalid: z.number(),
    invalidByReason: z.record(z.string(), z.number()),
    alreadyInCampaign: z.number(),
    estimatedSeconds: z.number().nullable().optional().describe('Dry runs: seconds to dial what would be added at the pace in force'),
  })
  .loose()
  .meta({ id: 'ImportSummary' });

export const createAnswer = z.object({ id: campaignId, import: importSummary, warnings: z.array(z.string()).optional() }).meta({ id: 'CampaignCreated' });
export const dryRunAnswer = z.object({ dryRun: z.literal(true), import: importSummary, warnings: z.array(z.string()).optional() }).meta({ id: 'DryRun' });

const counts = z.record(z.enum(CONTACT_STATUSES), z.number());

export const campaignSummary = z
  .object({
    id: campaignId,
    name: z.string(),
    state: z.enum(CAMPAIGN_STATES),
    provider: z.string(),
    action: z.string(),
    total: z.number().describe('Contacts stored'),
    createdAt: z.string(),
    schedule: z.object({ name: z.string(), tick: z.string() }).nullable().describe('The schedule and tick that launched a scheduled run'),
  })
  .meta({ id: 'CampaignSummary' });

export const listAnswer = z
  .object({
    campaigns: z.array(campaignSummary).describe('Newest first'),
    total: z.number().describe('Campaigns that match, on every page'),
    offset: z.number(),
    limit: z.number(),
    nextOffset: z.number().nullable().describe('The offset of the next page; null on the last'),
  })
  .meta({ id: 'CampaignList' });

export const statusAnswer = z
  .object({
    id: campaignId,
    name: z.string(),
    state: z.enum(CAMPAIGN_STATES),
    provider: z.string(),
    action: z.string(),
    pausedReason: z.string().nullable(),
    total: z.number(),
    final: z.number(),
    counts,
    inFlight: z.number().describe('Calls placed and not final yet'),
    ready: z.number(),
    scheduled: z.number(),
    rateNow: z.number().nullable().describe('Calls begun per second over the last 10 s'),
    targetRate: z.number().nullable(),
    channels: z.object({ inUse: z.number(), cap: z.number().nullable(), capSource: z.enum(['campaign', 'account']).nullable() }),
    heldBy: z.object({ kind: z.string(), text: z.string() }).describe('What holds the campaign now, in words'),
    answerRate: z.number().nullable(),
    eta: z.string().nullable(),
  })
  .loose()
  .meta({ id: 'CampaignStatus' });

export const controlAnswer = z.object({ id: campaignId, action: z.enum(['pause', 'resume', 'cancel']), state: z.enum(CAMPAIGN_STATES).nullable() }).meta({ id: 'ControlResult' });
export const paceAnswer = z.object({ id: campaignId, pace: z.object({ cps: z.number(), maxConcurrent: z.number() }) });
export const deleteAnswer = z.object({ id: campaignId, deleted: z.literal(true) }).loose();
export const failedAnswer = z.object({
  id: campaignId,
  failed: z.array(
    z.object({ delivery: z.string(), contact: z.number(), status: z.string(), tries: z.number(), failedAt: z.string(), reason: z.string(), lastError: z.string(), resendable: z.boolean() }).loose(),
  ),
});
export const resendAnswer = z.object({ id: campaignId, resent: z.number(), kept: z.number() });

export const scheduleListAnswer = z.object({
  schedules: z.array(
    z
      .object({
        name: z.string(),
        cron: z.string().optional(),
        every: z.string().optional(),
        timezone: z.string(),
        overlap: z.enum(['skip', 'parallel']).nullable(),
        next: z.object({ utc: z.string(), local: z.string() }).nullable(),
        lastRun: z.object({ id: z.string().nullable(), tick: z.string(), state: z.string() }).nullable(),
        synced: z.boolean(),
      })
      .loose(),
  ),
  problems: z.array(z.string()).describe('Definition files that have errors, each with its file, line and field'),
});

const runView = z
  .object({ id: z.string().nullable(), tick: z.string(), state: z.string(), counts: counts.nullable(), manual: z.boolean().optional(), error: z.string().optional() })
  .loose()
  .meta({ id: 'ScheduleRun' });
export const runsAnswer = z.object({ name: z.string(), runs: z.array(runView) });
export const runNowAnswer = z.object({ name: z.string(), id: z.string().nullable(), tick: z.string(), state: z.string() }).loose();
