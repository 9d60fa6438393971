/**
 * The image's health check (docker/healthcheck.js) as Docker runs it, given
 * the command line of the container's first process: a server must answer
 * /healthz, the simulator /_sim/stats, and a worker-only container, which
 * has no HTTP port, is healthy while it runs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

const dir = mkdtempSync(join(tmpdir(), 'adtest-healthcheck-'));
let healthz: Server;
let healthzPort: number;
let closedPort: number;
let sim: Simulator;

const listen = (s: Server) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));

beforeAll(async () => {
  // A server that answers /healthz only.
  healthz = createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? 200 : 404;
    res.end();
  });
  healthzPort = await listen(healthz);
  const spare = createServer();
  closedPort = await listen(spare);
  await new Promise((r) => spare.close(r));
  sim = await startSimulator({ port: 0 });
});

afterAll(async () => {
  await new Promise((r) => healthz.close(r));
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the check for a process started as `argv`, with `env`; resolves with its exit code. */
async function check(argv: string[], env: Record<string, string> = {}): Promise<number> {
  const file = join(dir, `cmdline-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `${argv.join('\0')}\0`);
  return new Promise((resolve) => {
    execFile(process.execPath, ['docker/healthcheck.js', file], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err) => {
      resolve(err ? (typeof err.code === 'number' ? err.code : 99) : 0);
    });
  });
}

const cli = ['node', 'bin/autodialer.js'];

describe('the image health check', () => {
  it('asks a server (start, server) for /healthz on its port', async () => {
    for (const role of ['start', 'server']) {
      expect(await check([...cli, role], { AUTODIALER_HTTP_PORT: String(healthzPort) }), role).toBe(0);
      expect(await check([...cli, role], { AUTODIALER_HTTP_PORT: String(closedPort) }), `${role}, nothing listening`).toBe(1);
    }
    // Under docker run --init the dialer is not the first process's program, but it is still found.
    expect(await check(['/sbin/docker-init', '--', ...cli, 'server'], { AUTODIALER_HTTP_PORT: String(closedPort) })).toBe(1);
  });

  it('takes a worker-only container as healthy while it runs: it has no HTTP port', async () => {
    for (const role of ['worker', 'correlator', 'archiver']) expect(await check([...cli, role], { AUTODIALER_HTTP_PORT: String(closedPort) }), role).toBe(0);
  });

  it('asks the simulator for its stats on its --port', async () => {
    const port = new URL(sim.url).port;
    expect(await check([...cli, 'simulate', '--host=0.0.0.0', `--port=${port}`])).toBe(0);
    expect(await check([...cli, 'simulate', '--port', port])).toBe(0);
    expect(await check([...cli, 'simulate', `--port=${closedPort}`])).toBe(1);
  });

  it('says so when it cannot read the command line', async () => {
    const code = await new Promise<number>((resolve) => {
      execFile(process.execPath, ['docker/healthcheck.js', join(dir, 'missing')], (err) => resolve(err ? Number(err.code) : 0));
    });
    expect(code).toBe(1);
  });
});
