/** Module resolve hook for bench/compiled.mjs: src/<path>.ts → dist/<path>.js, when that file exists. */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const src = new URL('../src/', import.meta.url).href;
const dist = new URL('../dist/', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const r = await nextResolve(specifier, context);
  if (!r.url.startsWith(src) || !/\.[cm]?ts$/.test(r.url)) return r;
  const compiled = dist + r.url.slice(src.length).replace(/\.([cm]?)ts$/, '.$1js');
  if (!existsSync(fileURLToPath(compiled))) return r;
  return { ...r, url: pathToFileURL(fileURLToPath(compiled)).href, format: 'module' };
}
