/**
 * The layers stay honest: no module of src/ imports itself back through a
 * chain of runtime imports (type-only imports are erased and do not count).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative modules a file imports (or re-exports) at run time. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?([^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    if (m[1]) continue;
    const names = /\{([^}]*)\}/.exec(m[2] ?? '')?.[1];
    const listed = names?.split(',').map((n) => n.trim()).filter((n) => n !== '') ?? [];
    if (listed.length > 0 && listed.every((n) => n.startsWith('type '))) continue;
    out.push(resolve(dirname(file), m[3]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

/** Every cycle met by a depth-first walk of a module graph (file → the files it imports). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

describe('module imports', () => {
  it('form no cycle at run time', () => {
    const files = sources(ROOT);
    expect(files.length).toBeGreaterThan(100);
    const found = cycles(new Map(files.map((f) => [f, runtimeImports(f)])));
    expect(found.map((c) => c.map((p) => relative(ROOT, p)).join(' -> '))).toEqual([]);
  });

  it('reads runtime imports only, and the walk reports a cycle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imports-'));
    const file = join(dir, 'a.ts');
    writeFileSync(
      file,
      [
        "import type { X } from './types.js';",
        "import { type Y, type Z } from './only-types.js';",
        "import { makeB, type B } from './b.js';",
        "export * from './c.js';",
        "import { hash } from 'node:crypto';",
      ].join('\n'),
    );
    try {
      expect(runtimeImports(file)).toEqual([join(dir, 'b.ts'), join(dir, 'c.ts')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c', 'a']]);
    expect(cycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });
});
