/**
 * Changes to a contact that has no attempt in flight: ending it before it is
 * dialed (cancel, expiry, DNC at dial time) and putting a queued contact back
 * in the due set. The contact's state alone is the compare-and-set token.
 */
import type { AttemptStore } from '../store/attempts.js';
import type { ContactState, ContactStore } from '../store/contacts.js';
import { attemptId } from '../store/ids.js';
import type { DialerEvents } from './events.js';
import { casLoop, RETRY } from './cas.js';

export function makePreDialActions(deps: { attempts: AttemptStore; contacts: ContactStore; events: DialerEvents; now: () => number }) {
  const { attempts, contacts, events, now } = deps;

  /** Ends a contact that has not been dialed (cancel, expiry, DNC at dial time). */
  async function endContact(cid: string, idx: number, status: 'cancelled' | 'expired' | 'dnc', reason: string): Promise<boolean> {
    const t = now();
    return casLoop('endContact', async () => {
      const { raw, state } = await contacts.state(cid, idx);
      if (state.s !== 'pending') return false;
      if (state.ph === 'dialing' || state.ph === 'waiting') return false;
      const next: ContactState = { ...state, s: status, e: reason };
      delete next.ph;
      // Keyed on a pseudo attempt id that never exists: the contact CAS alone guards the change.
      const r = await attempts.commit({
        cuuid: attemptId({ campaignId: cid, contact: idx, attempt: 0 }),
        base: null,
        fields: null,
        contact: { idx, expectedRaw: raw, next, oldStatus: 'pending', newStatus: status },
        dueAt: null,
        deadline: null,
        now: t,
      });
      if (r === 'conflict') return RETRY;
      events.emit('contact:final', { campaignId: cid, contact: idx, status, attemptId: null });
      if (r === 'completed') events.emit('campaign:completed', { campaignId: cid });
      return true;
    });
  }

  /** Puts a queued contact back in the due set without an attempt (paused campaign, closed window). */
  async function requeue(cid: string, idx: number, n: number, at: number): Promise<boolean> {
    return casLoop('requeue', async () => {
      const { raw, state } = await contacts.state(cid, idx);
      if (state.s !== 'pending' || state.n !== n || state.ph !== 'queued') return false;
      const next: ContactState = { ...state, n: n - 1, ph: 'due' };
      const r = await attempts.commit({
        cuuid: attemptId({ campaignId: cid, contact: idx, attempt: 0 }),
        base: null,
        fields: null,
        contact: { idx, expectedRaw: raw, next, oldStatus: 'pending', newStatus: 'pending' },
        dueAt: at,
        deadline: null,
        now: now(),
      });
      return r === 'conflict' ? RETRY : true;
    });
  }

  return { endContact, requeue };
}
