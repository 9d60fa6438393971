/**
 * `GET /metrics` for a monitoring system (Prometheus text format), behind the
 * API token like the rest of the API: the registry the container built,
 * the deployment's figures read from Redis at each scrape.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../reports/metrics.js';
import './route-config.js';

export interface MetricsRouteOptions {
  metrics: Pick<Metrics, 'render' | 'contentType'>;
}

export async function metricsRoutes(app: FastifyInstance, opts: MetricsRouteOptions): Promise<void> {
  const schema = { tags: ['operations'], summary: "The deployment's metrics in Prometheus text format (docs/operations.md lists them)" };
  app.get('/metrics', { schema }, async (_req, reply) => reply.type(opts.metrics.contentType).send(await opts.metrics.render()));
}
