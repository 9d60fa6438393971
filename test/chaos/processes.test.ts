/**
 * The chaos run's processes: a redis-server of its own keeps what it
 * acknowledged across a kill -9 and a clean shutdown (AOF, fsync every
 * second: the write reaches the file before the answer leaves); a child
 * says when it is ready, or fails to; nothing is left running.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { alive, freePort, startRedisServer, stopChild, Supervisor } from '../../src/chaos/processes.js';

describe('chaos run processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-proc-'));
  const sup = new Supervisor(dir);
  afterAll(async () => {
    await sup.stopAll(5000);
    // A redis-server just stopped may still be closing its files there.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('a redis-server of its own keeps every acknowledged write across kill -9 and a clean shutdown', async () => {
    const port = await freePort();
    const redisDir = mkdtempSync(join(dir, 'redis-'));
    const connect = () => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    let server = await startRedisServer(sup, { port, dir: redisDir });
    let r = connect();
    await r.connect();
    // Acknowledged just before the kill.
    for (let i = 0; i < 500; i++) await r.set(`k${i}`, String(i));
    r.on('error', () => undefined);
    server.signal('SIGKILL');
    expect((await server.exited).signal).toBe('SIGKILL');
    r.disconnect();

    server = await startRedisServer(sup, { port, dir: redisDir });
    r = connect();
    await r.connect();
    expect(await r.dbsize()).toBe(500);
    expect(await r.get('k499')).toBe('499');
    await r.set('after', 'kill');
    r.disconnect();
    expect(await stopChild(server, 5000)).toEqual({ code: 0, signal: null });

    server = await startRedisServer(sup, { port, dir: redisDir });
    r = connect();
    await r.connect();
    expect(await r.get('after')).toBe('kill');
    r.disconnect();
    await stopChild(server, 5000);
  }, 60_000);

  it('tells when a child is ready, keeps its output in its log file, and counts its error lines', async () => {
    const child = sup.spawn({
      name: sup.nextName('echo'),
      command: process.execPath,
      args: ['-e', 'console.error(JSON.stringify({level:50,msg:"boom"})); console.error("ready now"); setTimeout(() => {}, 60000)'],
      env: { PATH: process.env.PATH ?? '' },
      ready: /ready now/,
    });
    await child.ready;
    expect(child.running()).toBe(true);
    expect(child.errorLines()).toBe(1);
    await stopChild(child, 2000);
    expect(alive(child.pid)).toBe(false);
    expect(readFileSync(join(dir, `${child.name}.log`), 'utf8')).toContain('ready now');

    const failing = sup.spawn({ name: sup.nextName('fails'), command: process.execPath, args: ['-e', 'process.exit(3)'], env: {}, ready: /never/ });
    await expect(failing.ready).rejects.toThrow(/exited before it was ready \(code 3/);
  });

  it('stops every process it started, by PID', async () => {
    const children = [1, 2, 3].map(() => sup.spawn({ name: sup.nextName('sleeper'), command: process.execPath, args: ['-e', 'setTimeout(() => {}, 60000)'], env: {} }));
    expect(children.every((c) => alive(c.pid))).toBe(true);
    expect(await sup.stopAll(2000)).toEqual([]);
    expect(children.some((c) => alive(c.pid))).toBe(false);
  });
});
