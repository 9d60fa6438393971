/**
 * The installed command runs the compiled code when it is built and up to
 * date, the TypeScript sources in development (AUTODIALER_DEV=1, no build, or
 * a source changed after the build). Checked on a copy of bin/ beside a
 * stand-in dist/ and src/ that say which one ran.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'adbin-'));
const dist = join(root, 'dist', 'cli', 'main.js');
const src = join(root, 'src', 'cli', 'main.ts');
const other = join(root, 'src', 'domain', 'retry.ts');
afterAll(() => rmSync(root, { recursive: true, force: true }));

cpSync(resolve('bin'), join(root, 'bin'), { recursive: true });
symlinkSync(resolve('node_modules'), join(root, 'node_modules'), 'dir');
mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
mkdirSync(join(root, 'src', 'cli'), { recursive: true });
mkdirSync(join(root, 'src', 'domain'), { recursive: true });
writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
writeFileSync(dist, "export async function main() { process.stdout.write('dist'); return 0; }\n");
writeFileSync(src, "export async function main(): Promise<number> { process.stdout.write('src'); return 0; }\n");
writeFileSync(other, 'export const x: number = 1;\n');

/** Sets a file's modification time, in seconds since the epoch. */
const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

async function ran(env: Record<string, string> = {}): Promise<string> {
  const { AUTODIALER_DEV: _, ...rest } = process.env;
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'bin', 'autodialer.js'), '--help'], { env: { ...rest, ...env } });
  return stdout;
}

describe('bin/autodialer.js', () => {
  it('runs dist/ when it is newer than every source, the sources once one changed after the build', async () => {
    for (const f of [src, other]) at(f, 1_000_000);
    at(dist, 2_000_000);
    expect(await ran()).toBe('dist');
    at(other, 3_000_000);
    expect(await ran()).toBe('src');
  });

  it('obeys AUTODIALER_DEV: 1 always the sources, 0 always dist/', async () => {
    for (const f of [src, other]) at(f, 1_000_000);
    at(dist, 2_000_000);
    expect(await ran({ AUTODIALER_DEV: '1' })).toBe('src');
    at(other, 3_000_000);
    expect(await ran({ AUTODIALER_DEV: '0' })).toBe('dist');
  });
});
