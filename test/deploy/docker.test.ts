/**
 * There is no Docker engine where the tests run: these tests read the
 * Dockerfile and compose.yaml and hold them to what the project needs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const compose = readFileSync('compose.yaml', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string>; engines: { node: string } };

const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

/** The body of a top-level compose service (indentation-based, enough for this file). */
function service(name: string): string {
  const m = new RegExp(`^  ${name}:\\n((?:    .*\\n|\\n)+)`, 'm').exec(compose);
  if (!m) throw new Error(`compose.yaml has no service ${name}`);
  return m[1]!;
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

  it('runs as a non-root user with a health check on /healthz', () => {
    const user = instructions.filter((l) => l.startsWith('USER '));
    expect(user.at(-1)).toBe('USER node');
    const hc = instructions.find((l) => l.startsWith('HEALTHCHECK'));
    expect(hc).toMatch(/\/healthz/);
    expect(readFileSync('src/http/app.ts', 'utf8')).toMatch(/app\.get\('\/healthz'/);
  });

  it('copies only files that exist, and starts the CLI', () => {
    for (const l of instructions.filter((x) => x.startsWith('COPY ') && !x.includes('--from'))) {
      const parts = l.split(/\s+/).slice(1, -1);
      for (const p of parts) expect(existsSync(p), `${p} in "${l}"`).toBe(true);
    }
    expect(instructions).toContain('ENTRYPOINT ["node", "bin/autodialer.js"]');
    expect(instructions).toContain('CMD ["start"]');
  });
});

describe('compose.yaml', () => {
  it('runs Redis with AOF and noeviction', () => {
    const redis = service('redis');
    expect(redis).toMatch(/image: redis:7/);
    expect(redis).toMatch(/"--appendonly", "yes"/);
    expect(redis).toMatch(/"--maxmemory-policy", "noeviction"/);
  });

  it('runs the dialer against Redis and the simulator with the contract variable names', () => {
    const app = service('autodialer');
    expect(app).toMatch(/condition: service_healthy/);
    for (const name of ['REDIS_URL', 'AUTODIALER_HTTP_PORT', 'AUTODIALER_PUBLIC_URL', 'AUTODIALER_CALLBACK_SECRET', 'SIPCALL_API_URL', 'SIPCALL_TOKEN', 'SIPCALL_TIMEZONE', 'PBX_BASE_URL', 'PBX_API_KEY', 'PBX_USERNAME', 'PBX_PASSWORD']) {
      expect(app).toMatch(new RegExp(`^      ${name}:`, 'm'));
      expect(readFileSync('src/config.ts', 'utf8')).toContain(`'${name}'`);
    }
    expect(app).toMatch(/SIPCALL_API_URL: http:\/\/simulator:8090/);
    const sim = service('simulator');
    expect(sim).toMatch(/"simulate"/);
    expect(sim).toMatch(/"--callback-url", "http:\/\/autodialer:8080"/);
    // The simulator's default credentials are the ones compose gives the dialer.
    expect(app).toMatch(/SIPCALL_TOKEN: \$\{SIPCALL_TOKEN:-0123456789abcdef0123456789abcdef\}/);
    expect(readFileSync('src/simulator/options.ts', 'utf8')).toContain("DEFAULT_TOKEN = '0123456789abcdef0123456789abcdef'");
  });
});

describe('package', () => {
  it('declares its binary, engines and the pinned versions that run on Node 20', () => {
    expect(pkg.engines.node).toBe('>=20.19.0');
    expect(pkg.dependencies.bullmq).toMatch(/^6\.7\./);
    expect(pkg.dependencies.ioredis).toMatch(/^5\.11\./);
    expect(pkg.dependencies.undici).toMatch(/^7\./);
    expect(pkg.dependencies.commander).toMatch(/^14\./);
  });
});
