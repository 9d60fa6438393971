/**
 * `node --import tsx --import ./bench/compiled.mjs`: what a benchmark
 * imports from src/ is loaded from dist/ instead, compiled by tsc as
 * `autodialer` ships and runs it. (tsx's transform keeps function names by
 * wrapping closures, which makes hot paths of the sources slower than the
 * compiled code: a third, for decoding an attempt record.) The benchmark's
 * own code, and what it imports from test/, still go through tsx.
 */
import { register } from 'node:module';

register('./compiled-hooks.mjs', import.meta.url);
