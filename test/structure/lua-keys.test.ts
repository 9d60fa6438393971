/**
 * Every Lua script in src/ is given every key it touches in KEYS: a Redis
 * Cluster routes a script by its declared keys, and nothing stops a script
 * from touching others (they may live on another node, or in a slot that
 * moves). The scripts are found in the sources as they are written (each
 * string literal holding a redis.call or redis.pcall, `${…}` pieces put in)
 * and checked by lua-key-check.ts; which arguments of a command are keys
 * comes from this Redis (COMMAND), so no list of commands is kept here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { checkScriptKeys, type KeySpec } from './lua-key-check.js';
import { connectRedis } from '../support/redis.js';

const ROOT = resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Literal {
  file: string;
  /** The constant it is assigned to (`const NAME = \`…\``), if any. */
  name: string | null;
  line: number;
  /** Its text as written, `${…}` pieces still in. */
  raw: string;
}

/**
 * The string literals of a TypeScript file (quoted and template), and its
 * text with comments and literals blanked out (what is left is code).
 */
function scan(file: string): { literals: Literal[]; code: string } {
  const src = readFileSync(file, 'utf8');
  const literals: Literal[] = [];
  let code = '';
  let i = 0;
  const lineAt = (at: number): number => src.slice(0, at).split('\n').length;
  const nameBefore = (at: number): string | null => /(?:const|let)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*$/.exec(src.slice(Math.max(0, at - 200), at))?.[1] ?? null;
  // A slash opens a regular expression where an operand is expected.
  const regexCanStart = (): boolean => /(^|[=(,:[!&|?{};]|\breturn)\s*$/.test(code.slice(-40));
  while (i < src.length) {
    const c = src[i]!;
    if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      i = end < 0 ? src.length : end;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      code += src.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else if (c === '/' && regexCanStart()) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && (inClass || src[j] !== '/')) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j++;
      }
      code += ' '.repeat(j + 1 - i);
      i = j + 1;
    } else if (c === "'" || c === '"' || c === '`') {
      const start = i;
      let j = i + 1;
      let depth = 0;
      while (j < src.length) {
        if (src[j] === '\\') j += 2;
        else if (c === '`' && src.startsWith('${', j)) {
          depth++;
          j += 2;
        } else if (depth > 0 && src[j] === '}') {
          depth--;
          j++;
        } else if (depth === 0 && src[j] === c) break;
        else j++;
      }
      literals.push({ file, name: nameBefore(start), line: lineAt(start), raw: src.slice(start + 1, j) });
      code += c + ' '.repeat(j - start - 1) + c;
      i = j + 1;
    } else {
      code += c;
      i++;
    }
  }
  return { literals, code };
}

/** Names a file imports from its neighbours, with the file each comes from. */
function importsOf(file: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^import\s+\{([^}]*)\}\s+from\s+'(\.{1,2}\/[^']+)'/gm)) {
    const from = resolve(dirname(file), m[2]!.replace(/\.js$/, '.ts'));
    for (const n of m[1]!.split(',').map((x) => x.trim().split(/\s+as\s+/).pop()!)) if (n && !n.startsWith('type ')) out.set(n, from);
  }
  return out;
}

