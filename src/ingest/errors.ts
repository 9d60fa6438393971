/**
 * A contact list that cannot be read at all is refused whole with an
 * IngestError: a stable code, and a message that says why and how to fix it.
 */

export const INGEST_ERROR_CODES = [
  'invalid_options',
  'read_failed',
  'empty_file',
  'binary_file',
  'unknown_encoding',
  'undecodable',
  'no_header',
  'no_phone_column',
  'unknown_column',
] as const;
export type IngestErrorCode = (typeof INGEST_ERROR_CODES)[number];

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    readonly fileName: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IngestError';
  }
}

export function isIngestError(err: unknown): err is IngestError {
  return err instanceof IngestError;
}
