/**
 * The history: what the container wires. With DATABASE_URL, a PostgreSQL
 * store, the archiver and the reads; without it, the reads alone (they
 * still say where a campaign's contacts went).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Keys } from '../store/keys.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { CallbackLog } from '../store/callback-log.js';
import { sleep } from '../infra/clock.js';
import { ControlError } from '../campaign/control.js';
import { openHistoryDatabase } from './pg.js';
import { makePgHistoryStore, type HistoryStore } from './store.js';
import { makeArchiver, type Archiver, type ArchiverOptions } from './archiver.js';
import { makeHistoryReads, type HistoryReads } from './reads.js';
import type { CampaignSummary } from './records.js';
import { historyKeys } from './keys.js';
import { startCallbackThread, type CallbackThreadSpec } from './callback-thread.js';

export { HistoryUnavailableError } from './pg.js';
export { MigrationError } from './migrate.js';
export { numberHistory, type HistoryReads } from './reads.js';
export type { HistoryStore, NumberAttempt } from './store.js';
export type { Archiver, ArchivePass } from './archiver.js';

/** The reads (what exports ask), with the store and the archiver. */
export interface History extends HistoryReads {
  /** The PostgreSQL store (null without DATABASE_URL). */
  store: HistoryStore | null;
  archiver: Archiver | null;
  /**
   * Before a campaign is deleted: its contacts and attempts moved to the
   * history store first (now, when no other archiver is at work; else by
   * the one that is, waited for up to `waitMs`).
   */
  beforeDelete(cid: string): Promise<void>;
  afterDelete(cid: string): Promise<void>;
  close(): Promise<void>;
}

export function makeHistory(deps: {
  databaseUrl: string | null;
  redis: Redis;
  keys: Keys;
  prefix: string;
  campaigns: Pick<CampaignStore, 'list' | 'get'>;
  callbackLog: Pick<CallbackLog, 'results'>;
  summary: (cid: string) => Promise<CampaignSummary>;
  shrink: (cid: string) => Promise<number>;
  now: () => number;
  log: Logger;
  options: ArchiverOptions;
  /** How long a deletion waits for another archiver to move the campaign (default 60 s). */
  deleteWaitMs?: number;
  /** Raw callbacks, and a share of each pass's contacts, archived in a worker thread, connecting there (null: all in this thread). */
  callbackThread?: Pick<CallbackThreadSpec, 'redis' | 'logLevel'> | null;
}): History {
  const db = deps.databaseUrl ? openHistoryDatabase(deps.databaseUrl, deps.log) : null;
  const store = db ? makePgHistoryStore(db) : null;
  const reads = makeHistoryReads({ redis: deps.redis, keys: deps.keys, prefix: deps.prefix, store });
  const thread =
    deps.databaseUrl && deps.callbackThread
      ? startCallbackThread({ ...deps.callbackThread, prefix: deps.prefix, databaseUrl: deps.databaseUrl }, deps.log)
      : null;
  const archiver = store ? makeArchiver({ ...deps, store, ...(thread ? { callbacks: thread, ranges: thread } : {}) }) : null;

  async function beforeDelete(cid: string): Promise<void> {
    if (!archiver || (await archiver.purged(cid))) return;
    await archiver.requestPurge(cid);
    const until = Date.now() + (deps.deleteWaitMs ?? 60_000);
    while (Date.now() < until) {
      const r = await archiver.archiveNow(cid);
      if (r === 'purged') return;
      // Another archiver is at work (it takes the campaign at its next pass), or a page changed while it left Redis.
      await sleep(250);
    }
    // A conflict with the archiver's work, answered like the other refusals of a deletion (the API's 409).
    throw new ControlError(
      `campaign ${cid} is not in the history store yet: the archiver at work (autodialer server or autodialer archiver) moves it first; run the deletion again shortly`,
    );
  }

  return {
    ...reads,
    store,
    archiver,
    beforeDelete,
    afterDelete: async (cid) => void (await deps.redis.srem(historyKeys(deps.keys, deps.prefix).done, cid)),
    close: async () => {
      await thread?.close();
      await db?.close();
    },
  };
}
