/**
 * The campaign page: static files (`web/`: HTML, CSS, scripts) and the data
 * routes its script reads with the API token. The files hold no data and are
 * public (a browser opening the page cannot send the token yet: the script
 * takes it from the page's fragment, `/#token=…`); the data needs the token.
 *
 * - `GET /dashboard/data`: every campaign with its status, dial queue and calling window;
 * - `GET /dashboard/campaigns/:id/timeline`: a campaign's calls over time, by outcome.
 *
 * The page reads the schedules and sends pause, resume and cancel through the API's own routes.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import './route-config.js';
import type { CampaignStore } from '../store/campaigns.js';
import { CampaignStoreError } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { AttemptStore } from '../store/attempts.js';
import type { HistoryReads } from '../history/reads.js';
import type { StatusReport } from '../reports/status.js';
import type { QueueRegistry } from '../infra/queues.js';
import { isCampaignId } from '../store/ids.js';
import { PAGE_CSP } from './guards.js';
import { campaignOverview } from './dashboard-data.js';
import { makeOutcomeTimeline, type TimelineOptions } from './outcome-timeline.js';

/** Where the page's files are: `web/` at the top of the package (beside `src/` and `dist/`). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

export interface DashboardOptions {
  campaigns: CampaignStore;
  status: StatusReport;
  queues: QueueRegistry;
  /** For the timeline: contacts and their attempts (without them, the timeline route answers 503). */
  contacts?: Pick<ContactStore, 'range'>;
  attempts?: Pick<AttemptStore, 'get'>;
  /** Where contacts that left Redis are read (absent: Redis alone). */
  history?: HistoryReads | null;
  now?: () => number;
  /** The page's files (default: WEB_DIR). */
  webDir?: string;
  timeline?: TimelineOptions;
}

/** The server's page policy without 'unsafe-inline'. */
export const STRICT_PAGE_CSP = PAGE_CSP.replace(/\s*'unsafe-inline'/g, '');

const notFound = (reply: FastifyReply, message: string) => reply.code(404).send({ error: { code: 'not_found', message } });

export async function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions): Promise<void> {
  const now = opts.now ?? (() => Date.now());
  const webDir = opts.webDir ?? WEB_DIR;
  if (!existsSync(`${webDir}/index.html`)) {
    throw new Error(`the campaign page's files are missing: no index.html in ${webDir} (the web/ directory ships beside dist/)`);
  }

  // The files: public, and served without Redis. `/` is index.html.
  await app.register(async (pages) => {
    pages.addHook('onRoute', (route) => {
      route.config = Object.assign(route.config ?? {}, { access: 'public', redis: false });
    });
    // The page has no inline script or style: its policy allows none (this hook runs after the server's own).
    pages.addHook('onSend', async (_req, reply, payload) => {
      if (reply.hasHeader('content-security-policy')) reply.header('content-security-policy', STRICT_PAGE_CSP);
      return payload;
    });
    await pages.register(fastifyStatic, { root: webDir, wildcard: false, index: ['index.html'], decorateReply: false });
  });

  app.get('/dashboard/data', async () => ({ campaigns: await campaignOverview({ ...opts, now }) }));

  const { contacts, attempts } = opts;
  const timeline = contacts && attempts ? makeOutcomeTimeline({ campaigns: opts.campaigns, contacts, attempts, history: opts.history ?? null, now }, opts.timeline) : null;
  app.get<{ Params: { id: string } }>('/dashboard/campaigns/:id/timeline', async (req, reply) => {
    const { id } = req.params;
    if (!isCampaignId(id)) return notFound(reply, `no campaign ${id.slice(0, 40)}: campaign ids are 8 lowercase letters or digits`);
    if (!timeline) return reply.code(503).send({ error: { code: 'unavailable', message: 'this server was started without the contact and attempt stores the timeline reads' } });
    try {
      return await timeline(id);
    } catch (err) {
      if (err instanceof CampaignStoreError && err.message.startsWith('no campaign')) return notFound(reply, `no campaign ${id}`);
      throw err;
    }
  });
}
