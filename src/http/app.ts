/**
 * The HTTP server: callbacks, the campaign API, the dashboard and health, one
 * plugin each, behind server-wide guards: request limits, the API token on
 * every route that does not say it is public, no cross-site writes, 503 at
 * once while Redis is unavailable, security headers.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { RedisWatch } from '../infra/redis.js';
import { callbackRoutes, type CallbackRouteOptions } from './callbacks.js';
import { apiRoutes, type ApiOptions } from './api.js';
import { dashboardRoutes, type DashboardOptions } from './dashboard.js';
import { requireApiToken } from './api-auth.js';
import { uploadRoutes, type UploadOptions } from './upload.js';
import { DEFAULT_HTTP_LIMITS, serverOptions, watchBodies, type HttpLimits } from './limits.js';
import { refuseCrossSite, securityHeaders } from './guards.js';
import { redisGate } from './redis-gate.js';
import { healthRoutes } from './health.js';
import { metricsRoutes, type MetricsRouteOptions } from './metrics.js';
import { queueBoardRoutes, type QueueBoardOptions } from './queue-board.js';
import { registerOpenApi } from './openapi.js';
import './route-config.js';

export interface AppDeps {
  log: Logger;
  redis: Redis;
  /** The state of `redis`: routes that need it answer 503 while it is unavailable. */
  redisWatch: RedisWatch;
  callbacks: CallbackRouteOptions;
  api: ApiOptions;
  dashboard: DashboardOptions;
  /** Contact list uploads (POST /campaigns, POST /campaigns/:id/contacts). */
  upload: UploadOptions;
  /** Bearer tokens accepted (at least one: several during a rotation). */
  apiTokens: string[];
  /** GET /metrics: the container's registry. */
  metrics: MetricsRouteOptions;
  /** The queue dashboard at /admin/queues (behind the same tokens). */
  queueBoard: Omit<QueueBoardOptions, 'apiTokens'>;
  /** The version /openapi.json states. */
  version?: string;
  /** Origins besides the server's own that may send state-changing requests from a browser (its public URL). */
  trustedOrigins?: string[];
  /** Trust X-Forwarded-For (only behind a proxy you run: it decides the caller's address for the allow-lists). */
  trustProxy: boolean;
  limits?: Partial<HttpLimits>;
  /** How long /readyz waits for Redis (ms). */
  readyTimeoutMs?: number;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...deps.limits };
  const log = deps.log.child({ role: 'http' });
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy,
    ...serverOptions(limits),
  });
  // Order matters: the body is watched from the first moment; then who may call, from where, and whether Redis is there.
  app.addHook(
    'onRequest',
    watchBodies(limits, (req, why) => log.warn({ method: req.method, route: req.routeOptions.url, ip: req.ip, why }, 'request body too slow: connection closed')),
  );
  app.addHook('onRequest', requireApiToken(deps.apiTokens));
  app.addHook('onRequest', refuseCrossSite(deps.trustedOrigins ?? []));
  redisGate(app, deps.redisWatch);
  app.addHook('onSend', securityHeaders);

  // Before the routes: it collects them as they are added.
  await registerOpenApi(app, { version: deps.version ?? '0.0.0' });

  // Alive: answered without Redis and without the token (a container's health check).
  app.get('/healthz', { config: { access: 'public', redis: false } }, async () => ({ ok: true }));
  await app.register(healthRoutes, { redis: deps.redis, watch: deps.redisWatch, ...(deps.readyTimeoutMs ? { readyTimeoutMs: deps.readyTimeoutMs } : {}) });
  await app.register(callbackRoutes, deps.callbacks);
  await app.register(apiRoutes, deps.api);
  await app.register(uploadRoutes, deps.upload);
  await app.register(metricsRoutes, deps.metrics);
  await app.register(queueBoardRoutes, { ...deps.queueBoard, apiTokens: deps.apiTokens });
  // The page's timeline reads the API's contacts, attempts and history store unless it is given its own.
  await app.register(dashboardRoutes, { contacts: deps.api.contacts, attempts: deps.api.attempts, history: deps.api.history ?? null, ...deps.dashboard });
  return app;
}
