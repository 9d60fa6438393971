/**
 * The campaign API: status, results, and operator controls.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { StatusReport } from '../reports/status.js';
import { exportResults, type ExportFormat } from '../reports/export.js';
import { exportAttempts } from '../reports/attempts-export.js';
import { exportRejects } from '../reports/rejects.js';
import { Readable } from 'node:stream';
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { AttemptStore } from '../store/attempts.js';
import { ControlError, type CampaignControl } from '../campaign/control.js';
import { isCampaignId } from '../store/ids.js';
import type { DeadLetter } from '../notify/deliveries.js';
import type { CampaignPurge } from '../campaign/purge.js';
import { renderMetrics, type MetricsDeps } from '../reports/metrics.js';

export interface ApiOptions {
  campaigns: CampaignStore;
  contacts: ContactStore;
  attempts: AttemptStore;
  status: StatusReport;
  control: CampaignControl;
  notifications: {
    failed(cid: string, limit?: number): Promise<DeadLetter[]>;
    resend(cid: string): Promise<{ resent: number; kept: number }>;
  };
  purge: CampaignPurge;
  metrics: MetricsDeps;
}

const idParams = z.object({ id: z.string().refine(isCampaignId, 'campaign ids are 8 lowercase letters or digits') });
const resultsQuery = z.object({ format: z.enum(['csv', 'jsonl'], { message: 'format must be csv or jsonl' }).default('csv') });
const failedQuery = z.object({ limit: z.coerce.number({ message: 'limit must be a number' }).int('limit must be a whole number').min(1, 'limit must be at least 1').max(10_000, 'limit must be at most 10000').default(100) });
const paceBody = z.object({ cps: z.number().min(0).optional(), maxConcurrent: z.number().int().min(0).optional() }).strict();

export async function apiRoutes(app: FastifyInstance, opts: ApiOptions): Promise<void> {
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof ControlError) return reply.code(409).send({ error: err.message });
    if (err instanceof z.ZodError) return reply.code(400).send({ error: err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    return reply.code(status).send({ error: status >= 500 ? 'internal error' : (err as Error).message });
  });

  // For a monitoring system (Prometheus text format), behind the same token as the rest of the API.
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await renderMetrics(opts.metrics)));

  app.get('/campaigns', async () => {
    const ids = await opts.campaigns.list();
    const out = [];
    for (const id of ids.slice(-200)) {
      const c = await opts.campaigns.get(id);
      if (c) out.push({ id, name: c.definition.name, state: c.state, total: c.total, createdAt: c.createdAt });
    }
    return { campaigns: out };
  });

  app.get('/campaigns/:id', async (req, reply) => {
    const { id } = idParams.parse(req.params);
    const s = await opts.status(id);
    if (!s) return reply.code(404).send({ error: `no campaign ${id}` });
    return s;
  });

  // Streamed exports: one row per contact, per attempt, or per row not dialed for what it holds.
  const exports = {
    results: (id: string, f: ExportFormat) => exportResults(opts, id, f),
    attempts: (id: string, f: ExportFormat) => exportAttempts(opts, id, f),
    rejects: (id: string, f: ExportFormat) => exportRejects(opts, id, f),
  };
  for (const [kind, lines] of Object.entries(exports)) {
    app.get(`/campaigns/:id/${kind}`, async (req, reply) => {
      const { id } = idParams.parse(req.params);
      const { format } = resultsQuery.parse(req.query);
      if (!(await opts.campaigns.get(id))) return reply.code(404).send({ error: `no campaign ${id}` });
      reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
      reply.header('content-disposition', `attachment; filename="${id}-${kind}.${format}"`);
      return reply.send(Readable.from(lines(id, format)));
    });
  }

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(`/campaigns/:id/${action}`, async (req, reply) => {
      const { id } = idParams.parse(req.params);
      if (!(await opts.campaigns.get(id))) return reply.code(404).send({ error: `no campaign ${id}` });
      await opts.control[action](id);
      return { id, action, state: (await opts.campaigns.get(id))?.state };
    });
  }

  // Deletes a completed (or cancelled and ended) campaign and everything stored for it: export its results first.
  app.delete('/campaigns/:id', async (req, reply) => {
    const { id } = idParams.parse(req.params);
    if (!(await opts.campaigns.get(id))) return reply.code(404).send({ error: `no campaign ${id}` });
    return { id, deleted: true, ...(await opts.purge.purge(id)) };
  });

  // Given-up notifications to the campaign's webhook: newest first, and sent again on request.
  app.get('/campaigns/:id/notifications/failed', async (req, reply) => {
    const { id } = idParams.parse(req.params);
    const { limit } = failedQuery.parse(req.query);
    if (!(await opts.campaigns.get(id))) return reply.code(404).send({ error: `no campaign ${id}` });
    return { id, failed: await opts.notifications.failed(id, limit) };
  });

  app.post('/campaigns/:id/notifications/resend', async (req, reply) => {
    const { id } = idParams.parse(req.params);
    if (!(await opts.campaigns.get(id))) return reply.code(404).send({ error: `no campaign ${id}` });
    return { id, ...(await opts.notifications.resend(id)) };
  });

  app.post('/campaigns/:id/pace', async (req, reply) => {
    const { id } = idParams.parse(req.params);
    if (!(await opts.campaigns.get(id))) return reply.code(404).send({ error: `no campaign ${id}` });
    const body = paceBody.parse(req.body ?? {});
    return { id, pace: await opts.control.pace(id, body) };
  });
}