const LUA_CALL = /redis\.p?call\s*\(/g;
const HAS_LUA_CALL = /redis\.p?call\s*\(/;

interface Script {
  where: string;
  source: string;
}

/** Every Lua script of src/ as Redis receives it: the literals no other one takes in, their `${NAME}` pieces put in. */
function scripts(): Script[] {
  const files = sources(ROOT).filter((f) => HAS_LUA_CALL.test(readFileSync(f, 'utf8')));
  const scans = new Map(files.map((f) => [f, scan(f)]));
  const byName = (file: string, name: string): Literal | undefined => (scans.get(file) ?? (scans.set(file, scan(file)), scans.get(file)!)).literals.find((l) => l.name === name);
  const taken = new Set<string>();
  /** The text Redis receives; null when a piece is no string constant (then it is no script, unless it holds a redis.call). */
  const text = (lit: Literal, seen: string[]): string | null => {
    let whole = true;
    const raw = lit.raw.replace(/\$\{([^}]*)\}/g, (_, inner: string) => {
      const name = inner.trim();
      const here = byName(lit.file, name);
      const from = here ? lit.file : importsOf(lit.file).get(name);
      const piece = here ?? (from ? byName(from, name) : undefined);
      const put = piece && !seen.includes(`${from}#${name}`) ? text(piece, [...seen, `${from}#${name}`]) : null;
      if (put === null) {
        whole = false;
        return '';
      }
      taken.add(`${from}#${name}`);
      return put;
    });
    if (!whole) {
      if (HAS_LUA_CALL.test(raw)) throw new Error(`${relative(ROOT, lit.file)}:${lit.line}: a script with a piece that is no string constant of this file or one it imports`);
      return null;
    }
    // As the template literal gives it at run time.
    return raw.replace(/\\([\\`$'"])/g, '$1');
  };
  const found: { lit: Literal; source: string }[] = [];
  for (const [, { literals }] of scans) {
    for (const lit of literals) {
      const source = text(lit, []);
      if (source !== null && HAS_LUA_CALL.test(source)) found.push({ lit, source });
    }
  }
  return found
    .filter(({ lit }) => lit.name === null || !taken.has(`${lit.file}#${lit.name}`))
    .map(({ lit, source }) => ({ where: `${relative(ROOT, lit.file)}:${lit.line}${lit.name ? ` ${lit.name}` : ''}`, source }));
}

/** Key positions of every command this Redis knows, from COMMAND. */
async function keySpecs(redis: Redis): Promise<Map<string, KeySpec>> {
  const all = (await redis.call('COMMAND')) as unknown[][];
  const spec = (e: unknown[]): KeySpec => ({ first: Number(e[3]), last: Number(e[4]), step: Number(e[5]), movable: (e[2] as string[]).includes('movablekeys') });
  const out = new Map<string, KeySpec>();
  for (const e of all) {
    const s = spec(e);
    const subs = Array.isArray(e[9]) ? (e[9] as unknown[][]) : [];
    if (subs.length > 0) s.sub = Object.fromEntries(subs.map((x) => [String(x[0]).split('|')[1]!, spec(x)]));
    out.set(String(e[0]).toLowerCase(), s);
  }
  return out;
}

describe('Lua scripts touch only the keys their callers declare', () => {
  let redis: Redis;
  let specs: Map<string, KeySpec>;
  const check = (source: string) => checkScriptKeys(source, (c) => specs.get(c) ?? null);

  beforeAll(async () => {
    redis = connectRedis();
    specs = await keySpecs(redis);
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('finds every script in src/: each redis.call in the code is inside a literal it checks', () => {
    const found = scripts();
    // What the walk must see at least (were the scanner to lose its way, it would find fewer).
    for (const name of ['IMPORT_BATCH', 'TAKE_DUE', 'ROWS', 'COMMIT', 'COMMIT_MANY', 'RESEND_DEAD', 'ACQUIRE_LUA', 'ACQUIRE_MANY_LUA', 'ADMIT_LUA']) {
      expect(found.map((s) => s.where.split(' ')[1])).toContain(name);
    }
    for (const file of sources(ROOT)) {
      const { code } = scan(file);
      expect(code.match(LUA_CALL) ?? [], `${relative(ROOT, file)}: a redis.call outside a string literal`).toEqual([]);
    }
    const calls = (s: string) => (s.match(LUA_CALL) ?? []).length;
    const inFiles = sources(ROOT).reduce((n, f) => n + scan(f).literals.reduce((m, l) => m + calls(l.raw), 0), 0);
    expect(inFiles).toBeGreaterThan(100);
  });

  it('every key argument of every redis.call and redis.pcall in src/ is a key read out of KEYS', () => {
    const problems = scripts().flatMap((s) => check(s.source).map((p) => `${s.where}, script line ${p.line}, ${p.command}: ${p.message}`));
    expect(problems).toEqual([]);
  });

  it('flags a key built inside a script, however it gets to the call', () => {
    const flagged = (lua: string) => check(lua).map((p) => `${p.line} ${p.command}`);
    // A row list named from a base passed in ARGV (the import and take scripts once did so).
    expect(flagged(`local base = ARGV[3]\nlocal size = tonumber(ARGV[4])\nlocal idx = 7\nredis.call('RPUSH', base .. ':' .. math.floor(idx / size), 'row')`)).toEqual(['4 rpush']);
    // A delivery hash named from a prefix in ARGV and a letter's field.
    expect(flagged(`local l = cjson.decode(ARGV[3])\nredis.call('HSET', ARGV[2] .. l.delivery, 'tries', '0')`)).toEqual(['2 hset']);
    // A fallback that names a campaign's keys from its hash key, through a table field and a function's return.
    expect(
      flagged(`local function camp(cmp, K, at)
  local c
  if K[at] then c = { st = K[at] } else c = { st = cmp .. ':st' } end
  return c
end
local c = camp(KEYS[2], KEYS, 6)
redis.call('HGET', c.st, ARGV[1])`),
    ).toEqual(['7 hget']);
    expect(flagged(`redis.call('GET', KEYS[1] .. ':x')`)).toEqual(['1 get']);
    expect(flagged(`redis.pcall('GET', 'a-key')`)).toEqual(['1 get']);
    // Through a parameter given a declared key at one call and ARGV at another.
    expect(flagged(`local function get(k) return redis.call('GET', k) end\nget(KEYS[1])\nget(ARGV[1])`)).toEqual(['1 get']);
    // Through a table's elements, unpacked.
    expect(flagged(`local t = {}\nt[#t + 1] = KEYS[1]\nt[#t + 1] = ARGV[1]\nredis.call('DEL', unpack(t))`)).toEqual(['4 del']);
    // A command that is not a literal, and one whose key positions depend on its arguments.
    expect(flagged(`redis.call(ARGV[1], KEYS[1])`)).toEqual(['1 ?']);
    expect(flagged(`redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[2], KEYS[3])`)).toEqual(['1 zunionstore']);
    // redis.call under another name, and a key handed to a callback by one of Lua's own functions.
    expect(flagged(`local call = redis.call\ncall('GET', ARGV[1])`)).toEqual(['1 ?']);
    expect(flagged(`string.gsub(ARGV[1], '[^,]+', function(k) redis.call('DEL', k) end)`)).toEqual(['1 del']);
  });

  it('lets declared keys through, however they get to the call, and never looks at values', () => {
    const ok = [
      `local k = KEYS[1]\nredis.call('SET', k, ARGV[1] .. ':' .. ARGV[2], 'PX', 1000)`,
      `for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end`,
      `redis.call('UNLINK', unpack(KEYS, 2, #KEYS))`,
      `local checks = {}\ntable.insert(checks, {KEYS[3], 5})\nfor _, c in ipairs(checks) do redis.call('ZCARD', c[1]) end`,
      `local seen = {}\nfor j = 2, #ARGV do seen[ARGV[j]] = KEYS[j + 2] end\nlocal key = ARGV[1] ~= '' and seen[ARGV[1]]\nif key then redis.call('DEL', key) end`,
      `local function run(KEYS, ARGV) return redis.call('GET', KEYS[1]) end\nlocal mine = {}\nmine[1] = KEYS[2]\nreturn pcall(run, mine, ARGV)`,
      `local t = redis.call('TIME')\nredis.call('XADD', KEYS[1], '*', 'at', t[1])\nredis.call('HDEL', KEYS[2], unpack(ARGV))`,
    ];
    for (const lua of ok) expect(check(lua), lua).toEqual([]);
  });
});
