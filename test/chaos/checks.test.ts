/**
 * The chaos run's checks catch what they are there for: each is given the
 * facts of a run that kept its promises, then the same facts with one
 * promise broken, and must name it.
 */
import { describe, expect, it } from 'vitest';
import { checkChaos, type AttemptRow, type CheckInput, type ResultRow } from '../../src/chaos/checks.js';
import type { LedgerEntry } from '../../src/simulator/index.js';

const CID = 'abcd1234';
const T0 = 1_800_000_000_000;

function entry(contact: number, n: number, atMs: number, over: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    seq: 0,
    at: T0 + atMs,
    family: 'sipcall',
    operation: 'PlayVoice',
    number: `139${String(contact).padStart(8, '0')}`,
    customuuid: `${CID}-${contact}-${n}`,
    originatedCallId: null,
    callUuid: `uuid-${contact}-${n}`,
    answer: 'accepted',
    httpStatus: 200,
    reason: null,
    placed: true,
    outcome: 'answered',
    scripted: false,
    result: { disposition: 'answered', billsec: 30, key: '', cdrs: 1 },
    delayMs: 0,
    ...over,
  };
}

function row(contact: number, over: Partial<ResultRow> = {}): ResultRow {
  return {
    phone: `139${String(contact).padStart(8, '0')}`,
    status: 'answered',
    attempts: '1',
    customuuid: `${CID}-${contact}-1`,
    billsec: '30',
    provider_call_id: `uuid-${contact}-1`,
    error: '',
    ...over,
  };
}

const attempt = (contact: number, n: number, outcome: string): AttemptRow => ({ customuuid: `${CID}-${contact}-${n}`, attempt: String(n), outcome, dial_result: 'accepted', state: 'final' });

/** Three contacts: answered at once; busy then answered; a reset (in doubt) whose CDR never came. */
function goodRun(): CheckInput {
  const ledger = [
    entry(0, 1, 0),
    entry(1, 1, 100, { result: { disposition: 'busy', billsec: 0, key: '', cdrs: 1 } }),
    entry(2, 1, 200, { answer: 'reset', httpStatus: null, result: { disposition: 'answered', billsec: 5, key: '', cdrs: 0 } }),
    entry(1, 2, 5_000),
  ].map((e, i) => ({ ...e, seq: i + 1 }));
  const cdrs = new Map([
    [`${CID}-0-1`, { firstAt: T0 + 500, delivered: true }],
    [`${CID}-1-1`, { firstAt: T0 + 600, delivered: true }],
    [`${CID}-1-2`, { firstAt: T0 + 5_500, delivered: true }],
  ]);
  return {
    policy: { contacts: 3, maxAttempts: 2, resultTimeoutMs: 15_000, cps: 3 },
    campaignId: CID,
    campaignState: 'completed',
    ledger,
    cdrs,
    results: [row(0), row(1, { attempts: '2', customuuid: `${CID}-1-2`, provider_call_id: `uuid-1-2` }), row(2, { status: 'in_doubt', billsec: '', provider_call_id: '' })],
    attempts: [attempt(0, 1, 'answered'), attempt(1, 1, 'busy'), attempt(1, 2, 'answered'), attempt(2, 1, 'in_doubt')],
    pendingCallbacks: [],
  };
}

const failed = (input: CheckInput) =>
  checkChaos(input)
    .filter((c) => !c.ok)
    .map((c) => ({ name: c.name, details: c.violations.map((v) => `${v.subject}: ${v.detail}`) }));

