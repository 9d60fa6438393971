/**
 * The queue dashboard (bull-board) at `/admin/queues`: every campaign's dial
 * queue (the newest first, up to a limit) and the schedule queue, read
 * only, phone numbers masked in the job data it shows, job names that say
 * what each job is.
 *
 * Behind the API token: `Authorization: Bearer` as everywhere, or, for a
 * browser, a cookie the login form at `/admin/queues/login` sets once it is
 * given the token (HttpOnly, SameSite=Strict, scoped to this path; its value
 * is derived from the token, so a rotation ends it). The cross-site guard of
 * the server applies to the form as to every write.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { bearerMatches } from './api-auth.js';
import { sendError } from './errors.js';
import { dialQueueName } from '../store/ids.js';
import { SCHEDULE_QUEUE } from '../schedule/queue.js';
import { hash } from 'node:crypto';
import './route-config.js';

export const BOARD_PATH = '/admin/queues';
const COOKIE = 'autodialer_board';

export interface QueueBoardOptions {
  /** BullMQ's connection and prefix. */
  connection: Redis;
  bullPrefix: string;
  /** Campaign ids, oldest first (the board lists the newest `maxCampaigns`). */
  campaignIds: () => Promise<string[]>;
  apiTokens: readonly string[];
  maxCampaigns?: number;
  /** Let the board pause, retry or remove jobs (default: read only). */
  readOnly?: boolean;
}

/** Digits of a phone number (6 or more, with the separators people write) shown as their first 3 and last 2. */
export function maskNumbers(text: string): string {
  return text.replace(/\+?\d[\d ()-]{4,}\d/g, (m) => {
    const digits = m.replace(/\D/g, '');
    if (digits.length < 6) return m;
    return `${m.startsWith('+') ? '+' : ''}${digits.slice(0, 3)}${'*'.repeat(digits.length - 5)}${digits.slice(-2)}`;
  });
}

const SECRET_KEY = /secret|token|password|key/i;

/** The job data as the board shows it: numbers masked in every string, secrets hidden. */
export function maskJobData(data: unknown, key = ''): unknown {
  if (typeof data === 'string') return SECRET_KEY.test(key) ? '[hidden]' : maskNumbers(data);
  if (Array.isArray(data)) return data.map((v) => maskJobData(v, key));
  if (data && typeof data === 'object') return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, maskJobData(v, k)]));
  return data;
}

/** What a dial job is: one contact's attempt, or a group of them. */
export function dialJobName(job: { data?: unknown; id?: string }, campaignId: string): string {
  const d = job.data as { idx?: unknown; n?: unknown; group?: unknown[] } | undefined;
  if (d && Array.isArray(d.group)) return `dial ${d.group.length} contacts (campaign ${campaignId})`;
  if (d && typeof d.idx === 'number') return `dial contact #${d.idx}, attempt ${String(d.n ?? 1)} (campaign ${campaignId})`;
  return `dial (campaign ${campaignId})`;
}

export function scheduleJobName(job: { data?: unknown; timestamp?: number; id?: string }): string {
  const d = job.data as { name?: unknown } | undefined;
  const tick = /:(\d+)$/.exec(job.id ?? '')?.[1];
  return `scheduled run of ${typeof d?.name === 'string' ? d.name : 'a definition'}${tick ? ` at ${new Date(Number(tick)).toISOString()}` : ''}`;
}

/** The board's cookie value for a token: an HMAC of it, good for the board only. */
const cookieValue = (token: string): string => createHmac('sha256', token).update('autodialer queue board').digest('base64url');
const digest = (s: string): Buffer => hash('sha256', s, 'buffer');

