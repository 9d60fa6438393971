import { describe, expect, it } from 'vitest';
import { notSentContact, resultStats } from '../../src/engine/contact-decision.js';
import type { ContactState } from '../../src/store/contacts.js';

const queued: ContactState = { s: 'pending', ph: 'dialing', n: 1, p: 0, a: 'abcdefgh-0-1' };

describe('a request that never reached the provider', () => {
  it('is tried again after a growing back-off, without counting an attempt', () => {
    let state = queued;
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = notSentContact(state, 'not_sent: ECONNREFUSED', 1_000);
      expect(d.status).toBe('pending');
      expect(d.next.p).toBe(0);
      waits.push((d.dueAt ?? 0) - 1_000);
      state = d.next;
    }
    expect(waits).toEqual([2_000, 5_000, 15_000, 30_000, 60_000]);
  });

  it("honours the provider's Retry-After", () => {
    expect(notSentContact(queued, 'transient: 429', 1_000, 7_000).dueAt).toBe(8_000);
  });

  it('ends the contact as failed after eight in a row, with the last reason', () => {
    let d = notSentContact(queued, 'x', 0);
    for (let i = 0; i < 6; i++) d = notSentContact(d.next, 'x', 0);
    expect(d.status).toBe('pending');
    d = notSentContact(d.next, 'not_sent: ECONNREFUSED', 0);
    expect(d.status).toBe('failed');
    expect(d.next.e).toMatch(/8 requests in a row never reached the provider; last: not_sent: ECONNREFUSED/);
    expect(d.next.ph).toBeUndefined();
  });
});

describe('report sums of a result', () => {
  it('count answered calls, talk time and the key pressed', () => {
    const base = { billsec: 12, answeredAt: null, endedAt: null, hangupCause: '16', hangupDirection: null, providerCallId: null };
    expect(resultStats({ ...base, outcome: 'answered', userKey: '1' })).toEqual({ answered: 1, billsec: 12, 'key:1': 1 });
    expect(resultStats({ ...base, outcome: 'answered', userKey: '' })).toEqual({ answered: 1, billsec: 12, 'key:none': 1 });
    expect(resultStats({ ...base, outcome: 'busy', userKey: '' })).toEqual({});
  });
});
