import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that never reach a log line: secrets and phone numbers. */
export const REDACT_PATHS = [
  'token',
  'apiKey',
  'password',
  'secret',
  'callbackSecret',
  'key',
  'headers.authorization',
  'headers["x-apikey"]',
  'headers["x-callback-key"]',
  'req.headers.authorization',
  'req.headers["x-callback-key"]',
  'headers.cookie',
  'req.headers.cookie',
  // @fastify/multipart logs the options it gives busboy, request headers included, at trace level.
  'busboyOptions.headers.authorization',
  'busboyOptions.headers.cookie',
  'busboyOptions.headers["x-callback-key"]',
  'busboyOptions.headers["x-apikey"]',
  'req.query.key',
  'number',
  'phone',
  'destnumber',
  'bnumber',
  'anumber',
  'callee',
  'caller',
  '*.number',
  '*.phone',
  '*.destnumber',
  '*.callee',
];

export function createLogger(options: { level: string; name?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      name: options.name ?? 'autodialer',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    options.destination ?? process.stderr,
  );
}
