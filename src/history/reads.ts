/**
 * What readers (exports, status, `number history`) ask of the history:
 * where a campaign's contacts are now (the marker Redis keeps with the
 * campaign's summary), and the archived rows. Without a history store the
 * marker still answers, so a reader can say what is missing and why.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';
import type { AttemptStore } from '../store/attempts.js';
import { historyKeys, parseMarker } from './keys.js';
import { HistoryUnavailableError } from './pg.js';
import { archivedAttempt, type ArchivedAttempt, type ArchivedCampaign, type ArchivedContact } from './records.js';
import type { HistoryStore, NumberAttempt } from './store.js';

export interface HistoryReads {
  /** Contacts below this index have left Redis: read them (and their attempts) here. 0: none. */
  purgedBelow(cid: string): Promise<number>;
  contacts(cid: string, from: number, count: number): Promise<ArchivedContact[]>;
  attempts(cid: string, fromIdx: number, toIdx: number): Promise<ArchivedAttempt[]>;
  /** A campaign as archived (null: not in the history store, or none configured). */
  campaign(cid: string): Promise<ArchivedCampaign | null>;
}

export function makeHistoryReads(deps: { redis: Redis; keys: Keys; prefix: string; store: HistoryStore | null }): HistoryReads {
  const hk = historyKeys(deps.keys, deps.prefix);
  const need = (cid: string): HistoryStore => {
    if (deps.store) return deps.store;
    throw new HistoryUnavailableError(`campaign ${cid}: its contacts and attempts were moved to the history store (PostgreSQL): set DATABASE_URL to read them`);
  };
  return {
    async purgedBelow(cid) {
      const raw = await deps.redis.hmget(hk.marker(cid), 'purgeAt', 'purgedAt');
      const m = parseMarker({ ...(raw[0] ? { purgeAt: raw[0] } : {}), ...(raw[1] ? { purgedAt: raw[1] } : {}) });
      return m.purgedAt !== null ? Number.MAX_SAFE_INTEGER : m.purgeAt;
    },
    contacts: (cid, from, count) => need(cid).contacts(cid, from, count),
    attempts: (cid, fromIdx, toIdx) => need(cid).attempts(cid, fromIdx, toIdx),
    campaign: async (cid) => (deps.store ? deps.store.campaign(cid) : null),
  };
}

/**
 * Every attempt to a number, newest first: those in the history store and
 * those Redis still holds (the number's recent attempts, as its frequency
 * caps keep them), the fresher record of an attempt winning.
 */
export async function numberHistory(
  deps: { redis: Redis; keys: Keys; attempts: Pick<AttemptStore, 'get'>; store: HistoryStore | null },
  numbers: { e164: string | null; asGiven: string },
  limit = 1000,
): Promise<NumberAttempt[]> {
  const keys = [...new Set([numbers.e164, numbers.asGiven].filter((n): n is string => n !== null && n !== ''))];
  const archived = deps.store ? await deps.store.numberHistory(keys, limit) : [];
  const recentIds = numbers.e164 ? await deps.redis.zrevrange(deps.keys.numberCalls(numbers.e164), 0, limit - 1) : [];
  const recent = (await Promise.all(recentIds.map((id) => deps.attempts.get(id)))).filter((a) => a !== null);
  const byId = new Map<string, NumberAttempt>();
  for (const a of archived) byId.set(a.id, a);
  for (const a of recent) {
    const was = byId.get(a.id);
    if (!was || was.ver <= a.ver) byId.set(a.id, { ...archivedAttempt(a, numbers.e164), campaignName: was?.campaignName ?? null });
  }
  const at = (a: NumberAttempt) => a.dialingAt ?? -1;
  return [...byId.values()].sort((a, b) => at(b) - at(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).slice(0, limit);
}
