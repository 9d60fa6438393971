import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { estimateRows, openContactList } from '../../src/ingest/index.js';
import type { IngestProgress } from '../../src/ingest/index.js';

const ROWS = 200_000;

/** A list made row by row as it is pulled, counting what it produced. */
function generatedList(rowsPerChunk: number) {
  const state = { produced: 0, bytes: 0, finished: false, closed: false };
  async function* rows(): AsyncGenerator<Buffer> {
    try {
      const header = Buffer.from('name,phone,city\n');
      state.bytes += header.length;
      yield header;
      let text = '';
      for (let i = 0; i < ROWS; i++) {
        text += `name${String(i).padStart(6, '0')},1${3300000000 + i},city${i % 7}\n`;
        state.produced++;
        if (state.produced % rowsPerChunk === 0 || i === ROWS - 1) {
          const chunk = Buffer.from(text);
          state.bytes += chunk.length;
          text = '';
          yield chunk;
        }
      }
      state.finished = true;
    } finally {
      state.closed = true;
    }
  }
  return { source: Readable.from(rows()), state };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('streaming a large list', () => {
  it('rows arrive while the input is still being produced, and the producer stays close behind the consumer', async () => {
    const { source, state } = generatedList(50);
    const progress: IngestProgress[] = [];
    const list = await openContactList(source, { fileName: 'big.csv', region: null, onProgress: (p) => progress.push(p) });
    let consumed = 0;
    let producedAtFirst = -1;
    let maxAhead = 0;
    for await (const r of list.records) {
      if (consumed === 0) producedAtFirst = state.produced;
      consumed++;
      expect(r.kind).toBe('contact');
      maxAhead = Math.max(maxAhead, state.produced - consumed);
      if (consumed === 1000) {
        // the consumer pauses: the producer is held back, whatever the event loop does meanwhile
        const before = state.produced;
        await turns(50);
        expect(state.produced).toBe(before);
        expect(state.finished).toBe(false);
      }
    }
    expect(producedAtFirst).toBeGreaterThan(0);
    expect(producedAtFirst).toBeLessThan(ROWS / 10);
    // what is buffered ahead of the consumer is bounded (the 64 KB peek and a few chunks), not the file
    expect(maxAhead).toBeLessThan(10_000);
    expect(consumed).toBe(ROWS);
    expect(state.finished).toBe(true);

    const summary = list.summary();
    expect(summary).toMatchObject({ rowsRead: ROWS, contacts: ROWS, rejects: 0, blankLines: 0, done: true, bytesRead: state.bytes });
    expect(progress.length).toBe(ROWS / 1000 + 1);
    expect(progress.map((p) => p.rowsRead)).toEqual([...Array.from({ length: ROWS / 1000 }, (_, i) => (i + 1) * 1000), ROWS]);
    expect(progress.at(-1)).toEqual({ rowsRead: ROWS, contacts: ROWS, rejects: 0, bytesRead: state.bytes, done: true });
    for (let i = 1; i < progress.length; i++) {
      expect((progress[i] as IngestProgress).bytesRead).toBeGreaterThanOrEqual((progress[i - 1] as IngestProgress).bytesRead);
    }
  });

  it('the header sample estimates the row count for a progress bar', async () => {
    const { source, state } = generatedList(500);
    const list = await openContactList(source, { fileName: 'big.csv', region: null });
    expect(list.header.sample.complete).toBe(false);
    expect(list.header.sample.rows).toBeGreaterThan(0);
    let n = 0;
    for await (const _ of list.records) n++;
    const estimate = estimateRows(state.bytes, list.header.sample.bytes, list.header.sample.rows);
    expect(Math.abs(estimate - n)).toBeLessThan(n * 0.05);
  });

  it('stopping early releases the source', async () => {
    const { source, state } = generatedList(100);
    const list = await openContactList(source, { fileName: 'big.csv', region: null });
    let n = 0;
    for await (const _ of list.records) {
      if (++n === 10) break;
    }
    await turns(5);
    expect(state.closed).toBe(true);
    expect(state.finished).toBe(false);
    expect(source.destroyed).toBe(true);
    expect(list.summary()).toMatchObject({ rowsRead: 10, done: false });
  });
});

describe('estimateRows', () => {
  it('scales the sample to the file, exact when the sample is the file', () => {
    expect(estimateRows(1_000_000, 65_536, 2_000)).toBe(30_518);
    expect(estimateRows(500, 500, 12)).toBe(12);
    expect(estimateRows(400, 500, 12)).toBe(12);
    expect(estimateRows(0, 0, 0)).toBe(0);
    expect(estimateRows(1_000, 0, 5)).toBe(5);
  });
});

describe('a source that fails part-way', () => {
  it('ends the records with a read_failed IngestError naming the file, after the rows already read', async () => {
    const boom = new Error('socket hang up');
    async function* upload(): AsyncGenerator<Buffer> {
      yield Buffer.from('phone,name\n');
      for (let i = 0; i < 10; i++) yield Buffer.from(`1${3300000000 + i},n${i}\n`.repeat(1000));
      throw boom;
    }
    const list = await openContactList(Readable.from(upload()), { fileName: 'upload.csv', region: 'CN' });
    let n = 0;
    const err = await (async () => {
      for await (const _ of list.records) n++;
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'IngestError', code: 'read_failed', fileName: 'upload.csv', cause: boom });
    expect((err as Error).message).toMatch(/^reading upload\.csv failed after \d+ bytes: socket hang up$/);
    expect(n).toBeGreaterThan(0);
    expect(list.summary().done).toBe(false);
  });
});
