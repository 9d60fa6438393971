/**
 * The most timestamps that fall in any half-open window [t, t + windowMs).
 * Pure; used to check what was actually sent against a cps limit.
 */
export function maxInSlidingWindow(timestampsMs: readonly number[], windowMs = 1000): number {
  const ts = [...timestampsMs].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < ts.length; end++) {
    const last = ts[end] as number;
    while ((ts[start] as number) <= last - windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
