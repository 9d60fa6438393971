import { describe, expect, it } from 'vitest';
import {
  createdAttempt,
  decodeAttemptValue,
  decodeStoredAttempt,
  encodeAttemptValue,
  packAttemptFields,
  AttemptStoreError,
  type AttemptFields,
  type StoredAttempt,
} from '../../src/store/attempts.js';
import { FAMILY_CODES, OUTCOME_CODES, SLOT_OF, STATE_CODES, fromBase36, pack, unpackText } from '../../src/store/attempt-layout.js';
import { ATTEMPT_OUTCOMES, ATTEMPT_STATES, PROVIDER_FAMILIES } from '../../src/domain/types.js';
import { seeded } from '../ingest/random.js';
import { contactStateSchema, parseContactState } from '../../src/store/contacts.js';

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
  it('a record written before the compact layout (JSON text) still reads, and its next write is compact', () => {
    const { ver, ...fields } = base;
    const old = `${ver}|${JSON.stringify(fields)}`;
    const a = decodeAttemptValue('c1-7-2', old);
    expect(a).toMatchObject({ ver: 4, idx: 7, billsec: 31, late: true, answeredAt: '2026-01-01 10:00:00' });
    expect(a).toEqual({ ...decodeStoredAttempt('c1-7-2', base), packed: a.packed });
    expect(encodeAttemptValue(a.ver + 1, a.packed).startsWith('5|~')).toBe(true);
  });

  it('names what is damaged', () => {
    expect(() => decodeAttemptValue('c1-7-2', '{"cid":"c1"}')).toThrow(/c1-7-2 record is damaged: no version/);
    expect(() => decodeAttemptValue('c1-7-2', '3|{"cid":')).toThrow(/c1-7-2 record is damaged: its fields are not JSON/);
    expect(() => decodeAttemptValue('c1-7-2', '3|["c1"]')).toThrow(/not an object/);
    expect(() => decodeAttemptValue('c1-7-2', '3|{"cid":"c1","idx":7}')).toThrow(/idx: not text/);
    expect(() => decodeAttemptValue('c1-7-2', '3|{"cid":"c1"}')).toThrow(/idx: missing/);
    const id = 'abcd1234-7-2';
    expect(() => decodeAttemptValue(id, '3|~fa')).toThrow(/record is damaged: its codes are cut short/);
    expect(() => decodeAttemptValue(id, '3|~Z?s--0-138|x!|y!')).toThrow(/base time: not a whole number \("x!"\); state: unknown code "Z"; outcome: unknown code "\?"; dialingAt: not a number \("y!"\)/);
    expect(() => decodeAttemptValue(id, '3|~-as----')).toThrow(/state: missing; number: missing/);
    expect(() => decodeAttemptValue(id, '3|~fas-----138||5')).toThrow(/dialingAt: a time without the record's base time/);
    expect(() => decodeAttemptValue(id, '3|~fas-----138|lnk5sqrk|0|x.5')).toThrow(/deadline: not a number \("x.5"\)/);
    expect(() => decodeAttemptValue(id, `3|~fas-----138${'|'.repeat(30)}`)).toThrow(/positions, the layout has 24/);
    expect(() => decodeAttemptValue('not-an-id', '3|~fas-----138')).toThrow(/its key is not an attempt id/);
  });
});

const ID = 'abcd1234-7-2';
const T0 = 1_796_570_957_951;

