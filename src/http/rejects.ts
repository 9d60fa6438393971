/**
 * GET /campaigns/:id/rejects?format=csv|jsonl: the rows that were not dialed
 * because of what they hold (invalid, duplicate, do-not-call), streamed.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { exportRejects } from '../reports/rejects.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import { isCampaignId } from '../store/ids.js';

export interface RejectsRouteOptions {
  campaigns: CampaignStore;
  contacts: ContactStore;
}

const idParams = z.object({ id: z.string().refine(isCampaignId, 'campaign ids are 8 lowercase letters or digits') });
const formatQuery = z.object({ format: z.enum(['csv', 'jsonl'], { message: 'format must be csv or jsonl' }).default('csv') });

export async function rejectsRoutes(app: FastifyInstance, opts: RejectsRouteOptions): Promise<void> {
  app.get('/campaigns/:id/rejects', async (req, reply) => {
    const params = idParams.safeParse(req.params);
    const query = formatQuery.safeParse(req.query);
    if (!params.success || !query.success) {
      const issues = [...(params.error?.issues ?? []), ...(query.error?.issues ?? [])];
      return reply.code(400).send({ error: issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    }
    const { id } = params.data;
    const { format } = query.data;
    if (!(await opts.campaigns.get(id))) return reply.code(404).send({ error: `no campaign ${id}` });
    reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    reply.header('content-disposition', `attachment; filename="${id}-rejects.${format}"`);
    return reply.send(Readable.from(exportRejects(opts, id, format)));
  });
}
