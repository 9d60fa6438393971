/**
 * The HTTP server: callbacks, the campaign API and health, one plugin each.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { callbackRoutes, type CallbackRouteOptions } from './callbacks.js';
import { apiRoutes, type ApiOptions } from './api.js';
import { dashboardRoutes, type DashboardOptions } from './dashboard.js';
import { requireApiToken } from './api-auth.js';
import { uploadRoutes, type UploadOptions } from './upload.js';

export interface AppDeps {
  log: Logger;
  redis: Redis;
  callbacks: CallbackRouteOptions;
  api: ApiOptions;
  dashboard: DashboardOptions;
  /** Contact list uploads (POST /campaigns, POST /campaigns/:id/contacts). */
  upload: UploadOptions;
  /** Bearer token required by the API and the dashboard data (null: none). */
  apiToken: string | null;
  /** Trust X-Forwarded-For (only behind a proxy you run: it decides the caller's address for the allow-lists). */
  trustProxy: boolean;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ role: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy,
  });
  await app.register(callbackRoutes, deps.callbacks);
  await app.register(async (scope) => {
    scope.addHook('onRequest', requireApiToken(deps.apiToken));
    await scope.register(apiRoutes, deps.api);
    await scope.register(uploadRoutes, deps.upload);
  });
  await app.register(dashboardRoutes, { ...deps.dashboard, guard: requireApiToken(deps.apiToken) });
  app.get('/healthz', async (_req, reply) => {
    try {
      await deps.redis.ping();
      return { ok: true };
    } catch (err) {
      return reply.code(503).send({ ok: false, error: (err as Error).message });
    }
  });
  return app;
}
