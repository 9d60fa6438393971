/**
 * `npm run bench [name …]`: runs each bench/<name>.bench.ts in its own
 * process (so memory figures are its own), prints their reports, and
 * rewrites bench/RESULTS.md from the sections they wrote to bench/results/
 * (and those of the chaos run and the soak, bench/results/chaos.md and
 * soak.md, when `npm run chaos` or `npm run soak` wrote them).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

const dir = resolve(import.meta.dirname);
const wanted = process.argv.slice(2);
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
const names = wanted.length > 0 ? wanted : all;
for (const n of names) {
  if (!all.includes(n)) {
    process.stderr.write(`no benchmark named ${n} (have: ${all.join(', ')})\n`);
    process.exit(2);
  }
}

function run(name: string): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(dir, `${name}.bench.ts`)], { stdio: 'inherit', env: process.env });
    child.on('exit', (code) => done(code ?? 1));
  });
}

let failed = 0;
for (const name of names) {
  process.stdout.write(`\n=== ${name} ===\n`);
  const code = await run(name);
  if (code !== 0) {
    failed++;
    process.stderr.write(`benchmark ${name} failed (exit ${code})\n`);
  }
}

/** Sections that other scripts write (`npm run chaos`, `npm run soak`): kept when the benchmarks rewrite RESULTS.md. */
const written = ['chaos', 'soak'];
const sections = [...all, ...written]
  .map((n) => join(dir, 'results', `${n}.md`))
  .filter((p) => existsSync(p))
  .map((p) => readFileSync(p, 'utf8').trim());
const header = [
  '# Benchmark results',
  '',
  'Written by `npm run bench` (each benchmark rewrites its own section in `bench/results/`).',
  `Every figure sits next to the ceiling measured in the same run on the same machine.`,
  '',
  `Last run: ${new Date().toISOString()} on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
  '',
].join('\n');
writeFileSync(join(dir, 'RESULTS.md'), `${header}\n${sections.join('\n\n')}\n`);
process.stdout.write(`\nresults written to bench/RESULTS.md\n`);
process.exitCode = failed > 0 ? 1 : 0;
