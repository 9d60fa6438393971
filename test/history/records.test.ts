import { describe, expect, it } from 'vitest';
import { CopyWriter, joinRows } from '../../src/history/copy.js';
import { callbackLine, isoText } from '../../src/history/records.js';

describe('isoText', () => {
  it('writes what Date#toISOString writes, whatever order the times come in', () => {
    const iso = isoText;
    const base = Date.UTC(2026, 11, 6, 18, 59, 59, 990);
    const times = [base, base + 9, base + 10, base + 1, base - 1000, base + 999, 0, 1, 99, 100, 951_782_400_000, 253_402_300_799_999];
    for (let i = 0; i < 2000; i++) times.push(base + Math.floor((i * 7919) % 5000) - 2500);
    for (const t of times) expect(iso(t), String(t)).toBe(new Date(t).toISOString());
  });

  it('leaves what has no fixed-width form to Date: before 1970 (as written), after 9999, fractions; null when not a time', () => {
    const iso = isoText;
    for (const t of [-1, -86_400_001, 253_402_300_800_000, 1.5, base()]) expect(iso(t)).toBe(new Date(t).toISOString());
    expect(iso(null)).toBeNull();
    expect(iso(Number.NaN)).toBeNull();
    expect(iso(Number.POSITIVE_INFINITY)).toBeNull();
  });
});

const base = () => Date.UTC(2030, 0, 1, 0, 0, 0, 5);

describe('CopyWriter', () => {
  it('keeps bytes between text and counts lines', () => {
    const w = new CopyWriter();
    w.line('a\t1\n');
    w.lineWithBytes('b\t', Buffer.from('{"x":"\u00e9"}'), '\t2\n');
    w.line('c\t3\n');
    const rows = w.end();
    expect(rows.rows).toBe(3);
    expect(Buffer.concat(rows.data).toString()).toBe('a\t1\nb\t{"x":"\u00e9"}\t2\nc\t3\n');
    expect(w.end()).toEqual({ data: [], rows: 0 });
    expect(joinRows([rows, rows]).rows).toBe(6);
  });

  it('a callback body given as bytes is escaped as text would be', () => {
    const cb = { id: '1-0', kind: 'sipcall-cdr', receivedAt: 0, remoteIp: '127.0.0.1', contentType: 'application/json', settlement: null };
    const body = 'tab\there\\ and\nnewline';
    expect(callbackLine({ ...cb, body: Buffer.from(body) }).toString()).toBe(callbackLine({ ...cb, body }).toString());
    expect(callbackLine({ ...cb, body }).toString()).toContain('tab\\there\\\\ and\\nnewline');
  });
});
