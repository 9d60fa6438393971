/**
 * A long list is imported with a full garbage collection every GC_EVERY
 * records (what keeps the importing process's memory flat), on real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { keys as makeKeys } from '../../src/store/keys.js';
import { dryRunContactList, fullGc, GC_EVERY } from '../../src/campaign/import.js';
import { parseCampaignDefinition } from '../../src/campaign/definition.js';
import { cleanPrefix, connectRedis, testPrefix } from '../support/redis.js';

const definition = parseCampaignDefinition(
  { action: 'playvoice', params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' }, ingest: { region: 'CN' } },
  { timezone: 'Asia/Shanghai', region: null },
);

function list(rows: number): Readable {
  return Readable.from(
    (function* () {
      yield 'phone,name\n';
      let chunk = '';
      for (let i = 0; i < rows; i++) {
        chunk += `138${String(i).padStart(8, '0')},c${i}\n`;
        if (chunk.length > 32 * 1024) {
          yield chunk;
          chunk = '';
        }
      }
      yield chunk;
    })(),
  );
}

describe('full collections during an import', () => {
  const prefix = testPrefix('import-gc');
  let redis: Redis;
  beforeAll(() => {
    redis = connectRedis();
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('come every GC_EVERY records', async () => {
    let collections = 0;
    const rows = 2 * GC_EVERY + 5;
    const summary = await dryRunContactList({ redis, keys: makeKeys(prefix), collectGarbage: () => collections++ }, definition, list(rows), 'long.csv');
    expect(summary.added).toBe(rows);
    expect(collections).toBe(2);
  });

  it("V8's own is callable, and leaves no gc in the contexts made after it", async () => {
    fullGc();
    fullGc();
    const { runInNewContext } = await import('node:vm');
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });
});
