/**
 * Gathers the calls made during one turn of the event loop and runs them as
 * batches of at most `max` (one Redis script call each, say), each caller
 * answered with its own item's result. Many jobs or callbacks in flight wake
 * up in the same turn; one command for all of them costs far less, on both
 * sides of the connection, than one command each.
 */

/** What a batch run gives each item: its value, or an Error that fails that item alone. */
export type BatchOutcome<O> = O | Error;

export interface TurnBatcher<I, O> {
  (item: I): Promise<O>;
}

/**
 * Every batcher's flush of this turn runs in one callback: the commands they
 * send leave together (an auto-pipelined connection writes them to its socket
 * at once), not one socket write per batcher.
 */
const due = new Set<() => void>();
let turnScheduled = false;

function flushTurn(): void {
  turnScheduled = false;
  const flushes = [...due];
  due.clear();
  for (const f of flushes) f();
}

function schedule(flush: () => void): void {
  due.add(flush);
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(flushTurn);
  }
}

export function makeTurnBatcher<I, O>(opts: {
  max: number;
  /** Runs one batch; the answer has one outcome per item, in order. A rejection fails the whole batch. */
  run: (items: readonly I[]) => Promise<readonly BatchOutcome<O>[]>;
}): TurnBatcher<I, O> {
  const max = Math.max(1, opts.max);
  let gathering: { item: I; done: (value: O) => void; fail: (err: unknown) => void }[] = [];
  let scheduled = false;

  function runBatch(batch: typeof gathering): void {
    let answer: Promise<readonly BatchOutcome<O>[]>;
    try {
      answer = opts.run(batch.map((w) => w.item));
    } catch (err) {
      for (const w of batch) w.fail(err);
      return;
    }
    answer.then(
      (outcomes) => {
        batch.forEach((w, i) => {
          if (i >= outcomes.length) {
            w.fail(new Error(`a batch of ${batch.length} returned ${outcomes.length} answers`));
            return;
          }
          const o = outcomes[i] as BatchOutcome<O>;
          if (o instanceof Error) w.fail(o);
          else w.done(o);
        });
      },
      (err: unknown) => {
        for (const w of batch) w.fail(err);
      },
    );
  }

  function flush(): void {
    scheduled = false;
    const all = gathering;
    gathering = [];
    for (let i = 0; i < all.length; i += max) runBatch(all.slice(i, i + max));
  }

  return (item: I) =>
    new Promise<O>((done, fail) => {
      gathering.push({ item, done, fail });
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    });
}
