/**
 * The campaign API: listing and status, exports, operator controls,
 * deletion, webhook notifications, and scheduled campaigns. Every route's
 * inputs are validated by its zod schemas (which `/openapi.json` is made
 * from); every failure answers `{ "error": { "code", "message" } }`.
 * (Creating a campaign and adding contacts: upload.ts.)
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { StatusReport } from '../reports/status.js';
import { exportResults, type ExportFormat } from '../reports/export.js';
import { exportAttempts } from '../reports/attempts-export.js';
import { exportRejects } from '../reports/rejects.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { AttemptStore } from '../store/attempts.js';
import type { CampaignControl } from '../campaign/control.js';
import type { DeadLetter } from '../notify/deliveries.js';
import type { CampaignPurge } from '../campaign/purge.js';
import type { HistoryReads } from '../history/reads.js';
import { formatProblem, type Schedules } from '../schedule/index.js';
import { apiErrorHandler, apiErrorSchema, notFound } from './api-errors.js';
import * as s from './api-schemas.js';
import './route-config.js';

export interface ApiOptions {
  campaigns: CampaignStore;
  contacts: ContactStore;
  attempts: AttemptStore;
  history?: HistoryReads | null;
  status: StatusReport;
  control: CampaignControl;
  notifications: {
    failed(cid: string, limit?: number): Promise<DeadLetter[]>;
    resend(cid: string): Promise<{ resent: number; kept: number }>;
  };
  purge: CampaignPurge;
  schedules: Pick<Schedules, 'list' | 'runs' | 'runNow'>;
}

/** Error answers a route documents (the schema of each). */
export function errorAnswers(...statuses: number[]): Record<number, typeof apiErrorSchema> {
  return Object.fromEntries([401, 503, ...statuses].map((code) => [code, apiErrorSchema]));
}

/** A record as an answer described by a `loose` schema (its other fields pass through). */
const asLoose = <T extends object>(v: T): T & Record<string, unknown> => v as T & Record<string, unknown>;

const EXPORTS = {
  results: 'One row per contact: its status and last attempt',
  attempts: 'One row per attempt',
  rejects: 'One row per list row that was not dialed, and why',
} as const;

