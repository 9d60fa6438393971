/**
 * There is no Docker engine where the tests run: these tests read the
 * Dockerfile, .dockerignore and compose.yaml and hold them to the CLI and the
 * configuration: commands that exist, variables the configuration reads,
 * flags the simulator has, a dialer and a simulator that share their
 * credentials whatever .env says, workers that scale, no API open.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { simulatorOptionsFromFlags, type SimulateFlags } from '../../src/cli/simulate.js';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_TOKEN } from '../../src/simulator/options.js';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const composeText = readFileSync('compose.yaml', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string>; engines: { node: string } };

const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

interface Service {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: unknown;
  depends_on?: Record<string, { condition: string }>;
  container_name?: string;
  hostname?: string;
}

/**
 * compose.yaml as Compose reads it with the variables of `env` (a .env):
 * `${VAR:-default}` and `${VAR}` interpolated, merge keys applied.
 */
function compose(env: Record<string, string> = {}): Record<string, Service> {
  const text = composeText.replace(/\$\{([A-Z0-9_]+)(?:(:?)-([^}]*))?\}/g, (_, name: string, colon: string, fallback: string | undefined) => {
    const v = env[name];
    if (fallback === undefined) return v ?? '';
    return v === undefined || (colon === ':' && v === '') ? fallback : v;
  });
  return (parse(text, { merge: true }) as { services: Record<string, Service> }).services;
}

const io = { out: () => undefined, err: () => undefined, env: {}, isTty: false };
const program = buildProgram(io);
const commandNamed = (name: string): Command | undefined => program.commands.find((c) => c.name() === name);

/** The variables the configuration reads: the names config.ts and the per-area readers it imports (notify/env.ts, …) look up. */
const CONFIG_TEXT = readFileSync('src/config.ts', 'utf8');
const AREA_READERS = [...CONFIG_TEXT.matchAll(/from '\.\/([\w/-]*env[\w-]*)\.js'/g)].map((m) => `src/${m[1]}.ts`);
const CONFIG_SOURCES = [CONFIG_TEXT, ...AREA_READERS.map((f) => readFileSync(f, 'utf8'))].join('\n');
const readByConfig = (name: string): boolean => CONFIG_SOURCES.includes(`'${name}'`);

/** The simulator's options, as its command line in compose and its environment give them. */
function simulatorOptions(sim: Service): ReturnType<typeof simulatorOptionsFromFlags> {
  const [name, ...args] = sim.command!;
  const cmd = commandNamed(name!)!;
  const { unknown } = cmd.parseOptions(args);
  expect(unknown, 'flags the simulate command does not know').toEqual([]);
  return simulatorOptionsFromFlags(cmd.opts<SimulateFlags>(), sim.environment ?? {});
}

describe('Dockerfile', () => {
  it('is multi-stage on the current Node LTS image, building with dev dependencies and shipping production ones only', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:26[-\w.]* AS \w+$/);
    const runtime = instructions.slice(instructions.findIndex((l) => l.startsWith('FROM ') && l.includes('AS runtime')));
    expect(runtime.some((l) => /^RUN npm ci --omit=dev\b/.test(l))).toBe(true);
    expect(runtime.some((l) => /^COPY --from=build \/app\/dist \.\/dist$/.test(l))).toBe(true);
    expect(runtime.some((l) => l.startsWith('COPY src'))).toBe(false);
    expect(instructions.some((l) => /^RUN npm run build$/.test(l))).toBe(true);
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
  });

  it('ships the campaign page beside dist/, where the server looks for it', () => {
    expect(instructions).toContain('COPY web ./web');
    expect(existsSync('web/index.html')).toBe(true);
    // dist/http/dashboard.js and src/http/dashboard.ts both look two levels up.
    expect(readFileSync('src/http/dashboard.ts', 'utf8')).toContain("new URL('../../web/', import.meta.url)");
  });

  it('runs as a non-root user, with a health check that knows the role it runs', () => {
    const user = instructions.filter((l) => l.startsWith('USER '));
    expect(user.at(-1)).toBe('USER node');
    const hc = instructions.find((l) => l.startsWith('HEALTHCHECK'));
    expect(hc).toMatch(/CMD \["node", "docker\/healthcheck\.js"\]$/);
    expect(instructions).toContain('COPY docker/healthcheck.js ./docker/healthcheck.js');
    expect(readFileSync('docker/healthcheck.js', 'utf8')).toMatch(/\/healthz/);
    expect(readFileSync('src/http/app.ts', 'utf8')).toMatch(/app\.get\('\/healthz'/);
  });

  it('copies only files that exist and that .dockerignore lets through, and starts the CLI', () => {
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    // Everything left out but what is named: no .env, .git, node_modules, dist or test output reaches the daemon.
    expect(ignore[0]).toBe('*');
    const allowed = ignore.slice(1).map((l) => {
      expect(l.startsWith('!'), l).toBe(true);
      return l.slice(1).replace(/\/$/, '');
    });
    for (const secret of ['.env', '.git', 'node_modules', 'dist', 'test-results', 'out', 'test']) expect(allowed).not.toContain(secret);
    for (const l of instructions.filter((x) => x.startsWith('COPY ') && !x.includes('--from'))) {
      const parts = l.split(/\s+/).slice(1, -1);
      for (const p of parts) {
        expect(existsSync(p), `${p} in "${l}"`).toBe(true);
        expect(allowed, `${p} in "${l}" is left out by .dockerignore`).toContain(p.split('/')[0]);
      }
    }
    expect(instructions).toContain('ENTRYPOINT ["node", "bin/autodialer.js"]');
    expect(instructions).toContain('CMD ["start"]');
  });
});

