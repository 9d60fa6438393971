/**
 * `npm run demo`: a whole PlayVoice campaign of fixtures/contacts.csv against
 * the provider simulator, in one process: HTTP server (callbacks), workers,
 * simulator. Ends with a summary table and the path of the results export.
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig, ConfigError } from '../src/config.js';
import { createContainer } from '../src/app/container.js';
import { createLogger } from '../src/infra/logger.js';
import { RedisUnavailableError } from '../src/infra/redis.js';
import { dashboardAddress } from '../src/http/api-token.js';
import { startSimulator, DEFAULT_TOKEN } from '../src/simulator/index.js';
import { createSipcallAdapter } from '../src/providers/index.js';
import type { ProviderAdapter } from '../src/providers/types.js';
import type { ProviderFamily } from '../src/domain/types.js';
import { exportResults } from '../src/reports/export.js';
import { formatStatus } from '../src/cli/campaign.js';

const root = resolve(import.meta.dirname, '..');
const list = join(root, 'fixtures', 'contacts.csv');
const definitionFile = join(root, 'jobs', 'demo-playvoice.json');
const outDir = join(root, 'out');

async function main(): Promise<void> {
  const secret = process.env.AUTODIALER_CALLBACK_SECRET ?? 'demo-callback-secret-0123456789';
  // The API (and the dashboard's data) need a token: the demo's own, unless one is given.
  const apiToken = process.env.AUTODIALER_API_TOKEN ?? 'demo-api-token-0123456789abcdef';
  const config = loadConfig({
    AUTODIALER_PREFIX: 'autodialer-demo',
    SIPCALL_API_URL: 'http://127.0.0.1:1',
    SIPCALL_TOKEN: DEFAULT_TOKEN,
    SIPCALL_TIMEZONE: 'Asia/Shanghai',
    LOG_LEVEL: 'warn',
    ...process.env,
    AUTODIALER_CALLBACK_SECRET: secret,
    AUTODIALER_API_TOKEN: apiToken,
  });
  const providers = new Map<ProviderFamily, ProviderAdapter>();
  const c = await createContainer(config, { log: createLogger({ level: config.logLevel }), providers });
  const app = await c.startServer({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const publicUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const sim = await startSimulator({
    callbackUrl: publicUrl,
    callbackSecret: secret,
    token: config.providers.sipcall?.token ?? DEFAULT_TOKEN,
    seed: 2026,
    mix: { answered: 40, answered_key: 20, no_answer: 20, busy: 12, failed: 8 },
    duplicateCdrRate: 0.05,
    outOfOrderRate: 0.1,
    lostCdrRate: 0.03,
    timeScale: 0.002,
    cpsCap: 10,
  });
  providers.set('sipcall', createSipcallAdapter({ ...config.providers.sipcall!, apiUrl: sim.url }));
  c.startWorker({ feedEveryMs: 100, sweepEveryMs: 200 });
  process.stdout.write(`simulator on ${sim.url}, callbacks received on ${publicUrl}\n`);
  process.stdout.write(`dashboard while it runs: ${dashboardAddress(publicUrl, apiToken.split(',')[0]!.trim())}\n`);

  // A demo stopped midway left its campaign under the demo's prefix, still running: cancelled now, so that this run dials only its own.
  for (const old of await c.campaigns.list()) {
    const record = await c.campaigns.get(old);
    if (record && (record.state === 'running' || record.state === 'paused')) {
      await c.control.cancel(old);
      process.stdout.write(`campaign ${old}, left ${record.state} by an earlier demo that was stopped, is cancelled\n`);
    }
  }

  const raw = JSON.parse(readFileSync(definitionFile, 'utf8')) as unknown;
  const def = c.definition(raw);
  const { id, summary } = await c.createCampaign(def, createReadStream(list), 'contacts.csv');
  process.stdout.write(
    `campaign ${id}: ${summary.rowsRead} rows read, ${summary.added} to dial, ${summary.invalid} invalid, ${summary.duplicate} duplicate\n`,
  );
  const done = c.events.waitFor('campaign:completed', (e) => e.campaignId === id, 300_000);
  let last = '';
  const ticker = setInterval(() => {
    void c.status(id).then((s) => {
      if (!s) return;
      const line = `  ${s.final}/${s.total} final, ${s.inFlight} in flight, answered ${s.counts.answered}`;
      if (line !== last) process.stdout.write(`${line}\n`);
      last = line;
    });
  }, 1000);
  if ((await c.campaigns.get(id))?.state !== 'completed') await done;
  clearInterval(ticker);
  await sim.whenIdle();

  const status = await c.status(id);
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `demo-${id}-results.csv`);
  await pipeline(Readable.from(exportResults(c, id, 'csv')), createWriteStream(out));
  const stats = sim.stats();
  process.stdout.write(`\n${status ? formatStatus(status) : ''}`);
  process.stdout.write(
    `simulator: ${stats.requestsTotal} requests, ${stats.callsPlaced} calls placed, ${stats.callbacksPosted} callbacks posted, max ${stats.maxInAnySecond} requests in any second (cap ${stats.cpsCap}), ${stats.cpsViolations} cap violations\n`,
  );
  process.stdout.write(`results: ${out}\n`);
  await c.close(1000);
  await sim.close();
}

const HELP = `usage: npm run demo

Runs a whole PlayVoice campaign of fixtures/contacts.csv (definition
jobs/demo-playvoice.json) against the provider simulator, in one process: the
HTTP server that receives the callbacks, the workers and the simulator, on
free loopback ports. Prints the campaign's status while it runs, then a
summary and the path of the results export (under out/).

Needs Redis (REDIS_URL, default redis://127.0.0.1:6379). The environment the
configuration reads applies (docs/operations.md); the demo's own callback
secret and API token are used unless AUTODIALER_CALLBACK_SECRET and
AUTODIALER_API_TOKEN are set.
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) process.stdout.write(HELP);
else if (args.length > 0) {
  process.stderr.write(`demo: takes no arguments, got ${args.join(' ')}\n\n${HELP}`);
  process.exitCode = 2;
} else main().catch((err: unknown) => {
  if (err instanceof RedisUnavailableError || err instanceof ConfigError) {
    process.stderr.write(`demo: ${err.message}\n`);
  } else {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exitCode = 1;
});
