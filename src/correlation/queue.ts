/**
 * The in-process queue between the callback route and correlation: bounded
 * concurrency, bounded length (a full queue makes `push` wait, so the HTTP
 * answer slows down instead of memory growing), and items that share a key
 * run one after the other in the order they were pushed.
 */

export interface WorkQueueOptions<T> {
  /** Items run at once. */
  concurrency: number;
  /** Items queued (not yet running) before `push` waits. */
  capacity: number;
  run: (item: T) => Promise<void>;
  /** Items with the same key never run at the same time, and run in push order. */
  keyOf: (item: T) => string;
  /** An item whose run threw: reported, then dropped from the queue. */
  onError: (err: unknown, item: T) => void;
}

export interface WorkQueue<T> {
  /** Queues the item; waits while the queue is full. */
  push(item: T): Promise<void>;
  /** Resolves once nothing is queued or running. */
  idle(): Promise<void>;
  readonly queued: number;
  readonly running: number;
}

export function makeWorkQueue<T>(opts: WorkQueueOptions<T>): WorkQueue<T> {
  const concurrency = Math.max(1, opts.concurrency);
  const capacity = Math.max(1, opts.capacity);
  const waiting: T[] = [];
  let head = 0;
  let running = 0;
  /** The last run (or wait) of each key still in progress. */
  const tails = new Map<string, Promise<void>>();
  let roomWaiters: (() => void)[] = [];
  let idleWaiters: (() => void)[] = [];

  const queued = () => waiting.length - head;

  function wake(): void {
    if (queued() < capacity && roomWaiters.length > 0) {
      const ws = roomWaiters;
      roomWaiters = [];
      for (const w of ws) w();
    }
    if (queued() === 0 && running === 0 && idleWaiters.length > 0) {
      const ws = idleWaiters;
      idleWaiters = [];
      for (const w of ws) w();
    }
  }

  function start(item: T): void {
    running++;
    const key = opts.keyOf(item);
    const before = tails.get(key);
    const done = (async () => {
      if (before) await before;
      try {
        await opts.run(item);
      } catch (err) {
        opts.onError(err, item);
      }
    })();
    tails.set(key, done);
    void done.then(() => {
      if (tails.get(key) === done) tails.delete(key);
      running--;
      pump();
    });
  }

  function pump(): void {
    while (running < concurrency && queued() > 0) {
      const item = waiting[head]!;
      waiting[head] = undefined as T;
      head++;
      start(item);
    }
    if (head > 1024 && head * 2 > waiting.length) {
      waiting.splice(0, head);
      head = 0;
    }
    wake();
  }

  async function push(item: T): Promise<void> {
    while (queued() >= capacity) await new Promise<void>((r) => roomWaiters.push(r));
    waiting.push(item);
    pump();
  }

  function idle(): Promise<void> {
    if (queued() === 0 && running === 0) return Promise.resolve();
    return new Promise<void>((r) => idleWaiters.push(r));
  }

  return {
    push,
    idle,
    get queued() {
      return queued();
    },
    get running() {
      return running;
    },
  };
}
