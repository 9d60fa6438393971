/**
 * The archiver: moves what Redis no longer needs to keep into the history
 * store, continuously, in batches, at least once with idempotent writes.
 *
 * Each pass (one archiver at a time holds a lease; another takes over when
 * it stops renewing): raw callbacks (callbacks.ts); then each campaign not
 * done yet: its final contacts not archived yet, with their attempts (a bit
 * per contact remembers what is written; the sweep goes round the campaign
 * a few pages a pass); once the campaign is finished, every contact
 * archived and AUTODIALER_REDIS_KEEP passed since it finished (or at once
 * when asked, before a deletion), its contacts are written once more as
 * they are and leave Redis a page at a time — each page only if nothing in
 * it changed since it was read — then its other keys; its summary (record,
 * counts, report sums, callback and notification counters) stays.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Keys } from '../store/keys.js';
import type { CampaignRecord, CampaignStore } from '../store/campaigns.js';
import type { CallbackLog } from '../store/callback-log.js';
import { TypedEvents } from '../infra/typed-events.js';
import { luaScript, runScript } from '../infra/lua.js';
import { startLoop, type Loop } from '../infra/loop.js';
import { historyKeys, parseMarker, type ArchiveMarker } from './keys.js';
import { makeContactSource, type PurgeItem } from './contact-source.js';
import { archiveRange, encodePage, rangeCursor, readPages, type ContactRanges, type EncodedPage, type RangeCounts } from './contact-pages.js';
import { CALLBACKS_PER_WRITE, makeCallbackArchiver, type CallbackArchiving, type CallbackPass } from './callbacks.js';
import type { ArchivedCampaign, CampaignSummary } from './records.js';
import { NO_ROWS, joinRows, type CopyRows } from './copy.js';
import type { HistoryStore } from './store.js';
import { writeBehind } from './write-behind.js';

export interface ArchiverOptions {
  /** How long a finished campaign's contacts stay in Redis once archived (AUTODIALER_REDIS_KEEP). */
  redisKeepMs: number;
  /** Contacts read per page (default 500). */
  pageSize?: number;
  /**
   * Pages of each campaign per pass (default 100: 50,000 contacts), and at
   * most a sixth of the lease spent reading them. A pass waits for its
   * writes at its end: short passes over a backlog would leave the archiver
   * idle at each of them.
   */
  pagesPerPass?: number;
  /** Contacts written per transaction, some pages (default 2,500: written while the next pages are read; each commit a flush to disk). */
  writeBatch?: number;
  /** Time between passes (default 1 s). */
  everyMs?: number;
  /** How long the lease lasts without renewal (default 30 s). */
  leaseMs?: number;
}

export interface ArchiverEvents {
  /** A batch written to the history store (before Redis is told). */
  'history:written': [{ campaignId: string | null; contacts: number; attempts: number; callbacks: number }];
  /** A campaign's contacts and attempts left Redis. */
  'history:purged': [{ campaignId: string }];
  'history:pass': [ArchivePass];
}

export interface ArchivePass {
  /** False when another archiver holds the lease (nothing done). */
  active: boolean;
  callbacks: CallbackPass;
  contacts: number;
  attempts: number;
  /** Of `contacts`, those the callback thread archived (its share of the sweeps). */
  contactsByThread: number;
  purged: string[];
}

