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
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();
const wanted = process.argv.slice(2);
if (wanted.includes('--help') || wanted.includes('-h')) {
  process.stdout.write(
    [
      'usage: npm run bench [name …]',
      '',
      'Compiles src/ to dist/ and runs each benchmark (all of them without a name) against that compiled code, in a',
      'process of its own; prints its report, and rewrites',
      'bench/RESULTS.md from the sections they write to bench/results/ (with those of `npm run chaos -- --record`',
      'and `npm run soak`). Needs Redis (REDIS_URL) and, for history, PostgreSQL (HISTORY_BENCH_PG or',
      'postgres://postgres@127.0.0.1:5432/postgres).',
      '',
      `benchmarks: ${all.join(', ')}`,
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const names = wanted.length > 0 ? wanted : all;
for (const n of names) {
  if (!all.includes(n)) {
    process.stderr.write(`no benchmark named ${n} (have: ${all.join(', ')})\n`);
    process.exit(2);
  }
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: 'inherit', env: process.env });
    child.on('exit', (code) => done(code ?? 1));
  });
}

// What is measured is the code as it ships: dist/, compiled now from the sources (bench/compiled.mjs loads it in their place).
process.stdout.write('compiling src/ to dist/ (tsc -p tsconfig.build.json), the code the benchmarks measure\n');
const tsc = join(dir, '..', 'node_modules', 'typescript', 'bin', 'tsc');
if ((await run(process.execPath, [tsc, '-p', join(dir, '..', 'tsconfig.build.json')])) !== 0) {
  process.stderr.write('the sources do not compile: no benchmark run\n');
  process.exit(1);
}

let failed = 0;
for (const name of names) {
  process.stdout.write(`\n=== ${name} ===\n`);
  const code = await run(process.execPath, ['--import', 'tsx', '--import', join(dir, 'compiled.mjs'), join(dir, `${name}.bench.ts`)]);
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
