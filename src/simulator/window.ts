/**
 * Counts events in a sliding window (t - width, t] over non-decreasing
 * times, and remembers the largest count seen: exact over every window,
 * because the busiest window always ends at an event.
 */
export class SlidingWindow {
  private times: number[] = [];
  private head = 0;
  private last = -Infinity;
  private peak = 0;

  constructor(private readonly widthMs: number) {}

  private prune(t: number): void {
    const floor = t - this.widthMs;
    while (this.head < this.times.length && (this.times[this.head] ?? Infinity) <= floor) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  /** Events in the window ending at `t` (t is clamped to be non-decreasing). */
  count(t: number): number {
    const at = Math.max(t, this.last);
    this.prune(at);
    return this.times.length - this.head;
  }

  /** Records an event at `t`; returns the count in the window ending there. */
  add(t: number): number {
    const at = Math.max(t, this.last);
    this.last = at;
    this.times.push(at);
    this.prune(at);
    const n = this.times.length - this.head;
    if (n > this.peak) this.peak = n;
    return n;
  }

  /** The largest count in any window so far. */
  get max(): number {
    return this.peak;
  }

  clear(): void {
    this.times = [];
    this.head = 0;
    this.last = -Infinity;
    this.peak = 0;
  }
}