/** Takes the lease, or renews it when it is ours. KEYS: lock; ARGV: token, ms. */
const HOLD = luaScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`,
  1,
);
const RELEASE = luaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1);

export function isFinished(record: CampaignRecord, pending: number): boolean {
  return record.importDone && (record.state === 'completed' || (record.state === 'cancelled' && pending === 0));
}

export function makeArchiver(deps: {
  redis: Redis;
  keys: Keys;
  prefix: string;
  store: HistoryStore;
  campaigns: Pick<CampaignStore, 'list' | 'get'>;
  callbackLog: Pick<CallbackLog, 'results'>;
  /** The campaign's summary as Redis has it now. */
  summary: (cid: string) => Promise<CampaignSummary>;
  /** Removes a purged campaign's remaining keys but its summary (campaign/purge.ts). */
  shrink: (cid: string) => Promise<number>;
  now: () => number;
  log: Logger;
  options: ArchiverOptions;
  /** Who archives raw callbacks at each pass (default: this thread; history/callback-thread.ts: a worker thread). */
  callbacks?: CallbackArchiving;
  /** Who takes a share of each pass's contacts beside this thread (history/callback-thread.ts: the callback thread); none by default. */
  ranges?: ContactRanges;
}) {
  const { redis, store, now, log } = deps;
  const o = { pageSize: 500, pagesPerPass: 100, writeBatch: 2_500, everyMs: 1000, leaseMs: 30_000, ...deps.options };
  const hk = historyKeys(deps.keys, deps.prefix);
  const source = makeContactSource({ redis, keys: deps.keys, hk, log });
  const callbacks: CallbackArchiving = deps.callbacks ?? makeCallbackArchiver({ redis, keys: deps.keys, hk, callbackLog: deps.callbackLog, store, log, pageSize: CALLBACKS_PER_WRITE });
  const events = new TypedEvents<ArchiverEvents>();
  const token = randomBytes(12).toString('hex');
  /** What was last written of each campaign's row (its summary changes as it runs). */
  const written = new Map<string, string>();

  /** A running loop keeps the lease between its passes; a pass or archiveNow alone gives it back. */
  let looping = false;
  const hold = async (): Promise<boolean> => Number(await runScript(redis, HOLD, [hk.lock], [token, String(o.leaseMs)])) === 1;

  async function marker(cid: string): Promise<ArchiveMarker> {
    return parseMarker(await redis.hgetall(hk.marker(cid)));
  }

  /** A pass's pages of a campaign from `from`: at most pagesPerPass, and a sixth of the lease spent reading them. */
  function passRange(from: number, total: number) {
    return rangeCursor(from, Math.min(total, from + o.pagesPerPass * o.pageSize), performance.now() + o.leaseMs / 6);
  }

  /** The campaign's row, when it changed since it was last written here. */
  function campaignRow(c: ArchivedCampaign): ArchivedCampaign[] {
    const sig = JSON.stringify([c.record.state, c.record.total, c.record.finishedAt, c.summary, c.archivedAt, c.purgedAt]);
    if (written.get(c.record.id) === sig) return [];
    return [c];
  }

  async function write(cid: string, rows: { campaigns: ArchivedCampaign[]; contacts: CopyRows; attempts: CopyRows }, fresh = false): Promise<void> {
    const counts = await store.writeRows(rows, { fresh });
    log.debug({ campaignId: cid, ...counts }, 'history batch written');
    for (const c of rows.campaigns) {
      written.set(c.record.id, JSON.stringify([c.record.state, c.record.total, c.record.finishedAt, c.summary, c.archivedAt, c.purgedAt]));
    }
    events.emit('history:written', { campaignId: cid, ...counts, callbacks: 0 });
  }

  /**
   * Archives final contacts not archived yet, a few pages from where the last
   * pass stopped; returns the new low mark. With `ranges` (the callback
   * thread), the pass's pages are shared: this thread takes them a page at a
   * time, the other a write batch at a time, each the next one when it is
   * free, so that both end together whatever else either has to do.
   */
  async function sweep(c: ArchivedCampaign, m: ArchiveMarker, tally: ArchivePass): Promise<number> {
    const cid = c.record.id;
    const total = c.record.total;
    let from = Math.max(m.next, m.low);
    if (from >= total) from = m.low;
    const cursor = passRange(from, total);
    const lanes = [sweepHere(c, cursor.take, tally)];
    // Two batches in flight there: one read and encoded while the other is written.
    if (deps.ranges) for (let i = 0; i < 2; i++) lanes.push(sweepThere(cid, cursor.take, deps.ranges, tally));
    for (const s of await Promise.allSettled(lanes)) if (s.status === 'rejected') throw s.reason;
    const low = await source.firstUnarchived(cid, m.low, total);
    const next = cursor.next >= total ? low : cursor.next;
    if (next !== m.next || low !== m.low) await redis.hset(hk.marker(cid), 'next', String(next), 'low', String(low));
    return low;
  }

  /** This thread's share of a sweep: a page at a time, written a batch at a time while the next pages are read. */
  async function sweepHere(c: ArchivedCampaign, take: ReturnType<typeof rangeCursor>['take'], tally: ArchivePass): Promise<void> {
    const cid = c.record.id;
    const behind = writeBehind();
    let batch: { idxs: number[]; page: EncodedPage }[] = [];
    let size = 0;
    let row = campaignRow(c);
    const flush = async () => {
      const pages = batch;
      const campaigns = row;
      batch = [];
      size = 0;
      row = [];
      await behind.push(async () => {
        const contacts = joinRows(pages.map((p) => p.page.contacts));
        const attempts = joinRows(pages.map((p) => p.page.attempts));
        // Contacts not marked are most likely not written yet.
        await write(cid, { campaigns, contacts, attempts }, true);
        await source.mark(
          cid,
          pages.flatMap((p) => p.idxs),
        );
        tally.contacts += contacts.rows;
        tally.attempts += attempts.rows;
      });
    };
    for await (const { items } of readPages(source, cid, () => take(o.pageSize), false)) {
      if (items.length > 0) batch.push({ idxs: items.map((i) => i.idx), page: encodePage(cid, items) });
      size += items.length;
      if (size >= o.writeBatch) await flush();
    }
    if (batch.length > 0 || row.length > 0) await flush();
    await behind.done();
  }

  /**
   * The other thread's share of a sweep, a write batch at a time. A range it
   * fails (it died, or cannot start: it is started again at its next request)
   * is archived here instead, and the rest of the pass is left to this thread.
   */
  async function sweepThere(cid: string, take: ReturnType<typeof rangeCursor>['take'], ranges: ContactRanges, tally: ArchivePass): Promise<void> {
    for (let r = take(o.writeBatch); r !== null; r = take(o.writeBatch)) {
      let counts: RangeCounts;
      let there = true;
      try {
        counts = await ranges.archive(cid, r, o.pageSize);
      } catch (err) {
        log.warn({ err, campaignId: cid, from: r.at, count: r.count }, "the archiver's thread could not archive a range of contacts: archived in the main thread");
        counts = await archiveRange({ source, store, pageSize: o.pageSize }, cid, r);
        there = false;
      }
      tally.contacts += counts.contacts;
      if (there) tally.contactsByThread += counts.contacts;
      tally.attempts += counts.attempts;
      if (counts.contacts > 0) events.emit('history:written', { campaignId: cid, ...counts, callbacks: 0 });
      if (!there) return;
    }
  }

  /** Writes every contact once more and removes them from Redis, page by page; true once all have left. */
  async function purge(c: ArchivedCampaign, m: ArchiveMarker, tally: ArchivePass): Promise<boolean> {
    const cid = c.record.id;
    const total = c.record.total;
    const behind = writeBehind();
    let changed = false;
    let pages: { from: number; count: number; items: PurgeItem[]; page: EncodedPage }[] = [];
    const flush = async () => {
      const these = pages;
      pages = [];
      await behind.push(async () => {
        const contacts = joinRows(these.map((x) => x.page.contacts));
        const attempts = joinRows(these.map((x) => x.page.attempts));
        await write(cid, { campaigns: campaignRow(c), contacts, attempts });
        // Each page leaves only if nothing in it changed since it was read, in order.
        for (const x of these) {
          if (changed) return;
          const r = await source.purge(cid, x.items, x.from + x.count, token);
          if (r !== 'ok') {
            changed = true;
            log.info({ campaignId: cid, from: x.from, reason: r }, 'contacts changed while leaving Redis: read again at the next pass');
            return;
          }
          log.debug({ campaignId: cid, from: x.from, to: x.from + x.count }, 'contacts left Redis');
        }
        tally.contacts += contacts.rows;
        tally.attempts += attempts.rows;
      });
    };
    let from = m.purgeAt;
    const cursor = passRange(from, total);
    for await (const { at, count, items } of readPages(source, cid, () => cursor.take(o.pageSize), true)) {
      if (changed) break;
      // What the removal compares is kept as read; the rest only as encoded rows.
      pages.push({ from: at, count, items: items.map(({ idx, stateRaw, attempts }) => ({ idx, stateRaw, attempts: attempts.map(({ id, raw }) => ({ id, raw })) })), page: encodePage(cid, items) });
      from = at + count;
      if (pages.reduce((n, x) => n + x.count, 0) >= o.writeBatch) await flush();
    }
    if (pages.length > 0) await flush();
    await behind.done();
    if (changed || from < total) return false;
    const keys = await deps.shrink(cid);
    const at = now();
    await redis.multi().hset(hk.marker(cid), 'purgedAt', String(at), 'purgeAt', String(total)).hdel(hk.marker(cid), 'purgeNow').sadd(hk.done, cid).exec();
    await write(cid, { campaigns: [{ ...c, purgedAt: at }], contacts: NO_ROWS, attempts: NO_ROWS });
    log.info({ campaignId: cid, contacts: total, keys }, 'campaign archived: its contacts and attempts left Redis, its summary stays');
    events.emit('history:purged', { campaignId: cid });
    return true;
  }

  async function campaignPass(cid: string, t: number, tally: ArchivePass): Promise<void> {
    const record = await deps.campaigns.get(cid);
    if (!record) return;
    let m = await marker(cid);
    if (m.purgedAt !== null) {
      await redis.sadd(hk.done, cid);
      return;
    }
    const summary = await deps.summary(cid);
    const c: ArchivedCampaign = { record, summary, archivedAt: m.archivedAt, purgedAt: null };
    const low = m.purgeAt > 0 ? record.total : await sweep(c, m, tally);
    const finished = isFinished(record, summary.counts.pending);
    if (!finished || low < record.total) return;
    if (m.archivedAt === null) {
      await redis.hset(hk.marker(cid), 'archivedAt', String(t));
      c.archivedAt = t;
      await write(cid, { campaigns: campaignRow(c), contacts: NO_ROWS, attempts: NO_ROWS });
    }
    const finishedAt = record.finishedAt ? Date.parse(record.finishedAt) : t;
    m = await marker(cid);
    // A purge begun (by this archiver or one that stopped) goes on whatever this one's keep.
    if (!m.purgeNow && m.purgeAt === 0 && t < finishedAt + o.redisKeepMs) return;
    if (await purge(c, m, tally)) tally.purged.push(cid);
  }

  /** Campaigns that may still have something to archive, oldest first. */
  async function pendingCampaigns(): Promise<string[]> {
    const ids = await deps.campaigns.list();
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const done = await redis.smismember(hk.done, ...chunk);
      chunk.forEach((id, j) => done[j] === 0 && out.push(id));
    }
    return out;
  }

  /** One pass over callbacks and campaigns; nothing when another archiver holds the lease (kept between passes only by a running loop). */
  async function pass(): Promise<ArchivePass> {
    const tally: ArchivePass = { active: false, callbacks: { archived: 0, removed: 0, waiting: 0 }, contacts: 0, attempts: 0, contactsByThread: 0, purged: [] };
    if (!(await hold())) return tally;
    try {
      tally.active = true;
      await store.ready();
      const t = now();
      // Callbacks and campaigns touch different keys and rows: each goes on while the other waits on a round trip.
      let callbacksBusy = true;
      const callbacksDone = callbacks.pass(t).finally(() => {
        callbacksBusy = false;
      });
      const campaignsDone = (async () => {
        // While the callbacks of this pass are still being written, the campaigns go round again (as long as they move):
        // a backlog of both is worked off side by side, neither waiting for the other's end.
        for (let moved = true; moved; ) {
          const before = tally.contacts;
          for (const cid of await pendingCampaigns()) {
            if (!(await hold())) return;
            try {
              await campaignPass(cid, t, tally);
            } catch (err) {
              // One campaign's trouble (a damaged record) does not hold up the others.
              log.error({ err, campaignId: cid }, 'archiving a campaign failed; tried again at the next pass');
            }
          }
          moved = callbacksBusy && tally.contacts > before;
        }
      })();
      // Both settle before the pass ends (no work of this pass left running into the next).
      const [cb, campaigns] = await Promise.allSettled([callbacksDone, campaignsDone]);
      if (cb.status === 'rejected') throw cb.reason;
      if (campaigns.status === 'rejected') throw campaigns.reason;
      tally.callbacks = cb.value;
      if (tally.callbacks.archived > 0) events.emit('history:written', { campaignId: null, contacts: 0, attempts: 0, callbacks: tally.callbacks.archived });
      events.emit('history:pass', tally);
      return tally;
    } finally {
      if (!looping) await release();
    }
  }

  async function release(): Promise<void> {
    await runScript(redis, RELEASE, [hk.lock], [token]).catch(() => undefined);
  }


  /**
   * Archives one campaign now, as far as it may go (asked with requestPurge:
   * until it has left Redis). 'busy': another archiver holds the lease;
   * 'stuck': a pass moved nothing (a page changed while it was read, or a
   * contact cannot be archived).
   */
  async function archiveNow(cid: string): Promise<'purged' | 'busy' | 'stuck'> {
    if (await purged(cid)) return 'purged';
    if (!(await hold())) return 'busy';
    try {
      await store.ready();
      const tally: ArchivePass = { active: true, callbacks: { archived: 0, removed: 0, waiting: 0 }, contacts: 0, attempts: 0, contactsByThread: 0, purged: [] };
      for (;;) {
        const before = JSON.stringify(await marker(cid));
        await campaignPass(cid, now(), tally);
        const after = await marker(cid);
        if (after.purgedAt !== null) return 'purged';
        if (JSON.stringify(after) === before || !(await hold())) return 'stuck';
      }
    } finally {
      if (!looping) await release();
    }
  }

  /** Asks for a finished campaign to leave Redis at the next pass, without waiting for the keep. */
  async function requestPurge(cid: string): Promise<void> {
    await redis.hset(hk.marker(cid), 'purgeNow', '1');
  }

  /** Whether a campaign's contacts and attempts have left Redis. */
  async function purged(cid: string): Promise<boolean> {
    return (await marker(cid)).purgedAt !== null;
  }

  /** The history store migrated, and the callback thread (if any) started and connected. */
  async function ready(): Promise<void> {
    await Promise.all([store.ready(), callbacks.ready?.()]);
  }

  function start(): Loop {
    looping = true;
    // The thread starts with the loop, not at its first pass.
    ready().catch((err: unknown) => log.warn({ err }, 'the archiver is not ready yet: its passes try again'));
    const loop = startLoop('archiver', o.everyMs, () => pass(), log);
    return {
      kick: () => loop.kick(),
      async stop() {
        await loop.stop();
        looping = false;
        await release();
      },
    };
  }

  return { pass, ready, start, archiveNow, requestPurge, purged, events, keys: hk };
}

export type Archiver = ReturnType<typeof makeArchiver>;
