/**
 * Writes one batch while the next is read: `push` waits for the batch before
 * (so at most one is written at a time, in order) and starts this one; a
 * failure skips the batches after it and comes out of `done`.
 */
export function writeBehind(): { push(task: () => Promise<void>): Promise<void>; done(): Promise<void> } {
  let chain: Promise<void> = Promise.resolve();
  return {
    async push(task) {
      await chain;
      chain = task();
      // Awaited at the next push or at done(); not an unhandled rejection meanwhile.
      chain.catch(() => undefined);
    },
    done: () => chain,
  };
}
