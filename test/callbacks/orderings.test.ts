/**
 * Every ordering of {ring, answer, hangup, CDR, duplicate CDR} for one
 * attempt, and every ordering of {ring, answer, CDR, duplicate CDR} with the
 * result deadline passing before the first CDR — each through the real HTTP
 * route, receiver, attempt service and Redis, on an attempt of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateRank } from '../../src/domain/attempt.js';
import type { StoredAttempt } from '../../src/store/attempts.js';
import { campaignWithAttempts, SIPCALL_DEF, sipcallCdr, sipcallStatus, startRig, type LiveAttempt, type Rig } from './support.js';

type Step = 'ring' | 'answer' | 'hangup' | 'cdr' | 'dup' | 'deadline';

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  const out: T[][] = [];
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest]);
  });
  return out;
}

interface Case {
  order: Step[];
  outcome: 'answered' | 'busy';
  late: boolean;
}

const ON_TIME: Case[] = permutations<Step>(['ring', 'answer', 'hangup', 'cdr', 'dup']).map((order, i) => ({
  order,
  outcome: i % 2 === 0 ? 'answered' : 'busy',
  late: false,
}));
/** The deadline passes before the first CDR: that CDR corrects no_result and is late. */
const LATE: Case[] = permutations<Step>(['ring', 'answer', 'cdr', 'dup']).map((order) => {
  const first = order.findIndex((s) => s === 'cdr' || s === 'dup');
  return { order: [...order.slice(0, first), 'deadline', ...order.slice(first)], outcome: 'answered', late: true };
});
const CASES = [...ON_TIME, ...LATE];

describe('callback orderings through the receiver', () => {
  let rig: Rig;
  let cid: string;
  let live: LiveAttempt[];

  /** The container's clock runs this far ahead of the wall clock (the result deadline is 1 h). */
  let ahead = 0;

  beforeAll(async () => {
    rig = await startRig('cb-orderings', {}, { now: () => Date.now() + ahead });
    ({ cid, attempts: live } = await campaignWithAttempts(rig.c, SIPCALL_DEF, CASES.length));
  }, 60_000);
  afterAll(async () => rig?.close());

  async function attempt(id: string): Promise<StoredAttempt> {
    const a = await rig.c.attempts.get(id);
    if (!a) throw new Error(`attempt ${id} is gone`);
    return a;
  }

  it(`ends each of ${CASES.length} orderings right, never backwards, duplicates counted once, late corrected once, no second call`, async () => {
    const problems: string[] = [];
    let statusCallbacks = 0;
    for (const [i, t] of CASES.entries()) {
      const a = live[i]!;
      const uuid = `call-${i}`;
      const where = `${t.late ? 'late' : 'on time'} ${t.outcome}: ${t.order.join(' → ')}`;
      const cdr = JSON.stringify(sipcallCdr({ customuuid: a.id, uuid, destnumber: a.number, outcome: t.outcome }));
      let rank = stateRank((await attempt(a.id)).state);
      let finalOutcome: string | null = null;
      let corrections = 0;
      for (const step of t.order) {
        if (step === 'deadline') {
          // Two hours on: the attempt is overdue, as the sweeper would find it.
          ahead = 2 * 3_600_000;
          if (!(await rig.c.attempts.overdue(Date.now() + ahead, 10_000)).includes(a.id)) problems.push(`${where}: not overdue`);
          expect(await rig.c.service.deadline(a.id)).toBe('no_result');
          ahead = 0;
        } else {
          const path = step === 'cdr' || step === 'dup' ? '/callbacks/sipcall/cdr' : '/callbacks/sipcall/status';
          const body = step === 'cdr' || step === 'dup' ? cdr : JSON.stringify(sipcallStatus({ uuid, callee: a.number, status: step }));
          if (path.endsWith('status')) statusCallbacks++;
          const res = await rig.post(path, body);
          if (res.status !== 200) problems.push(`${where}: ${step} answered ${res.status}`);
          await rig.c.receiver.idle();
        }
        const now = await attempt(a.id);
        const r = stateRank(now.state);
        if (r < rank) problems.push(`${where}: went backwards to ${now.state} after ${step}`);
        rank = r;
        if (finalOutcome !== null && now.outcome !== finalOutcome) {
          corrections++;
          if (!(finalOutcome === 'no_result' && t.late)) problems.push(`${where}: outcome changed from ${finalOutcome} to ${now.outcome} after ${step}`);
        }
        if (now.state === 'final') finalOutcome = now.outcome;
      }
      const end = await attempt(a.id);
      const { state: contact } = await rig.c.contacts.state(cid, a.idx);
      if (end.state !== 'final' || end.outcome !== t.outcome) problems.push(`${where}: ended ${end.state} ${end.outcome}`);
      if (contact.s !== t.outcome) problems.push(`${where}: contact ended ${contact.s}`);
      if ((end.duplicates ?? 0) !== 1) problems.push(`${where}: ${end.duplicates} duplicates on the attempt`);
      if (end.late !== t.late || (t.late && end.correctedFrom !== 'no_result')) problems.push(`${where}: late ${end.late} from ${end.correctedFrom}`);
      if (corrections !== (t.late ? 1 : 0)) problems.push(`${where}: ${corrections} corrections`);
      if (t.late && contact.late !== true) problems.push(`${where}: contact not flagged late`);
      // No second call: the contact is on its first attempt, final, and nothing else was begun.
      if (contact.n !== 1 || contact.ph !== undefined) problems.push(`${where}: contact n=${contact.n} ph=${contact.ph}`);
      if (await rig.c.attempts.get(`${cid}-${a.idx}-2`)) problems.push(`${where}: a second attempt exists`);
    }
    expect(problems).toEqual([]);

    const counts = await rig.c.callbackLog.counters(cid);
    expect(counts.correlated).toBe(ON_TIME.length);
    expect(counts.late).toBe(LATE.length);
    expect(counts.duplicate).toBe(CASES.length);
    expect(counts.progress).toBe(statusCallbacks);
    expect(counts.orphan + counts.conflict + counts.malformed).toBe(0);
    const byStatus = (await rig.c.campaigns.counts(cid)).byStatus;
    expect(byStatus.pending).toBe(0);
    expect(byStatus.answered).toBe(CASES.filter((t) => t.outcome === 'answered').length);
    expect(byStatus.busy).toBe(CASES.filter((t) => t.outcome === 'busy').length);
    expect((await rig.c.campaigns.get(cid))?.state).toBe('completed');
    expect(await rig.c.contacts.dueCount(cid)).toMatchObject({ feeding: 0 });
  }, 120_000);
});
