/**
 * A whole dialer on real Redis (its own key prefix) against the real
 * simulator: HTTP server on port 0, workers, feeder and sweeper in-process.
 */
import { Readable } from 'node:stream';
import { request } from 'undici';
import { loadConfig, type Config } from '../../src/config.js';
import { createContainer, type Container } from '../../src/app/container.js';
import { createLogger } from '../../src/infra/logger.js';
import { createPbxAdapter, createSipcallAdapter } from '../../src/providers/index.js';
import type { ProviderAdapter } from '../../src/providers/types.js';
import type { ProviderFamily } from '../../src/domain/types.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { cleanPrefix, connectRedis, REDIS_URL, testPrefix } from './redis.js';

export const TOKEN = '0123456789abcdef0123456789abcdef';
export const SECRET = 'test-callback-secret-0123456789';
/** The API token of every harness (the server needs one on every route but callbacks and health). */
export const API_TOKEN = 'test-api-token-0123456789abcdef';
export const AUTH = { authorization: `Bearer ${API_TOKEN}` } as const;

type RequestOptions = NonNullable<Parameters<typeof request>[1]>;

export interface Harness {
  config: Config;
  container: Container;
  sim: Simulator;
  serverUrl: string;
  /** A request to the server's API, with the token. */
  api(path: string, options?: RequestOptions): ReturnType<typeof request>;
  close(): Promise<void>;
}

export async function startHarness(name: string, sim: SimulatorOptions = {}, env: Record<string, string> = {}): Promise<Harness> {
  const prefix = testPrefix(name);
  const config = loadConfig(
    {
      REDIS_URL,
      AUTODIALER_PREFIX: prefix,
      AUTODIALER_CALLBACK_SECRET: SECRET,
      AUTODIALER_API_TOKEN: API_TOKEN,
      SIPCALL_API_URL: 'http://127.0.0.1:1',
      SIPCALL_TOKEN: TOKEN,
      SIPCALL_TIMEZONE: 'Asia/Shanghai',
      PBX_BASE_URL: 'http://127.0.0.1:1',
      PBX_API_KEY: 'sim-api-key',
      PBX_USERNAME: 'sim',
      PBX_PASSWORD: 'sim-password',
      PBX_TIMEZONE: 'Asia/Tehran',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      ...env,
    },
    null,
  );
  const providers = new Map<ProviderFamily, ProviderAdapter>();
  const redis = connectRedis();
  const container = await createContainer(config, { providers, redis, log: createLogger({ level: config.logLevel }), pbxGraceMs: 1000 });
  const app = await container.startServer({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const serverUrl = `http://127.0.0.1:${port}`;
  const simulator = await startSimulator({ callbackUrl: serverUrl, callbackSecret: SECRET, token: TOKEN, ...sim });
  providers.set('sipcall', createSipcallAdapter({ ...config.providers.sipcall!, apiUrl: simulator.url }));
  providers.set('pbx', createPbxAdapter({ ...config.providers.pbx!, baseUrl: simulator.url }));
  return {
    config,
    container,
    sim: simulator,
    serverUrl,
    api: (path, options = {}) => request(`${serverUrl}${path}`, { ...options, headers: { ...AUTH, ...(options.headers as Record<string, string> | undefined) } }),
    async close() {
      await container.close(2000);
      await simulator.close();
      await cleanPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export function csvSource(text: string): Readable {
  return Readable.from([Buffer.from(text, 'utf8')]);
}
