/**
 * An EventEmitter with a typed event map and `waitFor`, so tests and
 * benchmarks await what happened instead of sleeping.
 */
import { EventEmitter } from 'node:events';

export class TypedEvents<M extends Record<keyof M, unknown[]>> extends EventEmitter<M> {
  /** Resolves on the first event that matches; rejects after `timeoutMs`. */
  waitFor<K extends keyof M & string>(name: K, match: (...args: M[K]) => boolean = () => true, timeoutMs = 30_000): Promise<M[K]> {
    return new Promise((resolve, reject) => {
      const onEvent = (...args: M[K]): void => {
        if (!match(...args)) return;
        clearTimeout(timer);
        this.off(name as never, onEvent as never);
        resolve(args);
      };
      const timer = setTimeout(() => {
        this.off(name as never, onEvent as never);
        reject(new Error(`timed out waiting for ${name}`));
      }, timeoutMs);
      this.on(name as never, onEvent as never);
    });
  }
}
