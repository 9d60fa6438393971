#!/usr/bin/env node
// Runs the compiled CLI (dist/) when present, else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');

let mod;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  mod = await import(pathToFileURL(compiled).href);
} else {
  process.stderr.write('autodialer: neither dist/ nor src/ found; run "npm run build"\n');
  process.exit(1);
}
process.exitCode = await mod.main(process.argv);