/** The fields of a sipcall call answered, as the dialer writes them (begin, dial answer, CDR). */
const answered: AttemptFields[] = [
  { state: 'dialing', outcome: null, late: false, resultSource: null, dialKind: null, dialingAt: T0, acceptedAt: null, duplicates: 0, conflicts: 0, cid: 'abcd1234', idx: 7, n: 2, family: 'sipcall', number: '18676662562', deadline: T0 + 215_000 },
  { state: 'accepted', dialKind: 'accepted', acceptedAt: T0 + 8, providerCallId: '', deadline: T0 + 180_008 },
  { state: 'ringing', ringingAt: T0 + 2_063, callUuid: 'bc46be0f-d69c-46e6-a23e-417c15f07666' },
  { state: 'answered', answerSeenAt: T0 + 6_076, callUuid: 'bc46be0f-d69c-46e6-a23e-417c15f07666' },
  {
    state: 'final',
    outcome: 'answered',
    resultSource: 'callback',
    hangupAt: T0 + 86_319,
    finalAt: T0 + 86_320,
    billsec: 80,
    answeredAt: '2026-12-06T15:29:24.000Z',
    endedAt: '2026-12-06T15:30:44.000Z',
    hangupcause: '16',
    hangupdirection: '10041',
    userkey: '1',
    callUuid: 'bc46be0f-d69c-46e6-a23e-417c15f07666',
    callbackId: `${T0 + 86_318}-1`,
  },
];

/** The fields as text, merged as the record of JSON text merged them. */
function asTextFields(writes: readonly AttemptFields[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of writes) {
    for (const [key, v] of Object.entries(w)) if (v !== null) out[key] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
  }
  return out;
}

/** Writes the fields one commit after the other, through the stored value each time (as Redis would hold it). */
function written(id: string, writes: readonly AttemptFields[]): { value: string; a: StoredAttempt } {
  let a: StoredAttempt | null = null;
  let value = '';
  for (const w of writes) {
    value = encodeAttemptValue((a?.ver ?? 0) + 1, packAttemptFields(a?.packed ?? null, w));
    a = decodeAttemptValue(id, value);
  }
  return { value, a: a! };
}

/** What the record of JSON text (before the compact layout) read back for the same writes (it stored the id's parts too). */
function asBefore(id: string, writes: readonly AttemptFields[]): Omit<StoredAttempt, 'stored' | 'packed'> {
  const [cid, idx, n] = id.split('-');
  const text = { cid: cid!, idx: idx!, n: n!, ...asTextFields(writes) };
  const { stored: _stored, packed: _packed, ...rest } = decodeAttemptValue(id, `${writes.length}|${JSON.stringify(text)}`);
  return rest;
}

const withoutStored = ({ stored: _stored, packed: _packed, ...rest }: StoredAttempt): Omit<StoredAttempt, 'stored' | 'packed'> => rest;