describe('chaos checks', () => {
  it('pass a run that kept every promise', () => {
    expect(failed(goodRun())).toEqual([]);
  });

  it('name a number called more often than the policy allows, and an attempt sent twice', () => {
    const run = goodRun();
    run.ledger = [...run.ledger, entry(1, 3, 30_000), entry(0, 1, 40_000)];
    const names = failed(run).map((f) => f.name);
    expect(names).toContain('calls per number within the policy, each attempt sent once');
    const details = failed(run).flatMap((f) => f.details);
    expect(details).toContain('13900000001: 3 calls placed, the policy allows 2');
    expect(details.some((d) => d.startsWith(`${CID}-0-1: attempt sent 2 times`))).toBe(true);
  });

  it('name a call placed while the call before it to the same number was still out', () => {
    const run = goodRun();
    // The retry came before the first call's CDR was posted.
    run.ledger = run.ledger.map((e) => (e.customuuid === `${CID}-1-2` ? { ...e, at: T0 + 400 } : e));
    expect(failed(run).find((f) => f.name === 'no two calls to one number overlapping')?.details[0]).toMatch(/^13900000001: abcd1234-1-2 arrived 300 ms after abcd1234-1-1/);
  });

  it('name an attempt in doubt that was dialed again', () => {
    const run = goodRun();
    run.ledger = [...run.ledger, entry(2, 2, 20_000)];
    run.attempts = [...run.attempts, attempt(2, 2, 'answered')];
    expect(failed(run).find((f) => f.name === 'attempts in doubt never dialed again')?.details).toEqual([`${CID}-2: ${CID}-2-1 ended in doubt, then ${CID}-2-2 followed`]);
  });

  it('name a contact that never became final, and a campaign that did not complete', () => {
    const run = goodRun();
    run.campaignState = 'running';
    run.results = [run.results[0]!, run.results[1]!, row(2, { status: 'pending', customuuid: '', attempts: '0' })];
    const final = checkChaos(run).find((c) => c.name === 'every contact final (none lost)');
    expect(final?.ok).toBe(false);
    expect(final?.violations.map((v) => [v.subject, v.attemptIds])).toEqual([
      ['campaign', []],
      ['13900000002', [`${CID}-2-`]],
    ]);
  });

  it('name an export row that disagrees with what the provider saw', () => {
    const run = goodRun();
    run.results = [row(0, { status: 'busy' }), run.results[1]!, row(2, { status: 'in_doubt', billsec: '', provider_call_id: '' })];
    // A CDR of the in-doubt call was acknowledged: the export must not still say in doubt.
    run.cdrs = new Map([...run.cdrs, [`${CID}-2-1`, { firstAt: T0 + 900, delivered: true }]]);
    expect(failed(run).find((f) => f.name === 'export agrees with the ledger, contact by contact')?.details).toEqual([
      '13900000000: busy, the provider\'s CDR says answered',
      `13900000002: in_doubt, but a CDR of ${CID}-2-1 was acknowledged and never applied`,
    ]);
  });

  it('name a request that is not an attempt on record', () => {
    const run = goodRun();
    run.attempts = run.attempts.filter((a) => a.customuuid !== `${CID}-0-1`);
    expect(failed(run).find((f) => f.name === 'every request an attempt on record')?.details).toEqual([`${CID}-0-1: received by the provider (accepted), not in the attempts export`]);
  });

  it('name a CDR that was acknowledged but never reached its attempt, even when a later attempt hides it from the export', () => {
    const run = goodRun();
    // Contact 1's first call was busy and its CDR acknowledged, yet the attempt ended without a result.
    run.attempts = run.attempts.map((a) => (a.customuuid === `${CID}-1-1` ? { ...a, outcome: 'no_result' } : a));
    expect(failed(run).map((f) => f.name)).toEqual(['every acknowledged CDR applied to its attempt']);
    expect(failed(run)[0]?.details).toEqual([`${CID}-1-1: its CDR (busy) was acknowledged, the attempt ended no_result`]);
  });

  it('name a stored callback left uninterpreted', () => {
    const run = goodRun();
    run.pendingCallbacks = [{ id: '1-0', kind: 'sipcall-cdr', receivedAt: T0 + 700, customuuid: `${CID}-0-1` }];
    expect(failed(run)).toEqual([
      { name: 'every stored callback interpreted', details: [`1-0: sipcall-cdr of ${CID}-0-1 received ${new Date(T0 + 700).toISOString()}, stored and acknowledged, never interpreted`] },
    ]);
  });

  it("name a second with more requests than the account's rate", () => {
    const run = goodRun();
    run.ledger = [...run.ledger, entry(0, 9, 150, { placed: false, answer: 'error', result: null })];
    const rate = checkChaos(run).find((c) => c.name.startsWith('no second above'));
    expect(rate?.ok).toBe(false);
    expect(rate?.figure).toBe('most requests in any second: 4');
  });

  it("compare the history store's contacts and attempts when there is one", () => {
    const run = goodRun();
    run.history = {
      contacts: [
        { number: '13900000000', status: 'answered', attempts: 1, customuuid: `${CID}-0-1` },
        { number: '13900000001', status: 'busy', attempts: 2, customuuid: `${CID}-1-2` },
      ],
      attemptIds: new Set([`${CID}-0-1`, `${CID}-1-1`, `${CID}-1-2`]),
    };
    expect(failed(run).find((f) => f.name === 'history store agrees with the export and the ledger')?.details).toEqual([
      'history: 2 contacts archived of 3',
      `13900000001: history store: busy, 2 attempts, ${CID}-1-2; export: answered, 2, ${CID}-1-2`,
      `${CID}-2-1: received by the provider, not in the history store`,
    ]);
  });
});