describe('compose.yaml', () => {
  const services = compose();

  it('runs Redis with AOF, a memory bound and noeviction, and PostgreSQL for the history', () => {
    const redis = services.redis!;
    expect(redis.image).toMatch(/^redis:7/);
    const args = redis.command!.join(' ');
    expect(args).toMatch(/--appendonly yes/);
    expect(args).toMatch(/--maxmemory \d+[kmg]b/);
    expect(args).toMatch(/--maxmemory-policy noeviction/);
    expect(services.postgres!.image).toMatch(/^postgres:15/);
    const pg = services.postgres!.environment!;
    expect(services.server!.environment!.DATABASE_URL).toBe(`postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`);
  });

  it('runs commands the CLI has: one server, workers, the simulator', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build === undefined) continue;
      expect(commandNamed(s.command![0]!), `${name}: autodialer ${s.command![0]}`).toBeDefined();
    }
    expect(services.server!.command).toEqual(['server']);
    expect(services.worker!.command).toEqual(['worker']);
    expect(services.simulator!.command![0]).toBe('simulate');
    for (const name of ['server', 'worker']) expect(services[name]!.depends_on?.redis?.condition).toBe('service_healthy');
  });

  it('lets the workers scale (--scale worker=3): no port, name or host of their own', () => {
    const worker = services.worker!;
    expect(worker.ports).toBeUndefined();
    expect(worker.container_name).toBeUndefined();
    expect(worker.hostname).toBeUndefined();
    // Callbacks go to the server, which the workers interpret (they do not answer HTTP).
    expect(worker.environment!.AUTODIALER_CORRELATE_IN).toBe('worker');
  });

  it('gives the server and the workers only variables the configuration reads', () => {
    for (const name of ['server', 'worker']) {
      const env = services[name]!.environment!;
      for (const key of Object.keys(env)) expect(readByConfig(key), `${name}: ${key} is not read by the configuration`).toBe(true);
      // And the configuration takes them as they are.
      expect(() => loadConfig(env, null)).not.toThrow();
    }
    expect(readByConfig('AUTODIALER_NO_SUCH_VARIABLE')).toBe(false);
    expect(services.server!.environment!.SIPCALL_API_URL).toBe('http://simulator:8090/');
    expect(services.server!.environment!.PBX_BASE_URL).toBe('http://simulator:8090');
    expect(services.simulator!.command).toContain(`--callback-url=${services.server!.environment!.AUTODIALER_PUBLIC_URL}`);
  });

  it('gives the simulator the credentials the dialer sends, its defaults or those of .env', () => {
    const other = { SIPCALL_TOKEN: 'fedcba9876543210fedcba9876543210', PBX_API_KEY: 'k-from-env', PBX_USERNAME: 'u-from-env', PBX_PASSWORD: 'p-from-env', AUTODIALER_CALLBACK_SECRET: 'secret-from-env-0123456789' };
    for (const env of [{}, other]) {
      const s = compose(env);
      for (const role of ['server', 'worker']) {
        const dialer = s[role]!.environment!;
        const sim = simulatorOptions(s.simulator!);
        expect(sim).toMatchObject({ token: dialer.SIPCALL_TOKEN, apiKey: dialer.PBX_API_KEY, username: dialer.PBX_USERNAME, password: dialer.PBX_PASSWORD, callbackSecret: dialer.AUTODIALER_CALLBACK_SECRET });
        // Time zones as the dialer reads the simulator's CDRs.
        expect(sim).toMatchObject({ timezone: dialer.SIPCALL_TIMEZONE, pbxTimezone: dialer.PBX_TIMEZONE });
      }
    }
    expect(compose().server!.environment!.SIPCALL_TOKEN).toBe(DEFAULT_TOKEN);
  });

  it('opens no API to the network without a token', () => {
    const server = services.server!;
    // Published on the host's loopback only.
    expect(server.ports).toEqual(['127.0.0.1:8080:8080']);
    for (const [name, s] of Object.entries(services)) if (name !== 'server') expect(s.ports, name).toBeUndefined();
    // No token in the file: the first start makes one (or .env gives it); callbacks need their key.
    const config = loadConfig(server.environment!, null);
    expect(config.apiTokens).toEqual([]);
    expect(config.callbackAuth).toBe('key');
    expect(config.callbackSecret).not.toBeNull();
    expect(loadConfig(compose({ AUTODIALER_API_TOKEN: 'a-token-from-env-0123456789' }).server!.environment!, null).apiTokens).toEqual(['a-token-from-env-0123456789']);
  });
});

describe('package', () => {
  it('declares its binary, engines and the pinned versions that run on Node 20', () => {
    expect(pkg.engines.node).toBe('>=20.19.0');
    expect(pkg.dependencies.bullmq).toMatch(/^6\.7\./);
    expect(pkg.dependencies.ioredis).toMatch(/^5\.11\./);
    expect(pkg.dependencies.undici).toMatch(/^7\./);
    expect(pkg.dependencies.commander).toMatch(/^14\./);
    // 10.1.4 and later take content-disposition 3, which needs Node 22.
    expect(pkg.dependencies['@fastify/static']).toBe('10.1.3');
  });
});
