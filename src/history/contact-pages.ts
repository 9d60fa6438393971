/**
 * A campaign's contacts as the archiver reads them, a page at a time (the
 * next page asked for while one is used), and as COPY text. Both threads of
 * an archiver use it: the one holding the lease for its share of a pass and
 * for the purge, the callback thread for the ranges it is handed
 * (`archiveRange`).
 */
import type { ContactItem, ContactSource } from './contact-source.js';
import { archivedContact, attemptLine, contactLine } from './records.js';
import { CopyWriter, joinRows, type CopyRows } from './copy.js';
import type { HistoryStore } from './store.js';

/** A page's rows as COPY text. */
export interface EncodedPage {
  contacts: CopyRows;
  attempts: CopyRows;
}

/** Rows written for a range of contacts. */
export interface RangeCounts {
  contacts: number;
  attempts: number;
}

/** A range of contact indexes: `at <= idx < at + count`. */
export interface Range {
  at: number;
  count: number;
}

/** The rows a page of contacts gives, encoded at once (the decoded records are not kept while a batch waits). */
export function encodePage(cid: string, items: readonly ContactItem[]): EncodedPage {
  const contacts = new CopyWriter();
  const attempts = new CopyWriter();
  for (const it of items) {
    const last = it.state.a ? (it.attempts.find((x) => x.id === it.state.a)?.a ?? null) : null;
    contacts.line(contactLine(archivedContact(cid, it.idx, it.row, it.state, last)));
    const e164 = it.row?.e ?? null;
    for (const x of it.attempts) if (x.a) attempts.line(attemptLine(x.a, e164));
  }
  return { contacts: contacts.end(), attempts: attempts.end() };
}

/**
 * Pages as `take` hands them out (null: no more), each read while the one
 * before is used. `all`: every contact, else final ones not archived yet.
 */
export async function* readPages(source: Pick<ContactSource, 'page'>, cid: string, take: () => Range | null, all: boolean): AsyncGenerator<Range & { items: ContactItem[] }> {
  const read = (r: Range | null) => (r === null ? null : { ...r, items: source.page(cid, r.at, r.count, { all }) });
  let ahead = read(take());
  try {
    while (ahead) {
      const current = ahead;
      ahead = read(take());
      yield { at: current.at, count: current.count, items: await current.items };
    }
  } finally {
    // A page read ahead and not used (the loop stopped early): its failure is nobody's.
    ahead?.items.catch(() => undefined);
  }
}

/** Hands out `[from, end)` a given number of contacts at a time, until its end or until `until` (performance.now()). */
export function rangeCursor(from: number, end: number, until: number): { take(count: number): Range | null; readonly next: number } {
  let next = from;
  return {
    take(count) {
      if (next >= end || performance.now() >= until) return null;
      const r = { at: next, count: Math.min(count, end - next) };
      next += r.count;
      return r;
    },
    get next() {
      return next;
    },
  };
}

/**
 * Archives the final contacts of `range` not archived yet, with their
 * attempts: read a page at a time, written in one transaction, then marked
 * archived in Redis (a crash before the mark only writes them again).
 */
export async function archiveRange(
  deps: { source: Pick<ContactSource, 'page' | 'mark'>; store: Pick<HistoryStore, 'writeRows'>; pageSize: number },
  cid: string,
  range: Range,
): Promise<RangeCounts> {
  const cursor = rangeCursor(range.at, range.at + range.count, Number.POSITIVE_INFINITY);
  const idxs: number[] = [];
  const pages: EncodedPage[] = [];
  for await (const { items } of readPages(deps.source, cid, () => cursor.take(deps.pageSize), false)) {
    if (items.length === 0) continue;
    for (const it of items) idxs.push(it.idx);
    pages.push(encodePage(cid, items));
  }
  if (idxs.length === 0) return { contacts: 0, attempts: 0 };
  const contacts = joinRows(pages.map((p) => p.contacts));
  const attempts = joinRows(pages.map((p) => p.attempts));
  await deps.store.writeRows({ contacts, attempts }, { fresh: true });
  await deps.source.mark(cid, idxs);
  return { contacts: contacts.rows, attempts: attempts.rows };
}

/** Who archives ranges of a campaign's contacts beside the archiver's own thread (history/callback-thread.ts: the callback thread). */
export interface ContactRanges {
  /** Archives `range` as archiveRange does, reading `pageSize` contacts at a time. */
  archive(cid: string, range: Range, pageSize: number): Promise<RangeCounts>;
}
