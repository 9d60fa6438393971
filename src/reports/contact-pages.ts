/**
 * A campaign's contacts page by page, as the exports read them, wherever
 * they are kept: in Redis while the campaign runs, in the history store
 * once they have left Redis (the marker kept with the campaign's summary
 * says up to which contact). Both give the same views, so an export reads
 * the same before and after.
 */
import type { ContactStatus } from '../domain/types.js';
import { CampaignStoreError, type CampaignRecord, type CampaignStore } from '../store/campaigns.js';
import { FRESH_STATE, type ContactStore } from '../store/contacts.js';
import type { AttemptStore } from '../store/attempts.js';
import { attemptId } from '../store/ids.js';
import type { HistoryReads } from '../history/reads.js';
import type { AttemptFacts } from '../history/records.js';
import { contactResult, type ContactResult } from './result.js';

export interface ReportDeps {
  campaigns: Pick<CampaignStore, 'get'>;
  contacts: Pick<ContactStore, 'range'>;
  /** Needed for results and attempts (not for rejects). */
  attempts?: Pick<AttemptStore, 'get'>;
  /** Where contacts that left Redis are read (absent: Redis alone). */
  history?: HistoryReads | null;
}

/** One contact as the reports see it. */
export interface ContactView {
  idx: number;
  line: number;
  values: readonly string[];
  status: ContactStatus;
  /** The contact's own message (a reject's reason). */
  reason: string | undefined;
  /** Its result (with `result`). */
  result: ContactResult | null;
  /** Its attempts 1..n, those that exist (with `attempts`). */
  attempts: AttemptFacts[];
}

export interface PageWants {
  result?: boolean;
  attempts?: boolean;
}

async function fromRedis(deps: ReportDeps, cid: string, from: number, count: number, want: PageWants): Promise<ContactView[]> {
  const page = await deps.contacts.range(cid, from, count);
  const get = (id: string) => (deps.attempts ? deps.attempts.get(id) : Promise.resolve(null));
  const lasts = want.result ? await Promise.all(page.map((p) => (p.state.a ? get(p.state.a) : Promise.resolve(null)))) : [];
  const out: ContactView[] = [];
  for (let i = 0; i < page.length; i++) {
    const p = page[i]!;
    const attempts: AttemptFacts[] = [];
    if (want.attempts) {
      for (let n = 1; n <= p.state.n; n++) {
        const a = await get(attemptId({ campaignId: cid, contact: p.idx, attempt: n }));
        if (a) attempts.push(a);
      }
    }
    out.push({
      idx: p.idx,
      line: p.row?.l ?? 0,
      values: p.row?.v ?? [],
      status: p.state.s,
      reason: p.state.e,
      result: want.result ? contactResult(p.state, lasts[i] ?? null) : null,
      attempts,
    });
  }
  return out;
}

async function fromHistory(history: HistoryReads, cid: string, from: number, count: number, want: PageWants): Promise<ContactView[]> {
  const [rows, attempts] = await Promise.all([history.contacts(cid, from, count), want.attempts ? history.attempts(cid, from, from + count) : Promise.resolve([])]);
  const byIdx = new Map(rows.map((r) => [r.idx, r]));
  const attemptsOf = new Map<number, AttemptFacts[]>();
  for (const a of attempts) {
    const list = attemptsOf.get(a.idx) ?? [];
    list.push(a);
    attemptsOf.set(a.idx, list);
  }
  const out: ContactView[] = [];
  for (let idx = from; idx < from + count; idx++) {
    const r = byIdx.get(idx);
    // A contact the store does not have reads as Redis reads a missing one: no row, not touched.
    out.push({
      idx,
      line: r?.line ?? 0,
      values: r?.columns ?? [],
      status: r?.result.status ?? FRESH_STATE.s,
      reason: r?.reason ?? undefined,
      result: want.result ? (r?.result ?? contactResult({ ...FRESH_STATE }, null)) : null,
      attempts: (attemptsOf.get(idx) ?? []).filter((a) => a.n <= (r?.dials ?? 0)),
    });
  }
  return out;
}

/** The campaign's record: from Redis, or from the history store once deleted from Redis (`deleted`: all its contacts are there). */
export async function campaignRecord(deps: Pick<ReportDeps, 'campaigns' | 'history'>, cid: string): Promise<CampaignRecord & { deleted?: true }> {
  const c = await deps.campaigns.get(cid);
  if (c) return c;
  const archived = deps.history ? await deps.history.campaign(cid) : null;
  if (archived) return { ...archived.record, deleted: true };
  throw new CampaignStoreError(`no campaign with id ${cid}`);
}

/** The campaign's contacts `0 <= idx < total`, `pageSize` at a time. */
export async function* contactPages(
  deps: ReportDeps,
  campaign: { id: string; total: number; deleted?: true },
  pageSize: number,
  want: PageWants,
): AsyncGenerator<ContactView[]> {
  const history = deps.history ?? null;
  const { id: cid, total } = campaign;
  for (let from = 0; from < total; ) {
    const end = Math.min(total, from + pageSize);
    const below = !history ? 0 : campaign.deleted ? total : await history.purgedBelow(cid);
    if (history && from < below) {
      const to = Math.min(end, below);
      yield await fromHistory(history, cid, from, to - from, want);
      from = to;
      continue;
    }
    const page = await fromRedis(deps, cid, from, end - from, want);
    // Contacts that left Redis while they were read: read them again where they are now.
    if (history && (await history.purgedBelow(cid)) > from) continue;
    yield page;
    from = end;
  }
}
