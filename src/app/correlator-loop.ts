/**
 * The correlator role (AUTODIALER_CORRELATE_IN=worker): stored callbacks that
 * wait in the log are leased a page at a time and interpreted.
 */
import type { Logger } from 'pino';
import type { CallbackReceiver } from '../correlation/receiver.js';
import { startLoop, type Loop } from '../infra/loop.js';

export interface CorrelatorOptions {
  /** How often to look for waiting callbacks once a page came back short (default 20 ms). */
  everyMs?: number;
  /** Entries leased at a time (default 256). */
  pageSize?: number;
}

/**
 * Leases pages of pending entries as long as pages come back full, then looks
 * again every `everyMs`. Its stop waits for the interpretations in hand.
 */
export function startCorrelatorLoop(deps: { receiver: Pick<CallbackReceiver, 'pull' | 'idle'>; log: Logger }, opts: CorrelatorOptions = {}): Loop {
  const { receiver, log } = deps;
  const pageSize = opts.pageSize ?? 256;
  let stopping = false;
  const loop = startLoop(
    'correlator',
    opts.everyMs ?? 20,
    async () => {
      while (!stopping && (await receiver.pull({ limit: pageSize })) >= pageSize);
    },
    log,
  );
  const stop = async () => {
    stopping = true;
    await loop.stop();
    await receiver.idle();
  };
  return { stop, kick: () => loop.kick() };
}
