/**
 * Writes the encoded and binary fixtures of fixtures/csv/ from their sources:
 *   npx tsx test/ingest/make-fixtures.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GENERATED_FIXTURES } from './fixture-sources.js';

const dir = fileURLToPath(new URL('../../fixtures/csv/', import.meta.url));
mkdirSync(dir, { recursive: true });
for (const f of GENERATED_FIXTURES) {
  const bytes = f.bytes();
  writeFileSync(`${dir}${f.file}`, bytes);
  process.stdout.write(`wrote fixtures/csv/${f.file} (${bytes.length} bytes)\n`);
}
