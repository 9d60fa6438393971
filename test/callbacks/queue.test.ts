/**
 * The work queue between the route and correlation: bounded concurrency,
 * bounded length (push waits), per-key order, errors reported and passed.
 * Driven by promises the test resolves, never by time.
 */
import { describe, expect, it } from 'vitest';
import { makeWorkQueue } from '../../src/correlation/queue.js';

interface Item {
  n: number;
  key: string;
}

/** A queue whose runs finish only when the test says so. */
function gated(concurrency: number, capacity: number) {
  const gates = new Map<number, () => void>();
  const started: number[] = [];
  const finished: number[] = [];
  const errors: number[] = [];
  let running = 0;
  let peak = 0;
  const q = makeWorkQueue<Item>({
    concurrency,
    capacity,
    keyOf: (i) => i.key,
    run: async (i) => {
      running++;
      peak = Math.max(peak, running);
      started.push(i.n);
      await new Promise<void>((r) => gates.set(i.n, r));
      running--;
      finished.push(i.n);
      if (i.n < 0) throw new Error(`item ${i.n} failed`);
    },
    onError: (_err, i) => errors.push(i.n),
  });
  /** Lets every started run finish, then waits a turn for the queue to start the next. */
  async function release(n: number): Promise<void> {
    while (!gates.has(n)) await new Promise((r) => setImmediate(r));
    gates.get(n)!();
    gates.delete(n);
    await new Promise((r) => setImmediate(r));
  }
  return { q, started, finished, errors, release, peak: () => peak };
}

describe('work queue', () => {
  it('runs at most `concurrency` items at once and every item once', async () => {
    const g = gated(3, 100);
    for (let n = 1; n <= 10; n++) await g.q.push({ n, key: `k${n}` });
    await new Promise((r) => setImmediate(r));
    expect(g.started).toEqual([1, 2, 3]);
    expect(g.q.running).toBe(3);
    expect(g.q.queued).toBe(7);
    for (let n = 1; n <= 10; n++) await g.release(n);
    await g.q.idle();
    expect(g.finished).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(g.peak()).toBe(3);
  });

  it('runs items that share a key one after the other, in push order', async () => {
    const g = gated(4, 100);
    await g.q.push({ n: 1, key: 'a' });
    await g.q.push({ n: 2, key: 'a' });
    await g.q.push({ n: 3, key: 'b' });
    await g.q.push({ n: 4, key: 'a' });
    await new Promise((r) => setImmediate(r));
    // 2 and 4 wait for 1; 3 runs beside it.
    expect(g.started).toEqual([1, 3]);
    await g.release(3);
    expect(g.started).toEqual([1, 3]);
    await g.release(1);
    expect(g.started).toEqual([1, 3, 2]);
    await g.release(2);
    await g.release(4);
    await g.q.idle();
    expect(g.finished).toEqual([3, 1, 2, 4]);
  });

  it('makes push wait while the queue is full, and lets it go when an item leaves', async () => {
    const g = gated(1, 2);
    await g.q.push({ n: 1, key: 'a1' });
    await new Promise((r) => setImmediate(r));
    await g.q.push({ n: 2, key: 'a2' });
    await g.q.push({ n: 3, key: 'a3' });
    let pushed = false;
    const fourth = g.q.push({ n: 4, key: 'a4' }).then(() => {
      pushed = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(pushed).toBe(false);
    expect(g.q.queued).toBe(2);
    await g.release(1);
    await fourth;
    expect(pushed).toBe(true);
    for (const n of [2, 3, 4]) await g.release(n);
    await g.q.idle();
    expect(g.finished).toEqual([1, 2, 3, 4]);
  });

  it('reports an item that throws and goes on with the next of the same key', async () => {
    const g = gated(2, 10);
    await g.q.push({ n: -1, key: 'a' });
    await g.q.push({ n: 2, key: 'a' });
    await g.release(-1);
    await g.release(2);
    await g.q.idle();
    expect(g.errors).toEqual([-1]);
    expect(g.finished).toEqual([-1, 2]);
  });

  it('is idle at once when empty', async () => {
    const g = gated(1, 1);
    await g.q.idle();
    expect(g.q.running + g.q.queued).toBe(0);
  });
});
