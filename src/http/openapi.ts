/**
 * `/openapi.json` (OpenAPI 3.0) made from the zod schemas the routes
 * validate with, the bearer token as its security scheme, and an API
 * reference page at `/docs`. Registered before the routes, which it
 * collects as they are added. Both are public: they describe the API and
 * hold no data.
 */
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { API_ERROR_CODES } from './api-errors.js';
import './route-config.js';

type TransformInput = Parameters<ReturnType<typeof createJsonSchemaTransform>>[0];
type Schema = Record<string, unknown>;

/** Paths left out of the document: the reference page's own files and the queue dashboard. */
const HIDDEN = [/^\/docs(\/|$)/, /^\/admin\/queues(\/|$)/, /^\/openapi\.json$/];

/** What a multipart upload holds, for the document (the upload routes read the form themselves). */
const MULTIPART_FORM = {
  type: 'object',
  properties: {
    definition: { type: 'string', description: 'The campaign definition as JSON (the fields of a jobs/ file, without contacts and schedule)' },
    dryRun: { type: 'string', enum: ['true', 'false'], description: 'true: read and check the list, store nothing' },
    file: { type: 'string', format: 'binary', description: 'The contact list (CSV), the last part of the form' },
  },
  additionalProperties: { type: 'string', description: 'Named definition fields (action, param.voicefile, cps, max-concurrent, window, dnc, …), overriding definition' },
};

const zodTransform = createJsonSchemaTransform({ skipList: [] });

const isContentBody = (b: unknown): b is { content: Record<string, { schema: unknown }> } =>
  typeof b === 'object' && b !== null && 'content' in b && typeof (b as { content: unknown }).content === 'object';

/** The zod transform, with per-content-type bodies, multipart forms, public routes and hidden paths. */
function transform(doc: TransformInput) {
  const { schema, url } = doc;
  const route = (doc as { route?: { config?: { access?: string } } }).route;
  if (HIDDEN.some((re) => re.test(url))) return { schema: { hide: true }, url };
  const publicRoute = route?.config?.access === 'public';
  const given = (schema ?? {}) as Schema;
  const { body, ...rest } = given;
  const run = (schema: Schema) => zodTransform({ ...doc, schema } as TransformInput) as unknown as { schema: Schema; url: string };
  const out = run(rest);
  const content: Record<string, { schema: unknown }> = {};
  if (isContentBody(body)) {
    for (const [type, c] of Object.entries(body.content)) {
      content[type] = { schema: run({ body: c.schema }).schema.body };
    }
  } else if (body !== undefined) {
    out.schema.body = run({ body }).schema.body;
  }
  const consumes = given.consumes;
  if (Array.isArray(consumes) && consumes.includes('multipart/form-data')) content['multipart/form-data'] = { schema: MULTIPART_FORM };
  if (Object.keys(content).length > 0) {
    out.schema.body = { content };
    delete out.schema.consumes;
  }
  if (publicRoute) out.schema.security = [];
  return out;
}

export interface OpenApiOptions {
  version: string;
}

export async function registerOpenApi(app: FastifyInstance, opts: OpenApiOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'autodialer',
        version: opts.version,
        description:
          'Batch campaign autodialer: campaigns, their status and controls, exports, schedules. Every route but callbacks and health needs the API token ' +
          '(Authorization: Bearer). Errors answer {"error": {"code", "message", "problems"?}}; the codes: ' +
          Object.entries(API_ERROR_CODES)
            .map(([code, status]) => `${code} (${status})`)
            .join(', ') +
          '.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'AUTODIALER_API_TOKEN, or the token the first server made (it logs the dashboard address with it)' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'campaigns', description: 'Create, list, status, delete' },
        { name: 'controls', description: 'Pause, resume, cancel, pace' },
        { name: 'exports', description: 'Results, attempts and rejects as CSV or JSON lines' },
        { name: 'notifications', description: "The campaign's webhook notifications" },
        { name: 'schedules', description: 'Scheduled campaigns (definition files of the jobs directory)' },
        { name: 'operations', description: 'Health, readiness, metrics' },
      ],
    },
    transform,
    transformObject: jsonSchemaTransformObject,
  });
  const open = { config: { access: 'public', redis: false }, schema: { hide: true } } as const;
  app.get('/openapi.json', open, async () => app.swagger());
  // The reference page and its files hold no data: public, like the campaign page ("Try it out" needs the token).
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), access: 'public', redis: false };
    });
    await docs.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false } });
  });
}
