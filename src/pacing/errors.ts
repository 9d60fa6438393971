/** Errors of the pacer, each with a stable code. */
export type PacingErrorCode = 'ERR_PACE_INPUT' | 'ERR_PACE_REPLY';

export class PacingError extends Error {
  constructor(
    readonly code: PacingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PacingError';
  }
}
