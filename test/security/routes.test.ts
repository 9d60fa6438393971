/**
 * Every HTTP route refuses a request without credentials, read from the
 * server's own route table (so a route added later is walked too): 401
 * without a token or with a wrong one, unless it is one of the few public
 * ones, each public for a stated reason; the callbacks, public to the API
 * token, refuse a request without their secret.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { AUTH, startRig, type Rig } from '../callbacks/support.js';

interface Route {
  method: string;
  path: string;
}

/**
 * The routes of a fastify app from `printRoutes({ commonPrefix: false })`:
 * each line of the tree adds its segment to its parent's path (4 columns a level).
 */
function routeTable(printed: string): Route[] {
  const out: Route[] = [];
  const stack: string[] = [];
  for (const line of printed.split('\n')) {
    const m = /^([│ ]*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join('');
    for (const method of (m[3] ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '')) out.push({ method, path });
  }
  return out;
}

/** The campaign page's files, served as they are. */
const STATIC_FILES = readdirSync(resolve(import.meta.dirname, '../../web'));

/** Public routes, each with why it may answer without the API token. */
const PUBLIC: { pattern: RegExp; why: string }[] = [
  { pattern: /^\/callbacks\/(sipcall\/cdr|sipcall\/status|pbx\/cdr)$/, why: 'provider callbacks: they need the callback secret instead' },
  { pattern: /^\/(healthz|readyz)$/, why: 'health of the process and of Redis, for orchestrators' },
  { pattern: /^\/$/, why: 'the campaign page: a shell without data, which asks for the token' },
  { pattern: new RegExp(`^/(${STATIC_FILES.map((f) => f.replace(/[.]/g, '\\.')).join('|')})$`), why: "the page's static files (web/)" },
  { pattern: /^\/openapi\.json$/, why: 'the API description: no data' },
  { pattern: /^\/docs(\/.*)?$/, why: 'the API reference page and its files: no data' },
  { pattern: /^\/admin\/queues\/(login|logout)$/, why: "the queue board's sign-in form (it takes the token) and sign-out" },
];

const isPublic = (path: string) => PUBLIC.some((p) => p.pattern.test(path));

/** A concrete URL for a route's path: parameters and wildcards filled in. */
function concrete(path: string): string {
  return path
    .replace(/:id\b/g, 'abcd1234')
    .replace(/:queueName\b/g, 'dial-abcd1234')
    .replace(/:[A-Za-z]+/g, 'x')
    .replace(/\*/g, 'x');
}

describe('every HTTP route needs credentials', () => {
  let rig: Rig;
  let routes: Route[];

  beforeAll(async () => {
    rig = await startRig('sec-routes', { LOG_LEVEL: 'silent' });
    routes = routeTable(rig.app.printRoutes({ commonPrefix: false }));
  });
  afterAll(async () => rig?.close());

  async function send(r: Route, headers: Record<string, string>): Promise<number> {
    const res = await request(`${rig.url}${concrete(r.path)}`, {
      method: r.method as 'GET',
      // A program, not a browser: the queue board answers 401 rather than its login page.
      headers: { accept: 'application/json', ...headers, ...(r.method === 'GET' || r.method === 'HEAD' ? {} : { 'content-type': 'application/json' }) },
      ...(r.method === 'GET' || r.method === 'HEAD' ? {} : { body: '{}' }),
    });
    await res.body.dump();
    return res.statusCode;
  }

  it('reads the whole route table', () => {
    expect(routes.length).toBeGreaterThan(60);
    for (const path of ['/campaigns', '/campaigns/:id/results', '/metrics', '/admin/queues/api/queues', '/callbacks/sipcall/cdr', '/dashboard/data']) {
      expect(routes.some((r) => r.path === path), path).toBe(true);
    }
    // Every public pattern still names a route (a stale entry would hide nothing, but say something false).
    for (const p of PUBLIC) expect(routes.some((r) => p.pattern.test(r.path)), p.why).toBe(true);
  });

  it('answers 401 to a request without a token, or with a wrong one, on every route but the public ones', async () => {
    const problems: string[] = [];
    for (const r of routes.filter((x) => !isPublic(x.path))) {
      const none = await send(r, {});
      const wrong = await send(r, { authorization: 'Bearer not-the-token-0123456789abcdef' });
      if (none !== 401 || wrong !== 401) problems.push(`${r.method} ${r.path}: ${none} without a token, ${wrong} with a wrong one`);
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('refuses a callback without its secret or with a wrong one, on every callback route', async () => {
    const callbacks = routes.filter((r) => r.path.startsWith('/callbacks/'));
    expect(callbacks.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['POST /callbacks/pbx/cdr', 'POST /callbacks/sipcall/cdr', 'POST /callbacks/sipcall/status']);
    for (const r of callbacks) {
      expect(await send(r, {}), r.path).toBe(401);
      expect(await send(r, { 'x-callback-key': 'wrong-secret-0123456789abcdef' }), r.path).toBe(401);
      // The API token is not the callback secret.
      expect(await send(r, AUTH), r.path).toBe(401);
    }
  });

  it('lets the token through (the requests of this test are well formed)', async () => {
    expect(await send({ method: 'GET', path: '/campaigns' }, AUTH)).toBe(200);
    expect(await send({ method: 'GET', path: '/admin/queues/api/queues' }, AUTH)).toBe(200);
    expect(await send({ method: 'GET', path: '/metrics' }, AUTH)).toBe(200);
  });

  it('parses the printed tree into full paths', () => {
    const printed = ['└── / (HEAD, GET)', '    ├── campaigns (GET, POST)', '    │   ├── /:id (GET)', '    │   │   └── /results (GET)', '    │   └── .js (GET)', '    └── docs', '        └── /json (GET)'].join('\n');
    expect(routeTable(printed)).toEqual([
      { method: 'HEAD', path: '/' },
      { method: 'GET', path: '/' },
      { method: 'GET', path: '/campaigns' },
      { method: 'POST', path: '/campaigns' },
      { method: 'GET', path: '/campaigns/:id' },
      { method: 'GET', path: '/campaigns/:id/results' },
      { method: 'GET', path: '/campaigns.js' },
      { method: 'GET', path: '/docs/json' },
    ]);
  });
});