function cookieOf(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const LOGIN_PAGE = (message: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autodialer queues: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.4 system-ui,sans-serif;margin:48px auto;max-width:420px;color:#222}input{width:100%;padding:6px;margin:8px 0;box-sizing:border-box}p.m{color:#b00}</style>
</head><body><h1>Queue dashboard</h1>
${message ? `<p class="m">${message}</p>` : ''}
<form method="post" action="${BOARD_PATH}/login"><label>API token<input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>
<p><small>The token is AUTODIALER_API_TOKEN, or the one the server logged with the dashboard address at its first start.</small></p>
</body></html>`;

export async function queueBoardRoutes(app: FastifyInstance, opts: QueueBoardOptions): Promise<void> {
  const max = opts.maxCampaigns ?? 200;
  const readOnlyMode = opts.readOnly ?? true;
  const tokens = opts.apiTokens.map(digest);
  const cookies = opts.apiTokens.map((t) => digest(cookieValue(t)));
  const queues = new Map<string, Queue>();
  const scheduleQueue = new Queue(SCHEDULE_QUEUE, { connection: opts.connection, prefix: opts.bullPrefix });
  scheduleQueue.on('error', () => undefined);

  const scheduleAdapter = new BullMQAdapter(scheduleQueue, { readOnlyMode, displayName: 'schedules', description: 'Ticks of scheduled campaigns' });
  scheduleAdapter.setFormatter('name', scheduleJobName);
  scheduleAdapter.setFormatter('data', (d: unknown) => maskJobData(d));

  const server = new FastifyAdapter();
  const board = createBullBoard({ queues: [scheduleAdapter], serverAdapter: server, options: { uiConfig: { boardTitle: 'autodialer queues' } } });

  function adapterFor(cid: string): BullMQAdapter {
    let q = queues.get(cid);
    if (!q) {
      q = new Queue(dialQueueName(cid), { connection: opts.connection, prefix: opts.bullPrefix });
      q.on('error', () => undefined);
      queues.set(cid, q);
    }
    const a = new BullMQAdapter(q, { readOnlyMode, displayName: `campaign ${cid}`, description: `Dial jobs of campaign ${cid}` });
    a.setFormatter('name', (job: { data?: unknown; id?: string }) => dialJobName(job, cid));
    a.setFormatter('data', (d: unknown) => maskJobData(d));
    return a;
  }

  /** The queues listed: the schedule queue and the newest campaigns' dial queues (those of campaigns gone are closed). */
  async function refresh(): Promise<void> {
    const ids = (await opts.campaignIds()).slice(-max).reverse();
    const keep = new Set(ids);
    for (const [cid, q] of queues) {
      if (!keep.has(cid)) {
        queues.delete(cid);
        await q.close().catch(() => undefined);
      }
    }
    board.replaceQueues([scheduleAdapter, ...ids.map(adapterFor)]);
  }

  const authorized = (req: FastifyRequest): boolean => {
    if (bearerMatches(req.headers.authorization, tokens)) return true;
    const c = cookieOf(req);
    if (c === undefined) return false;
    const presented = digest(c);
    let ok = false;
    for (const d of cookies) ok = timingSafeEqual(presented, d) || ok;
    return ok;
  };

  await app.register(async (scope) => {
    // The board's own routes check the token here (Bearer or the board's cookie), not in the server-wide hook.
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), access: 'public' };
    });
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, new URLSearchParams(body as string)));

    scope.get(`${BOARD_PATH}/login`, { config: { redis: false } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(LOGIN_PAGE('')));
    scope.post(`${BOARD_PATH}/login`, { config: { redis: false } }, async (req, reply) => {
      const token = req.body instanceof URLSearchParams ? (req.body.get('token') ?? '') : '';
      if (!bearerMatches(`Bearer ${token}`, tokens)) return reply.code(401).type('text/html; charset=utf-8').send(LOGIN_PAGE('That is not an API token of this server.'));
      const secure = req.protocol === 'https' ? '; Secure' : '';
      reply.header('set-cookie', `${COOKIE}=${cookieValue(token)}; Path=${BOARD_PATH}; HttpOnly; SameSite=Strict${secure}`);
      return reply.code(303).header('location', `${BOARD_PATH}/`).send();
    });
    scope.post(`${BOARD_PATH}/logout`, { config: { redis: false } }, async (_req, reply) => {
      reply.header('set-cookie', `${COOKIE}=; Path=${BOARD_PATH}; HttpOnly; SameSite=Strict; Max-Age=0`);
      return reply.code(303).header('location', `${BOARD_PATH}/login`).send();
    });

    await scope.register(async (guarded) => {
      guarded.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        if (authorized(req)) {
          if (req.url.startsWith(`${BOARD_PATH}/api/queues`) && req.method === 'GET') await refresh();
          return;
        }
        // A browser asking for the page goes to the login form; a program gets the API's 401.
        if (req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) return void (await reply.code(303).header('location', `${BOARD_PATH}/login`).send());
        reply.header('www-authenticate', 'Bearer');
        await sendError(reply, 401, 'unauthorized', `missing or wrong API token: send Authorization: Bearer <token>, or sign in at ${BOARD_PATH}/login`);
      });
      server.setBasePath(BOARD_PATH);
      await guarded.register(server.registerPlugin() as never, { prefix: BOARD_PATH });
    });
  });

  app.addHook('onClose', async () => {
    await Promise.all([...queues.values(), scheduleQueue].map((q) => q.close().catch(() => undefined)));
    queues.clear();
  });
}
