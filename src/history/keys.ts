/**
 * The archiver's Redis keys. A campaign's own sit beside its other keys
 * (`<prefix>:cmp:<id>:hist…`), so deleting the campaign takes them too.
 */
import type { Keys } from '../store/keys.js';

export function historyKeys(k: Keys, prefix: string) {
  return {
    /**
     * A campaign's archive marker (hash): `next` (where the sweep goes on),
     * `low` (every contact below is archived final), `archivedAt` (all were),
     * `purgeAt` (contacts below have left Redis), `purgedAt` (all have),
     * `purgeNow` (asked to leave Redis without waiting for the keep).
     */
    marker: (cid: string) => `${k.campaign(cid)}:hist`,
    /** One bit per contact: archived final. */
    bits: (cid: string) => `${k.campaign(cid)}:histbits`,
    /** Campaigns whose contacts have left Redis (nothing more to archive). */
    done: `${prefix}:hist:done`,
    /** The last callback log id the archiver passed. */
    callbackCursor: `${prefix}:hist:cb`,
    /** The last callback log id the removal of old entries passed. */
    oldCursor: `${prefix}:hist:cbold`,
    /** Entries passed while still pending (id → received ms): archived once settled. */
    pendingPassed: `${prefix}:hist:cbwait`,
    /** Held by the one archiver at work (a lease). */
    lock: `${prefix}:hist:lock`,
  };
}

export type HistoryKeys = ReturnType<typeof historyKeys>;

/** The marker fields the campaign's summary keeps: what the reports read to know where its contacts are. */
export interface ArchiveMarker {
  next: number;
  low: number;
  archivedAt: number | null;
  purgeAt: number;
  purgedAt: number | null;
  purgeNow: boolean;
}

export function parseMarker(raw: Record<string, string>): ArchiveMarker {
  const n = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  return {
    next: n(raw.next) ?? 0,
    low: n(raw.low) ?? 0,
    archivedAt: n(raw.archivedAt),
    purgeAt: n(raw.purgeAt) ?? 0,
    purgedAt: n(raw.purgedAt),
    purgeNow: raw.purgeNow === '1',
  };
}
