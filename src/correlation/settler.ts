/**
 * Gathers settlements (what each stored callback turned out to be) and writes
 * them in one transaction per batch: a batch leaves when it is full or at the
 * end of the current turn of the event loop, whichever comes first.
 */
import type { CallbackLog, RecordedResult, Settlement } from '../store/callback-log.js';

interface Waiting {
  item: { settlement: Settlement; replacing?: RecordedResult | null };
  done: () => void;
  fail: (err: unknown) => void;
}

export function makeSettler(deps: { callbackLog: CallbackLog; maxBatch?: number }) {
  const maxBatch = Math.max(1, deps.maxBatch ?? 256);
  let batch: Waiting[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const out = batch;
    batch = [];
    if (out.length === 0) return;
    deps.callbackLog.settle(out.map((w) => w.item)).then(
      () => {
        for (const w of out) w.done();
      },
      (err: unknown) => {
        for (const w of out) w.fail(err);
      },
    );
  }

  /** Resolves once the settlement is written. */
  function settle(settlement: Settlement, replacing: RecordedResult | null = null): Promise<void> {
    return new Promise<void>((done, fail) => {
      batch.push({ item: { settlement, replacing }, done, fail });
      if (batch.length >= maxBatch) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  }

  return { settle };
}

export type Settler = ReturnType<typeof makeSettler>;
