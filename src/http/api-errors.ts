/**
 * The API's error answers: `{ "error": { "code", "message", "problems"? } }`
 * with a stable code per kind of failure (docs/api.md lists them) and a
 * message that says what to change. One mapping from what went wrong to
 * the answer, used by every API route.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ControlError } from '../campaign/control.js';
import { DefinitionError } from '../campaign/definition.js';
import { CampaignStoreError } from '../store/campaigns.js';
import { IngestError } from '../ingest/errors.js';
import { ContactsError } from '../schedule/contacts.js';
import { RunBusyError, RunStartError, ScheduleError } from '../schedule/index.js';

/** Every code an API error may carry, with its HTTP status. */
export const API_ERROR_CODES = {
  invalid_request: 400,
  invalid_definition: 400,
  unauthorized: 401,
  cross_site_request: 403,
  not_found: 404,
  request_timeout: 408,
  invalid_state: 409,
  schedule_busy: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unreadable_list: 422,
  contacts_unavailable: 422,
  schedule_run_failed: 422,
  internal: 500,
  redis_unavailable: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

export const apiErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(API_ERROR_CODES) as [ApiErrorCode, ...ApiErrorCode[]]),
      message: z.string(),
      problems: z.array(z.string()).optional().describe('Each problem, the field named, when there are several'),
    }),
  })
  .meta({ id: 'Error' });

/** An answer other than success, raised by a handler. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly problems: string[] = [],
    readonly status: number = API_ERROR_CODES[code],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (id: string): ApiError => new ApiError('not_found', `no campaign ${id}: GET /campaigns lists them`);

const issueText = (where: string | undefined, path: readonly PropertyKey[], message: string): string => {
  const field = [where, ...path.map(String)].filter((p) => p !== undefined && p !== '').join('.');
  return field && !message.startsWith(`${path.map(String).join('.')}`) ? `${field}: ${message}` : message;
};

const CODE_BY_STATUS: Record<number, ApiErrorCode> = { 400: 'invalid_request', 404: 'not_found', 408: 'request_timeout', 409: 'invalid_state', 413: 'payload_too_large', 415: 'unsupported_media_type', 422: 'unreadable_list' };

/** What went wrong, as an API error (an unexpected one is logged and answered 500 without details). */
export function toApiError(err: unknown, req: Pick<FastifyRequest, 'log'>): ApiError {
  if (err instanceof ApiError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as { validationContext?: string }).validationContext;
    const problems = err.validation.map((v) => issueText(where, v.instancePath.split('/').filter(Boolean), v.message ?? 'is not valid'));
    return where === 'body'
      ? new ApiError('invalid_definition', `the body cannot be used: ${problems.join('; ')}`, problems)
      : new ApiError('invalid_request', problems.join('; '), problems);
  }
  if (err instanceof z.ZodError) {
    const problems = err.issues.map((i) => issueText(undefined, i.path, i.message));
    return new ApiError('invalid_request', problems.join('; '), problems);
  }
  if (err instanceof DefinitionError) return new ApiError('invalid_definition', 'invalid campaign definition', err.problems);
  if (err instanceof ControlError) return new ApiError('invalid_state', err.message);
  if (err instanceof CampaignStoreError) return new ApiError('not_found', err.message);
  if (err instanceof ContactsError) return new ApiError('contacts_unavailable', err.message);
  if (err instanceof IngestError) return new ApiError('unreadable_list', err.message, [`${err.code}: ${err.message}`]);
  if (err instanceof ScheduleError) return new ApiError(/^no definition named/.test(err.message) ? 'not_found' : 'schedule_run_failed', err.message);
  if (err instanceof RunBusyError) return new ApiError('schedule_busy', err.message);
  if (err instanceof RunStartError) return new ApiError('schedule_run_failed', err.message);
  const status = (err as FastifyError).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = (err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'payload_too_large' : (CODE_BY_STATUS[status] ?? 'invalid_request');
    return new ApiError(code, (err as Error).message, [], status);
  }
  req.log.error({ err }, 'API request failed');
  return new ApiError('internal', 'internal error: the server logged it');
}

export function sendApiError(reply: FastifyReply, e: ApiError): FastifyReply {
  // Cut off (a body too slow) or answered already (Redis went away meanwhile): nobody to answer.
  if (reply.sent || reply.raw.destroyed) return reply;
  return reply
    .code(e.status)
    .type('application/json; charset=utf-8')
    .send({ error: { code: e.code, message: e.message, ...(e.problems.length > 0 ? { problems: e.problems } : {}) } });
}

/** An error handler for a plugin's routes: every failure as an API error. */
export function apiErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendApiError(reply, toApiError(err, req));
}