describe('the compact layout', () => {
  it('reads back every field as the JSON text did, in a fifth of the bytes', () => {
    const { value, a } = written(ID, answered);
    expect(withoutStored(a)).toEqual(asBefore(ID, answered));
    expect(value).toBe('5|~fasa-0-18676662562|mxbzyn3z|0|3uw8|8|1lb|4os|1ulr|1uls|c|0|0|80|7|87|16|10041|1|vEa-D9acRuaiPkF8FfB2Zg|1ulq-1');
    expect(value.length).toBeLessThanOrEqual(115);
    expect(`5|${JSON.stringify(asTextFields(answered))}`.length).toBeGreaterThan(5 * value.length);
  });

  it('the record a first commit leaves is the one read back', () => {
    const fields = answered[0]!;
    const value = encodeAttemptValue(1, packAttemptFields(null, fields));
    expect(createdAttempt(ID, fields)).toEqual(decodeAttemptValue(ID, value));
  });

  it('keeps exactly what its short forms cannot hold', () => {
    const odd: AttemptFields = {
      state: 'final',
      family: 'pbx',
      number: '"quoted|piped"',
      dialingAt: T0,
      deadline: T0 + 0.5,
      acceptedAt: '1796570957952.25',
      ringingAt: '0017',
      billsec: '12.5',
      duplicates: ' 3',
      answeredAt: '2026-12-06 23:29:16',
      endedAt: '1581250371',
      hangupcause: 'NO ANSWER',
      hangupdirection: '#',
      userkey: '|',
      callUuid: 'BC46BE0F-D69C-46E6-A23E-417C15F07666',
      callbackId: '-5-3',
      providerCallId: 'vEa-D9acRuaiPkF8FfB2Zg',
      error: 'no result by the deadline',
      resultSource: 'c',
      correctedAt: '',
      hint: 'kept|aside',
    };
    const { a } = written(ID, [odd]);
    expect(withoutStored(a)).toEqual(asBefore(ID, [odd]));
    const more: AttemptFields = { answeredAt: '2026-12-06T15:29:24.123Z', callUuid: 'vEa-D9acRuaiPkF8FfB2Zg', callbackId: '12-0', error: '2', resultSource: 'deadline', hint: 'again', other: '' };
    const { a: b } = written(ID, [odd, more]);
    expect(withoutStored(b)).toEqual(asBefore(ID, [odd, more]));
    expect(b.packed.at(-1)).toBe('{"hint":"again","other":""}');
    expect(b.stored).toMatchObject({ hint: 'again', other: '', number: '"quoted|piped"', userkey: '|' });
  });

  it('a base time taken from the first time written, when the record had none', () => {
    const writes: AttemptFields[] = [{ state: 'queued', family: 'sipcall', number: '138' }, { state: 'dialing', acceptedAt: T0 + 5, dialingAt: T0, callbackId: `${T0 - 20}-0` }];
    const { a } = written(ID, writes);
    expect(withoutStored(a)).toEqual(asBefore(ID, writes));
    expect(a.packed[8]).toBe(T0.toString(36));
  });

  it('round-trips generated records written a few commits at a time', () => {
    const rand = seeded(2026);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const texts = ['', 'x', '#1', '"', '|', 'a|b', 'no result by the deadline', '1', '-1-2', '2026-01-01T00:00:00.000Z', 'é ✓', '\\u007c', '{"a":1}'];
    const gens: Record<string, () => string | number | boolean> = {
      state: () => pick(Object.keys(STATE_CODES)),
      outcome: () => pick(['', ...Object.keys(OUTCOME_CODES)]),
      correctedFrom: () => pick(['', ...Object.keys(OUTCOME_CODES)]),
      family: () => pick(['sipcall', 'pbx']),
      dialKind: () => pick(['', 'accepted', 'rejected', 'fatal', 'not_sent', 'transient', 'in_doubt']),
      late: () => rand() < 0.5,
      inDoubt: () => pick(['0', '1', true, false]),
      number: () => pick(['13800000001', '+8613800000001', '"x"', 'a|b']),
      dialingAt: () => T0 + Math.round(rand() * 1000),
      deadline: () => pick([T0 + 180_000, T0 + 0.25, '', String(T0 + 7)]),
      acceptedAt: () => pick([T0 - 5, T0 + 10, '', '17x']),
      ringingAt: () => T0 + Math.round(rand() * 5000),
      answerSeenAt: () => T0 + 9,
      hangupAt: () => T0 + 90_000,
      finalAt: () => pick([T0 + 90_001, 1.5e12]),
      correctedAt: () => pick(['', T0 + 3_600_000]),
      resultSource: () => pick(['', 'callback', 'deadline', 'dial', ...texts]),
      error: () => pick(['', 'no result by the deadline', 'in doubt: no answer from the provider and no result by the deadline', 'rejected: 403', ...texts]),
      billsec: () => pick([0, 31, '', '12']),
      duplicates: () => pick([0, 1, 2]),
      conflicts: () => pick([0, 1]),
      answeredAt: () => pick(['', '2026-12-06T15:29:24.000Z', '2026-12-06T15:29:24.500Z', '2020-02-09 12:32:51', '1581250371', ...texts]),
      endedAt: () => pick(['', '1970-01-01T00:00:00.000Z', '2026-12-06T15:30:44.000Z', ...texts]),
      hangupcause: () => pick(['', '16', 'NO ANSWER', ...texts]),
      hangupdirection: () => pick(['', '10041', ...texts]),
      userkey: () => pick(['', '1', '#', ...texts]),
      callUuid: () => pick(['', 'bc46be0f-d69c-46e6-a23e-417c15f07666', 'vEa-D9acRuaiPkF8FfB2Zg', 'bench-0000abcd-call', ...texts]),
      callbackId: () => pick(['', `${T0 + 300}-1`, `${T0 - 300}-0`, '5-5', '1-', '00012-3', ...texts]),
      providerCallId: () => pick(['', '1700000000.123', ...texts]),
      extra: () => pick(texts),
    };
    const names = Object.keys(gens);
    for (let round = 0; round < 400; round++) {
      const writes: AttemptFields[] = [{ state: 'dialing', family: gens.family!(), number: gens.number!(), cid: 'abcd1234', idx: 7, n: 2 }];
      if (rand() < 0.8) writes[0]!.dialingAt = gens.dialingAt!();
      for (let w = 0; w < 1 + Math.floor(rand() * 4); w++) {
        const f: AttemptFields = {};
        for (const name of names) if (rand() < 0.3) f[name] = gens[name]!();
        writes.push(f);
      }
      // After each commit: what the JSON text read back, or refused to read (a damaged time or number), the compact record does too.
      for (let upTo = 1; upTo <= writes.length; upTo++) {
        const done = writes.slice(0, upTo);
        let before: Omit<StoredAttempt, 'stored' | 'packed'> | Error;
        try {
          before = asBefore(ID, done);
        } catch (err) {
          before = err as Error;
        }
        if (before instanceof Error) {
          expect(() => written(ID, done), JSON.stringify(done)).toThrow(/record is damaged/);
          break;
        }
        const { a } = written(ID, done);
        expect(withoutStored(a), JSON.stringify(done)).toEqual(before);
        const text = Object.fromEntries(Object.entries({ cid: 'abcd1234', idx: '7', n: '2', ...asTextFields(done) }).filter(([, v]) => v !== ''));
        expect(Object.fromEntries(Object.entries(a.stored).filter(([, v]) => v !== ''))).toEqual(text);
      }
    }
  });

  it('reads base 36 and base64url uuids back as parseInt and Buffer do, by hand', () => {
    const rnd = seeded(7);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rnd() * 2 ** 52) * (i % 2 === 0 ? 1 : -1);
      expect(fromBase36(n.toString(36))).toBe(n);
      const hex = Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
      const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      const packed = pack(SLOT_OF.callUuid!, uuid, null);
      expect(packed).toBe(Buffer.from(hex, 'hex').toString('base64url'));
      expect(unpackText(SLOT_OF.callUuid!, packed, null)).toBe(uuid);
    }
    for (const bad of ['', '-', 'A1', '1.5', 'z z', '--1', '+1']) expect(fromBase36(bad), bad).toBeNaN();
    expect(fromBase36('-0x')).toBe(-33);
  });

  it('refuses to write a state, outcome, family or dial kind it has no code for', () => {
    expect(() => packAttemptFields(null, { state: 'flying' })).toThrow(AttemptStoreError);
    expect(() => packAttemptFields(null, { dialKind: 'maybe' })).toThrow(/dialKind: no code for "maybe"/);
  });

  it('has a code for every state, outcome and family of the domain, each code once', () => {
    expect(Object.keys(STATE_CODES).sort()).toEqual([...ATTEMPT_STATES].sort());
    expect(Object.keys(OUTCOME_CODES).sort()).toEqual([...ATTEMPT_OUTCOMES].sort());
    expect(Object.keys(FAMILY_CODES).sort()).toEqual([...PROVIDER_FAMILIES].sort());
    for (const table of [STATE_CODES, OUTCOME_CODES, FAMILY_CODES]) {
      const codes = Object.values(table);
      expect(new Set(codes).size).toBe(codes.length);
      for (const c of codes) expect(c).toMatch(/^[^-|~"]$/);
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
