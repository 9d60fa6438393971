/**
 * Error answers of the HTTP side: `{ "error": { "code": "…", "message": "…" } }`,
 * a stable code a program can test and a message that says what to do.
 */
import type { FastifyReply } from 'fastify';

export type ErrorCode = 'unauthorized' | 'cross_site_request' | 'redis_unavailable' | 'request_timeout';

export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

export function sendError(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(code, message));
}
