import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { exportRejects, rejectReason } from '../../src/reports/rejects.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/shared.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from '../support/redis.js';

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(l);
  return out;
}

describe('rejects report', () => {
  const prefix = testPrefix('import-rejects');
  const env = {
    REDIS_URL,
    AUTODIALER_PREFIX: prefix,
    SIPCALL_API_URL: 'http://127.0.0.1:1',
    SIPCALL_TOKEN: '0123456789abcdef0123456789abcdef',
    LOG_LEVEL: 'silent',
  };
  let redis: Redis;
  let c: Container;
  let id: string;
  const dir = mkdtempSync(join(tmpdir(), 'autodialer-rejects-'));

  beforeAll(async () => {
    redis = connectRedis();
    c = await createContainer(loadConfig(env, null), { redis, providers: new Map(), log: createLogger({ level: 'silent' }) });
    await c.dnc.add('optout', ['13700000005']);
    const def = c.definition({
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'http://example.invalid/a.mp3', chengshudu: '1', userid: '1@extGroup-1' },
      dnc: ['optout'],
      window: { starts: '2099-01-01T00:00:00Z' },
    });
    const csv = [
      'phone,name,status',
      '13700000001,Ann,gold',
      '13700000001,Ann twin,silver',
      ',Nobody,bronze',
      '137-abc,Typo,gold,extra cell',
      '13700000005,Opted out,gold',
      '13700000006,Fine,gold',
    ].join('\r\n');
    ({ id } = await c.createCampaign(def, Readable.from([Buffer.from(csv)]), 'members.csv'));
  });
  afterAll(async () => {
    await c?.close(0);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists each row not dialed with its line, status and reason, then its columns (a clashing name gets a prefix)', async () => {
    const csv = await collect(exportRejects(c, id, 'csv'));
    expect(csv).toEqual([
      'line,reject_status,reason,phone,name,status\n',
      '3,duplicate,same number as line 2,13700000001,Ann twin,silver\n',
      '4,invalid,"the phone column ""phone"" is empty",,Nobody,bronze\n',
      expect.stringMatching(/^5,invalid,"""137-abc"" in column ""phone"" [^\n]*",137-abc,Typo,gold,extra cell\n$/) as unknown as string,
      '6,dnc,number is on a do-not-call list,13700000005,Opted out,gold\n',
    ]);
    const jsonl = (await collect(exportRejects(c, id, 'jsonl'))).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(jsonl.map((r) => [r.line, r.reject_status])).toEqual([
      [3, 'duplicate'],
      [4, 'invalid'],
      [5, 'invalid'],
      [6, 'dnc'],
    ]);
    expect(jsonl[2]).toMatchObject({ phone: '137-abc', name: 'Typo', status: 'gold', _extra: ['extra cell'] });
  });

  it('strips only the reader\'s line prefix from a reason', () => {
    expect(rejectReason('line 12: the phone column "tel" is empty')).toBe('the phone column "tel" is empty');
    expect(rejectReason('same number as line 2')).toBe('same number as line 2');
    expect(rejectReason(undefined)).toBe('');
  });

  it('is written by "autodialer campaign rejects" to standard output or a file', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), env, isTty: false };
    expect(await main(['node', 'autodialer', 'campaign', 'rejects', id, '--format', 'jsonl'], io)).toBe(0);
    expect(out.join('').trim().split('\n')).toHaveLength(4);

    const file = join(dir, 'rejects.csv');
    expect(await main(['node', 'autodialer', 'campaign', 'rejects', id, '--out', file], io)).toBe(0);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe('line,reject_status,reason,phone,name,status');
    expect(err.join('')).toMatch(/4 rejected rows written to /);

    expect(await main(['node', 'autodialer', 'campaign', 'rejects', id, '--format', 'xml'], io)).toBe(2);
    expect(err.join('')).toMatch(/--format must be csv or jsonl, got xml/);
    expect(await main(['node', 'autodialer', 'campaign', 'rejects', 'zzzzzzzz'], io)).toBe(2);
    expect(err.join('')).toMatch(/no campaign with id zzzzzzzz/);
  });
});
