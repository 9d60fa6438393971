/**
 * The provider adapters as the dial processor sees them, each dial request
 * timed and told as a `provider:request` event (its duration and, when it
 * placed no call, its class). Adapters are looked up at each call, so a map
 * filled after the container is built (tests) is timed too.
 */
import type { ProviderFamily } from '../domain/types.js';
import type { DialOutcome, DialRequest, ProviderAdapter } from '../providers/types.js';
import type { DialerEvents, ProviderErrorClass } from '../engine/events.js';

export function errorClassOf(outcome: DialOutcome): ProviderErrorClass | null {
  if (outcome.kind === 'accepted') return null;
  if (outcome.kind === 'transient' && outcome.httpStatus === 429) return 'rate_limited';
  return outcome.kind;
}

export function timedProviders(
  providers: ReadonlyMap<ProviderFamily, ProviderAdapter>,
  events: DialerEvents,
  /** A monotonic clock in ms. */
  clock: () => number = () => performance.now(),
): ReadonlyMap<ProviderFamily, ProviderAdapter> {
  const wrapped = new WeakMap<ProviderAdapter, ProviderAdapter>();
  const timed = (p: ProviderAdapter): ProviderAdapter => {
    let t = wrapped.get(p);
    if (!t) {
      t = {
        family: p.family,
        actions: p.actions,
        async dial(req: DialRequest): Promise<DialOutcome> {
          const start = clock();
          const outcome = await p.dial(req);
          events.emit('provider:request', { family: p.family, kind: outcome.kind, errorClass: errorClassOf(outcome), seconds: Math.max(0, clock() - start) / 1000 });
          return outcome;
        },
        close: () => p.close(),
      };
      wrapped.set(p, t);
    }
    return t;
  };
  return {
    get: (family: ProviderFamily) => {
      const p = providers.get(family);
      return p ? timed(p) : undefined;
    },
    has: (family: ProviderFamily) => providers.has(family),
    get size() {
      return providers.size;
    },
    forEach: (fn, thisArg) => providers.forEach((p, k) => fn.call(thisArg, timed(p), k, providers)),
    entries: function* () {
      for (const [k, p] of providers) yield [k, timed(p)] as [ProviderFamily, ProviderAdapter];
    },
    keys: () => providers.keys(),
    values: function* () {
      for (const p of providers.values()) yield timed(p);
    },
    [Symbol.iterator]: function* () {
      for (const [k, p] of providers) yield [k, timed(p)] as [ProviderFamily, ProviderAdapter];
    },
  } as ReadonlyMap<ProviderFamily, ProviderAdapter>;
}
