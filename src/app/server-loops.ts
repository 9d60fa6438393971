/**
 * The server role's periodic jobs: callbacks a stopped server stored but never
 * interpreted are taken again, and, without a history store, stored callbacks
 * and finished campaigns go at the end of their retention (with one, the
 * archiver moves them out). The container builds them from its parts when a
 * server listens and stops them with its other loops.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Keys } from '../store/keys.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { CallbackReceiver } from '../correlation/receiver.js';
import { makeCallbackRetention } from '../store/callback-retention.js';
import { makeHistoryRetention } from '../store/history-retention.js';
import { startLoop, type Loop } from '../infra/loop.js';

export interface ServerLoopsDeps {
  redis: Redis;
  keys: Keys;
  campaigns: Pick<CampaignStore, 'list' | 'get'>;
  receiver: Pick<CallbackReceiver, 'recover'>;
  /** Deletes a finished campaign (the container's purge); throws when it may not go yet. */
  purge: (cid: string) => Promise<unknown>;
  /** A history store's archiver runs: it removes callbacks and campaigns once written there, so no retention loop does. */
  archiving: boolean;
  correlateIn: Config['correlateIn'];
  callbackRetentionMs: Config['callbackRetentionMs'];
  historyRetentionMs: Config['historyRetentionMs'];
  /** Between retention passes (default: a quarter of the callback retention within 1 min–1 h; 1 h for campaigns). */
  retentionEveryMs?: number;
  now: () => number;
  log: Logger;
}

export interface ServerLoops {
  /** Starts the loops (once); the retention passes run a first time soon after. */
  start(): void;
  /** Stops them, each after the pass it is in. */
  stop(): Promise<void>;
}

export function makeServerLoops(deps: ServerLoopsDeps): ServerLoops {
  const { now, log } = deps;
  const loops: Loop[] = [];
  let started = false;

  function start(): void {
    if (started) return;
    started = true;
    // Callbacks stored and acknowledged by a server that stopped before interpreting them: taken every 30 s (once
    // a minute old, claimed first so that two servers never both take one), not only when a server starts.
    if (deps.correlateIn !== 'worker') loops.push(startLoop('callback-recovery', 30_000, async () => void (await deps.receiver.recover({ olderThanMs: 60_000 })), log));
    // Stored callbacks older than the retention go, once an hour (and soon after start), settled ones only.
    // With a history store the archiver removes them once written there (and never one it has not written).
    const retentionMs = deps.callbackRetentionMs;
    if (retentionMs !== null && !deps.archiving) {
      const retention = makeCallbackRetention({ redis: deps.redis, keys: deps.keys });
      const prune = async () => {
        const r = await retention.prune(now() - retentionMs);
        if (r.removed > 0 || r.keptPending > 0) log.info({ ...r, retentionMs }, 'callback log pruned to its retention');
      };
      // A quarter of the retention at most between passes: an entry outlives its retention by that much at most.
      const loop = startLoop('callback-retention', deps.retentionEveryMs ?? Math.min(3_600_000, Math.max(60_000, retentionMs / 4)), prune, log);
      loops.push(loop);
      void loop.kick();
    }
    // Without a history store, a finished campaign is deleted (as `campaign delete` does) once
    // AUTODIALER_HISTORY_RETENTION has passed since it finished; with one, the archiver moves it out.
    const historyRetentionMs = deps.historyRetentionMs;
    if (historyRetentionMs !== null && !deps.archiving) {
      const expiry = makeHistoryRetention({ campaigns: deps.campaigns, purge: deps.purge, now, retentionMs: historyRetentionMs, log });
      const loop = startLoop('history-retention', deps.retentionEveryMs ?? 3_600_000, async () => void (await expiry.expire()), log);
      loops.push(loop);
      void loop.kick();
    }
  }

  async function stop(): Promise<void> {
    for (const l of loops.splice(0)) await l.stop();
  }

  return { start, stop };
}
