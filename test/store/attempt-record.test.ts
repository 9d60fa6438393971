import { describe, expect, it } from 'vitest';
import { decodeAttemptValue, decodeStoredAttempt, encodeAttemptValue, AttemptStoreError, COMMIT_CAMPAIGN_SUFFIXES } from '../../src/store/attempts.js';
import { keys } from '../../src/store/keys.js';
import { contactStateSchema, parseContactState } from '../../src/store/contacts.js';
import { COMMIT } from '../../src/store/commit-script.js';

const base = {
  cid: 'c1',
  idx: '7',
  n: '2',
  family: 'sipcall',
  number: '13800000007',
  state: 'final',
  outcome: 'answered',
  late: '1',
  ver: '4',
  dialingAt: '1700000000000',
  billsec: '31',
  answeredAt: '2026-01-01 10:00:00',
  userkey: '',
  dialKind: 'accepted',
};

describe('stored attempt records', () => {
  it('decodes every field with its type, empty strings as null', () => {
    const a = decodeStoredAttempt('c1-7-2', base);
    expect(a).toMatchObject({
      id: 'c1-7-2',
      cid: 'c1',
      idx: 7,
      n: 2,
      family: 'sipcall',
      state: 'final',
      outcome: 'answered',
      late: true,
      inDoubt: false,
      ver: 4,
      dialingAt: 1700000000000,
      acceptedAt: null,
      billsec: 31,
      answeredAt: '2026-01-01 10:00:00',
      userkey: null,
      dialKind: 'accepted',
      correctedFrom: null,
      callbackId: null,
    });
  });

  it('names every damaged field', () => {
    const bad = { ...base, idx: 'x', state: 'flying', late: 'yes', billsec: 'NaN', correctedFrom: 'maybe' } as Record<string, string>;
    delete bad.cid;
    let err: unknown;
    try {
      decodeStoredAttempt('c1-7-2', bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AttemptStoreError);
    const msg = (err as Error).message;
    for (const f of ['cid: missing', 'idx: not a number', 'state: unknown value "flying"', 'late: expected 0 or 1', 'billsec: not a number', 'correctedFrom: unknown value']) {
      expect(msg).toContain(f);
    }
    expect(() => decodeStoredAttempt('c1-7-2', { ...base, n: '1.5' })).toThrow(/n: not a whole number/);
  });
});

describe('stored attempt values', () => {
  it('round-trip: the version before the fields, the fields as text', () => {
    const { ver, ...fields } = base;
    const value = encodeAttemptValue(Number(ver), fields);
    expect(value.startsWith('4|{')).toBe(true);
    const a = decodeAttemptValue('c1-7-2', value);
    expect(a).toMatchObject({ ver: 4, idx: 7, billsec: 31, late: true });
    expect(a.stored).toEqual(fields);
    expect(decodeAttemptValue('c1-7-2', encodeAttemptValue(a.ver + 1, a.stored))).toEqual({ ...a, ver: 5 });
  });

  it('names what is damaged', () => {
    expect(() => decodeAttemptValue('c1-7-2', '{"cid":"c1"}')).toThrow(/c1-7-2 record is damaged: no version/);
    expect(() => decodeAttemptValue('c1-7-2', '3|{"cid":')).toThrow(/c1-7-2 record is damaged: its fields are not JSON/);
    expect(() => decodeAttemptValue('c1-7-2', '3|["c1"]')).toThrow(/not an object/);
    expect(() => decodeAttemptValue('c1-7-2', '3|{"cid":"c1","idx":7}')).toThrow(/idx: not text/);
    expect(() => decodeAttemptValue('c1-7-2', '3|{"cid":"c1"}')).toThrow(/idx: missing/);
  });
});

describe('the commit script’s key names', () => {
  it('names the campaign keys from the campaign hash key exactly as keys.ts does', () => {
    const k = keys('some-prefix');
    const cid = 'abcd1234';
    for (const [name, suffix] of Object.entries(COMMIT_CAMPAIGN_SUFFIXES)) {
      const made = (k as unknown as Record<string, (c: string) => string>)[name]!(cid);
      expect(made).toBe(`${k.campaign(cid)}${suffix}`);
      expect(COMMIT).toContain(`cmp .. '${suffix}'`);
    }
  });
});

describe('stored contact states', () => {
  const samples: unknown[] = [
    { s: 'pending', n: 1, p: 0, ph: 'queued' },
    { s: 'answered', n: 2, p: 2, a: 'c1-7-2', o: { busy: 1, answered: 1 }, ld: 1700000000000, e: 'x', late: true, ns: 1, extra: 'dropped' },
    { s: 'pending' },
    { s: 'flying', n: 1, p: 0 },
    { s: 'pending', n: 1.5, p: 0 },
    { s: 'pending', n: 1, p: 0, ph: 'ringing' },
    { s: 'pending', n: 1, p: 0, o: { busy: 'one' } },
    { s: 'pending', n: 1, p: 0, late: 'yes' },
    { s: 'pending', n: 1, p: 0, a: 7 },
    [],
    null,
    'pending',
  ];
  it('decode as the schema says: same values, same refusals', () => {
    for (const v of samples) {
      const expected = contactStateSchema.safeParse(v);
      const raw = JSON.stringify(v);
      if (expected.success) expect(parseContactState(raw)).toEqual(expected.data);
      else expect(() => parseContactState(raw, 'contact 7 state')).toThrow(/contact 7 state is damaged/);
    }
    expect(() => parseContactState('{', 'contact 8 state')).toThrow(/contact 8 state is not JSON/);
    expect(parseContactState('')).toEqual({ s: 'pending', n: 0, p: 0 });
  });
});
