export type { AcquireBlock, AcquireRequest, AcquireResult, PaceLimits, Pacer } from './types.js';
export {
  createRedisPacer,
  type EffectiveRate,
  type PacedAcquireRequest,
  type PacedAcquireResult,
  type PacerClock,
  type RedisPacer,
  type RedisPacerOptions,
} from './redis-pacer.js';
export { DEFAULT_BACKOFF, DEFAULT_TUNING, type BackoffPolicy, type PacerTuning } from './options.js';
export { PacingError, type PacingErrorCode } from './errors.js';
export { maxInSlidingWindow } from './sliding-window.js';