export async function apiRoutes(instance: FastifyInstance, opts: ApiOptions): Promise<void> {
  instance.setValidatorCompiler(validatorCompiler);
  instance.setSerializerCompiler(serializerCompiler);
  instance.setErrorHandler(apiErrorHandler);
  const app = instance.withTypeProvider<ZodTypeProvider>();

  async function mustExist(id: string) {
    const c = await opts.campaigns.get(id);
    if (!c) throw notFound(id);
    return c;
  }

  /** A campaign in Redis, or one deleted from it whose history is in the history store (its exports still read). */
  async function mustBeKnown(id: string): Promise<void> {
    if (await opts.campaigns.get(id)) return;
    if (opts.history && (await opts.history.campaign(id))) return;
    throw notFound(id);
  }

  app.get(
    '/campaigns',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'List campaigns, newest first, a page at a time',
        querystring: s.listQuery,
        response: { 200: s.listAnswer, ...errorAnswers(400) },
      },
    },
    async (req) => {
      const { limit, offset, state } = req.query;
      const ids = (await opts.campaigns.list()).reverse();
      const summary = (id: string, c: NonNullable<Awaited<ReturnType<CampaignStore['get']>>>) => ({
        id,
        name: c.definition.name,
        state: c.state,
        provider: c.definition.provider,
        action: c.definition.action,
        total: c.total,
        createdAt: c.createdAt,
        schedule: c.schedule ?? null,
      });
      if (state === undefined) {
        const page = ids.slice(offset, offset + limit);
        const records = await Promise.all(page.map((id) => opts.campaigns.get(id)));
        const campaigns = page.flatMap((id, i) => (records[i] ? [summary(id, records[i])] : []));
        return { campaigns, total: ids.length, offset, limit, nextOffset: offset + limit < ids.length ? offset + limit : null };
      }
      // Filtered: every record is read (in slices), the page cut from those in the state.
      const matching: ReturnType<typeof summary>[] = [];
      for (let i = 0; i < ids.length; i += 200) {
        const slice = ids.slice(i, i + 200);
        const records = await Promise.all(slice.map((id) => opts.campaigns.get(id)));
        slice.forEach((id, j) => {
          const c = records[j];
          if (c && c.state === state) matching.push(summary(id, c));
        });
      }
      const campaigns = matching.slice(offset, offset + limit);
      return { campaigns, total: matching.length, offset, limit, nextOffset: offset + limit < matching.length ? offset + limit : null };
    },
  );

  app.get(
    '/campaigns/:id',
    {
      schema: {
        tags: ['campaigns'],
        summary: "A campaign's status: counts, pace, what holds it, callbacks, estimated end",
        params: s.idParams,
        response: { 200: s.statusAnswer, ...errorAnswers(400, 404) },
      },
    },
    async (req) => {
      const status = await opts.status(req.params.id);
      if (!status) throw notFound(req.params.id);
      return asLoose(status);
    },
  );

  // Streamed exports: one row per contact, per attempt, or per row not dialed for what it holds.
  const lines = {
    results: (id: string, f: ExportFormat) => exportResults(opts, id, f),
    attempts: (id: string, f: ExportFormat) => exportAttempts(opts, id, f),
    rejects: (id: string, f: ExportFormat) => exportRejects(opts, id, f),
  };
  for (const kind of Object.keys(EXPORTS) as (keyof typeof EXPORTS)[]) {
    app.get(
      `/campaigns/:id/${kind}`,
      {
        schema: {
          tags: ['exports'],
          summary: `Download ${kind}: ${EXPORTS[kind]}`,
          params: s.idParams,
          querystring: s.exportQuery,
          response: {
            200: { description: `${EXPORTS[kind]} (CSV, or JSON lines)`, content: { 'text/csv': { schema: z.string() }, 'application/x-ndjson': { schema: z.string() } } },
            ...errorAnswers(400, 404),
          },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        const { format } = req.query;
        await mustBeKnown(id);
        reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
        reply.header('content-disposition', `attachment; filename="${id}-${kind}.${format}"`);
        return (reply as FastifyReply).send(Readable.from(lines[kind](id, format)));
      },
    );
  }

  const controls = { pause: 'Pause: no new dial starts until resumed', resume: 'Resume a paused campaign', cancel: 'Cancel: contacts not yet dialed become cancelled; calls placed finish' };
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/campaigns/:id/${action}`,
      { schema: { tags: ['controls'], summary: controls[action], params: s.idParams, response: { 200: s.controlAnswer, ...errorAnswers(400, 403, 404, 409) } } },
      async (req) => {
        const { id } = req.params;
        await mustExist(id);
        await opts.control[action](id);
        return { id, action, state: (await opts.campaigns.get(id))?.state ?? null };
      },
    );
  }

  app.post(
    '/campaigns/:id/pace',
    {
      schema: {
        tags: ['controls'],
        summary: "Change a campaign's own rate and channel limits (its account's still apply)",
        params: s.idParams,
        body: s.paceBody,
        response: { 200: s.paceAnswer, ...errorAnswers(400, 403, 404) },
      },
    },
    async (req) => {
      const { id } = req.params;
      await mustExist(id);
      const body = req.body;
      return { id, pace: await opts.control.pace(id, { ...(body.cps !== undefined ? { cps: body.cps } : {}), ...(body.maxConcurrent !== undefined ? { maxConcurrent: body.maxConcurrent } : {}) }) };
    },
  );

  app.delete(
    '/campaigns/:id',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Delete a completed (or cancelled and ended) campaign and everything stored for it: export its results first',
        params: s.idParams,
        response: { 200: s.deleteAnswer, ...errorAnswers(400, 403, 404, 409) },
      },
    },
    async (req) => {
      const { id } = req.params;
      await mustExist(id);
      return { id, deleted: true as const, ...(await opts.purge.purge(id)) };
    },
  );

  app.get(
    '/campaigns/:id/notifications/failed',
    {
      schema: {
        tags: ['notifications'],
        summary: "Notifications to the campaign's webhook that were given up, newest first",
        params: s.idParams,
        querystring: s.failedQuery,
        response: { 200: s.failedAnswer, ...errorAnswers(400, 404) },
      },
    },
    async (req) => {
      const { id } = req.params;
      await mustExist(id);
      return { id, failed: (await opts.notifications.failed(id, req.query.limit)).map(asLoose) };
    },
  );

  app.post(
    '/campaigns/:id/notifications/resend',
    { schema: { tags: ['notifications'], summary: 'Send the given-up notifications again', params: s.idParams, response: { 200: s.resendAnswer, ...errorAnswers(400, 403, 404) } } },
    async (req) => {
      const { id } = req.params;
      await mustExist(id);
      return { id, ...(await opts.notifications.resend(id)) };
    },
  );

  app.get(
    '/schedules',
    { schema: { tags: ['schedules'], summary: 'Scheduled campaigns (definition files of the jobs directory): next tick, last run', response: { 200: s.scheduleListAnswer } } },
    async () => {
      const { schedules, problems } = await opts.schedules.list();
      return { schedules: schedules.map(asLoose), problems: problems.map(formatProblem) };
    },
  );

  app.get(
    '/schedules/:name/runs',
    {
      schema: {
        tags: ['schedules'],
        summary: "A schedule's runs, newest first, with their campaigns' states and counts",
        params: s.scheduleParams,
        querystring: s.runsQuery,
        response: { 200: s.runsAnswer, ...errorAnswers(400) },
      },
    },
    async (req) => ({ name: req.params.name, runs: (await opts.schedules.runs(req.params.name, req.query.limit)).map(asLoose) }),
  );

  app.post(
    '/schedules/:name/run',
    {
      schema: {
        tags: ['schedules'],
        summary: 'Run a definition now, outside its schedule (its contacts read now); answers once its campaign is made',
        params: s.scheduleParams,
        response: { 200: s.runNowAnswer, ...errorAnswers(400, 403, 404, 409, 422) },
      },
    },
    async (req) => {
      const r = await opts.schedules.runNow(req.params.name);
      return { name: r.name, id: r.campaignId, tick: new Date(r.tick).toISOString(), state: r.state, ...(r.error ? { error: r.error } : {}) };
    },
  );
}
