import { describe, expect, it } from 'vitest';
import { checkPhone } from '../../src/ingest/index.js';
import type { PhoneRules } from '../../src/ingest/index.js';
import { contacts, readAll, rejects } from './helpers.js';

const rules = (over: Partial<PhoneRules> = {}): PhoneRules => ({ region: 'CN', numberFormat: 'e164', allowExtensions: false, ...over });
const ok = (raw: string, r: PhoneRules) => {
  const c = checkPhone(raw, r);
  if (!c.ok) throw new Error(`expected ${raw} to pass: ${c.problem}`);
  return c.phone;
};
const problem = (raw: string, r: PhoneRules) => {
  const c = checkPhone(raw, r);
  if (c.ok) throw new Error(`expected ${raw} to fail, got ${c.phone.e164}`);
  return c.problem;
};

describe('region CN', () => {
  it('keys every way of writing one number to the same E.164', () => {
    for (const raw of ['13333333333', '133 3333 3333', '133-3333-3333', '(133) 3333.3333', '+86 133 3333 3333', '+8613333333333', '0086 133 3333 3333', "'13333333333", '１３３３３３３３３３３', ' 13333333333 ', '13333333333.0']) {
      expect(ok(raw, rules()).e164, raw).toBe('+8613333333333');
    }
  });

  it('dials in the requested format', () => {
    expect(ok('133 3333 3333', rules({ numberFormat: 'e164' })).dial).toBe('+8613333333333');
    expect(ok('+86 133 3333 3333', rules({ numberFormat: 'national' })).dial).toBe('13333333333');
    expect(ok('+86 10 1234 5678', rules({ numberFormat: 'national' })).dial).toBe('01012345678');
    expect(ok(' 133-3333-3333 ', rules({ numberFormat: 'as_written' })).dial).toBe('133-3333-3333');
  });

  it('dials a number of another country, in national format, as from the region', () => {
    const p = ok('+98 912 123 4567', rules({ numberFormat: 'national' }));
    expect(p).toEqual({ e164: '+989121234567', dial: '00989121234567' });
  });

  it('says what is wrong', () => {
    expect(problem('123', rules())).toBe('is too short for region CN');
    expect(problem('133333333333333333', rules())).toBe('is too long for region CN');
    expect(problem('12012345678', rules())).toBe('is not a valid number for region CN');
    expect(problem('call me', rules())).toMatch(/^is not a phone number/);
    expect(problem('  ', rules())).toBe('has no digits');
    expect(problem('1.3333333333E+10', rules())).toMatch(/^is in scientific notation/);
    expect(problem('+999 1234 5678', rules())).toBe('has an unknown country code');
  });
});

describe('region IR', () => {
  it('reads Iranian mobiles, with Persian or Arabic-Indic digits too', () => {
    for (const raw of ['09121234567', '0912 123 4567', '+98 912 123 4567', '۰۹۱۲۱۲۳۴۵۶۷', '٠٩١٢١٢٣٤٥٦٧', '\u200e0912-123-4567']) {
      expect(ok(raw, rules({ region: 'IR', numberFormat: 'national' })), raw).toEqual({ e164: '+989121234567', dial: '09121234567' });
    }
  });

  it('rejects a number cut short, naming the region', () => {
    expect(problem('0912', rules({ region: 'IR' }))).toMatch(/for region IR$/);
  });
});

describe('extensions', () => {
  it('takes 2 to 6 bare digits as an extension when allowed', () => {
    expect(ok('557', rules({ region: 'IR', allowExtensions: true }))).toEqual({ e164: 'ext:557', dial: '557' });
    expect(ok('12', rules({ allowExtensions: true }))).toEqual({ e164: 'ext:12', dial: '12' });
    expect(ok('123456', rules({ region: null, allowExtensions: true }))).toEqual({ e164: 'ext:123456', dial: '123456' });
  });

  it('refuses them when not allowed, and never takes a + number or 7 digits as one', () => {
    expect(problem('557', rules({ region: 'IR' }))).toMatch(/too short/);
    expect(problem('1234567', rules({ allowExtensions: true }))).not.toBe('');
    expect(ok('+8613333333333', rules({ allowExtensions: true })).e164).toBe('+8613333333333');
    expect(problem('1', rules({ region: null, allowExtensions: true }))).toMatch(/too short/);
  });
});

describe('loose check (no region)', () => {
  const loose = rules({ region: null });
  it('keys on the digits, keeps a written +, dials as written', () => {
    expect(ok('133-3333-3333', loose)).toEqual({ e164: '13333333333', dial: '133-3333-3333' });
    expect(ok('+86 (133) 3333 3333', loose)).toEqual({ e164: '+8613333333333', dial: '+86 (133) 3333 3333' });
    expect(ok('557', loose)).toEqual({ e164: '557', dial: '557' });
  });

  it('wants 3 to 15 digits and nothing but separators', () => {
    expect(problem('12', loose)).toBe('is too short (3 digits at least)');
    expect(problem('1234567890123456', loose)).toBe('is too long (15 digits at most)');
    expect(problem('12a45', loose)).toMatch(/^is not a phone number/);
    expect(problem('++123', loose)).toMatch(/^is not a phone number/);
  });
});

describe('number options through the reader', () => {
  const list = 'number,name\n557,front desk\n09121234567,Ali\n+86 133 3333 3333,Wang\n12,short\n';

  it('a pbx list: extensions and Iranian numbers, national', async () => {
    const r = await readAll(list, { region: 'IR', numberFormat: 'national', allowExtensions: true });
    expect(contacts(r)).toEqual([
      { line: 2, e164: 'ext:557', dial: '557' },
      { line: 3, e164: '+989121234567', dial: '09121234567' },
      { line: 4, e164: '+8613333333333', dial: '008613333333333' },
      { line: 5, e164: 'ext:12', dial: '12' },
    ]);
  });

  it('the same list without extensions, E.164', async () => {
    const r = await readAll(list, { region: 'IR', numberFormat: 'e164' });
    expect(contacts(r).map((c) => c.dial)).toEqual(['+989121234567', '+8613333333333']);
    expect(rejects(r)).toEqual([
      { line: 2, reason: 'invalid_phone' },
      { line: 5, reason: 'invalid_phone' },
    ]);
  });

  it('the same list in loose mode, as written', async () => {
    const r = await readAll(list, { region: null, numberFormat: 'as_written' });
    expect(contacts(r).map((c) => [c.e164, c.dial])).toEqual([
      ['557', '557'],
      ['09121234567', '09121234567'],
      ['+8613333333333', '+86 133 3333 3333'],
    ]);
    expect(rejects(r)).toEqual([{ line: 5, reason: 'invalid_phone' }]);
  });
});
