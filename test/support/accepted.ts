/**
 * Every contact of a campaign dialed on paper: taken, its attempt begun and
 * accepted through the attempt service itself (no dial worker, no HTTP), so
 * that a campaign of many contacts with live attempts is quick to make for
 * the tests and benchmarks that need one.
 */
import pLimit from 'p-limit';
import type { Container } from '../../src/app/container.js';
import type { TakenContact } from '../../src/store/contacts.js';

/** Takes every due contact, begins and accepts its attempt (128 at a time), then runs `then` for it. */
export async function acceptEvery(c: Container, cid: string, then: (t: TakenContact, attemptId: string) => Promise<void> = async () => undefined): Promise<void> {
  const campaign = await c.cache.get(cid);
  if (!campaign) throw new Error(`campaign ${cid} vanished`);
  const limit = pLimit(128);
  for (;;) {
    const taken = await c.contacts.takeDue(cid, Date.now(), 5000);
    if (taken.length === 0) break;
    await Promise.all(
      taken.map((t) =>
        limit(async () => {
          const begun = await c.service.begin(campaign, t.idx, t.attempt, t.row.d ?? '');
          if (begun.result !== 'began') throw new Error(`attempt ${begun.id} not begun: ${begun.result}`);
          await c.service.dialResult(begun.id, 'sipcall', { kind: 'accepted', providerCallId: null, detail: 'accepted on paper' });
          await then(t, begun.id);
        }),
      ),
    );
  }
}
