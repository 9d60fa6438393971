#!/usr/bin/env node
// The autodialer command. It runs the compiled code (dist/, built by `npm install`
// or `npm run build`); the TypeScript sources, through tsx, only in development:
//   AUTODIALER_DEV=1            always the sources;
//   AUTODIALER_DEV=0            always dist/;
//   otherwise                   dist/, unless it is missing or a file of src/ changed after it was built.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
const sources = join(root, 'src');
const source = join(sources, 'cli', 'main.ts');

/** Whether any file under `dir` was modified after `since` (epoch ms). */
function changedSince(dir, since) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() ? changedSince(path, since) : statSync(path).mtimeMs > since) return true;
  }
  return false;
}

function runSources() {
  const dev = process.env.AUTODIALER_DEV;
  if (!existsSync(source) || dev === '0') return false;
  if (dev === '1' || !existsSync(compiled)) return true;
  return changedSince(sources, statSync(compiled).mtimeMs);
}

async function load() {
  if (runSources()) {
    try {
      const { register } = await import('tsx/esm/api');
      register();
      return await import(pathToFileURL(source).href);
    } catch (err) {
      if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('tsx')) throw err;
      if (!existsSync(compiled)) {
        process.stderr.write('autodialer: the sources need tsx (npm install), or build them with "npm run build"\n');
        process.exit(1);
      }
      process.stderr.write('autodialer: tsx is not installed: running dist/, which is older than src/ ("npm run build" to rebuild)\n');
    }
  }
  if (existsSync(compiled)) return import(pathToFileURL(compiled).href);
  process.stderr.write(`autodialer: dist/ is not built${existsSync(source) ? '' : ' and src/ is missing'}: run "npm run build"\n`);
  process.exit(1);
}

const mod = await load();
process.exitCode = await mod.main(process.argv);
