/**
 * Settling stored callbacks on real Redis: results recorded, counters moved
 * (an earlier settlement undone), entries out of the pending set, in one
 * step; and nothing written back under a campaign deleted between the
 * interpretation and the settlement.
 */
import { describe, expect, it } from 'vitest';
import { makeCallbackLog } from '../../src/store/callback-log.js';
import { redisKeySets } from '../support/redis.js';

describe('callback log settlement', () => {
  const { redis: r, fresh } = redisKeySets();

  const raw = (n: number) => ({ kind: 'sipcall-cdr' as const, receivedAt: Date.now(), remoteIp: '127.0.0.1', contentType: 'application/json', body: `{"n":${n}}` });

  it('records, counts per campaign and overall, and undoes a replaced settlement, for a batch of several campaigns', async () => {
    const k = fresh('cb-settle');
    const log = makeCallbackLog({ redis: r(), keys: k });
    await r().zadd(k.campaigns, 1, 'aaaaaaaa', 2, 'bbbbbbbb');
    const ids = await Promise.all([1, 2, 3, 4].map((n) => log.append(raw(n))));
    await log.settle([
      { settlement: { id: ids[0]!, counter: 'correlated', kind: 'final', attemptId: 'aaaaaaaa-0-1', campaignId: 'aaaaaaaa' } },
      { settlement: { id: ids[1]!, counter: 'correlated', kind: 'final', attemptId: 'aaaaaaaa-1-1', campaignId: 'aaaaaaaa' } },
      { settlement: { id: ids[2]!, counter: 'duplicate', kind: 'duplicate', attemptId: 'bbbbbbbb-0-1', campaignId: 'bbbbbbbb' } },
      { settlement: { id: ids[3]!, counter: 'orphan', kind: 'orphan', attemptId: null, campaignId: null } },
    ]);
    expect(await log.pendingCount()).toBe(0);
    expect(await log.counters('aaaaaaaa')).toMatchObject({ correlated: 2 });
    expect(await log.counters('bbbbbbbb')).toMatchObject({ duplicate: 1 });
    expect(await log.counters(null)).toMatchObject({ received: 4, correlated: 2, duplicate: 1, orphan: 1 });
    expect(await log.results([ids[2]!])).toEqual([{ counter: 'duplicate', kind: 'duplicate', attemptId: 'bbbbbbbb-0-1', campaignId: 'bbbbbbbb' }]);

    // The orphan adopted by campaign b: moved from orphan to correlated, overall and for b.
    await log.settle([
      {
        settlement: { id: ids[3]!, counter: 'correlated', kind: 'final', attemptId: 'bbbbbbbb-1-1', campaignId: 'bbbbbbbb' },
        replacing: { counter: 'orphan', kind: 'orphan', attemptId: null, campaignId: null },
      },
    ]);
    expect(await log.counters(null)).toMatchObject({ correlated: 3, orphan: 0 });
    expect(await log.counters('bbbbbbbb')).toMatchObject({ correlated: 1, duplicate: 1 });
  });

  it('writes no counters under a campaign deleted before the settlement, and still records and counts the entry overall', async () => {
    const k = fresh('cb-settle-deleted');
    const log = makeCallbackLog({ redis: r(), keys: k });
    await r().zadd(k.campaigns, 1, 'keptcamp');
    const [gone, kept] = await Promise.all([log.append(raw(1)), log.append(raw(2))]);
    // 'gonecamp' is not listed: deleted (unlisted first, then its keys) after its callback was interpreted.
    await log.settle([
      { settlement: { id: gone, counter: 'duplicate', kind: 'duplicate', attemptId: 'gonecamp-0-1', campaignId: 'gonecamp' } },
      { settlement: { id: kept, counter: 'correlated', kind: 'final', attemptId: 'keptcamp-0-1', campaignId: 'keptcamp' } },
    ]);
    expect(await r().exists(k.callbackCounts('gonecamp'))).toBe(0);
    expect(await log.counters('keptcamp')).toMatchObject({ correlated: 1 });
    expect(await log.counters(null)).toMatchObject({ received: 2, duplicate: 1, correlated: 1 });
    expect((await log.results([gone]))[0]?.campaignId).toBe('gonecamp');
    expect(await log.pendingCount()).toBe(0);
  });
});
