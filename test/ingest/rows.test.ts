import { describe, expect, it } from 'vitest';
import { CsvRowReader, readCsvRows } from '../../src/ingest/csv-rows.js';
import type { CsvRowOptions, RawRow } from '../../src/ingest/csv-rows.js';

const opts: CsvRowOptions = { delimiter: ',', maxRowBytes: 256, firstLine: 1 };

async function rowsOf(chunks: (string | Buffer)[], options: CsvRowOptions = opts): Promise<RawRow[]> {
  const reader = new CsvRowReader(options);
  const out: RawRow[] = [];
  for (const c of chunks) out.push(...reader.write(typeof c === 'string' ? Buffer.from(c, 'utf8') : c));
  out.push(...(await reader.end()));
  return out;
}

/** Rows and broken rows with their lines; blank lines summed. */
function view(rows: RawRow[]): { rows: [number, string[] | string][]; blank: number } {
  let blank = 0;
  const out: [number, string[] | string][] = [];
  for (const r of rows) {
    if (r.kind === 'blank') blank += r.lines;
    else if (r.kind === 'row') out.push([r.line, r.fields]);
    else out.push([r.line, r.reason]);
  }
  return { rows: out, blank };
}

const TRICKY =
  'name,phone\r\n' +
  '\r\n' +
  '"a\r\nb",1\r\n' +
  'c,2\n' +
  '\n' +
  '"d\n\ne","3"\r' +
  'f,"4"""\r\n' +
  ',,\n' +
  '"g,h",5\r\n' +
  '\r\n';

describe('line numbers', () => {
  it('count CRLF, LF and CR as one line break each, inside quotes too', async () => {
    expect(view(await rowsOf([TRICKY]))).toEqual({
      rows: [
        [1, ['name', 'phone']],
        [3, ['a\r\nb', '1']],
        [5, ['c', '2']],
        [7, ['d\n\ne', '3']],
        [10, ['f', '4"']],
        [12, ['g,h', '5']],
      ],
      // lines 2, 6, 11 (",,") and 13
      blank: 4,
    });
  });

  it('do not depend on where the chunks are cut', async () => {
    const whole = view(await rowsOf([TRICKY]));
    const bytes = Buffer.from(TRICKY, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(view(await rowsOf([bytes.subarray(0, cut), bytes.subarray(cut)])), `cut at ${cut}`).toEqual(whole);
    }
    const oneByOne = Array.from(bytes, (b) => Buffer.from([b]));
    expect(view(await rowsOf(oneByOne))).toEqual(whole);
  });

  it('start at the line given', async () => {
    expect(view(await rowsOf(['a,b\nc,d\n'], { ...opts, firstLine: 2 })).rows).toEqual([
      [2, ['a', 'b']],
      [3, ['c', 'd']],
    ]);
  });
});

describe('runaway rows', () => {
  it('a quote never closed becomes one row_too_long at its line; the next lines are read', async () => {
    const good = Array.from({ length: 40 }, (_, i) => `n${i},${1000 + i}\n`).join('');
    const r = view(await rowsOf([`name,phone\n"oops,1\n${good}`]));
    expect(r.rows[0]).toEqual([1, ['name', 'phone']]);
    expect(r.rows[1]).toEqual([2, 'row_too_long']);
    expect(r.rows.slice(2)).toEqual(Array.from({ length: 40 }, (_, i) => [3 + i, [`n${i}`, String(1000 + i)]]));
  });

  it('the same when the input comes in small chunks', async () => {
    const text = `name,phone\n"oops,1\n${Array.from({ length: 40 }, (_, i) => `n${i},${i}\r\n`).join('')}`;
    const chunks = text.match(/[\s\S]{1,7}/g) ?? [];
    const r = view(await rowsOf(chunks));
    expect(r.rows.filter((x) => x[1] === 'row_too_long')).toEqual([[2, 'row_too_long']]);
    expect(r.rows.length).toBe(42);
    expect(r.rows[41]).toEqual([42, ['n39', '39']]);
  });

  it('a row that closes within one chunk but is longer than the limit is broken too', async () => {
    const r = view(await rowsOf([`name,phone\n"${'q'.repeat(1000)}\nstill quoted",1\nafter,2\n`]));
    expect(r.rows).toEqual([
      [1, ['name', 'phone']],
      [2, 'row_too_long'],
      [3, ['still quoted"', '1']],
      [4, ['after', '2']],
    ]);
  });

  it('a quote still open at the end of the file is a malformed_row; the lines after it are read', async () => {
    const r = view(await rowsOf(['name,phone\na,1\n"b,2\nc,3\nd,4\n']));
    expect(r.rows).toEqual([
      [1, ['name', 'phone']],
      [2, ['a', '1']],
      [3, 'malformed_row'],
      [4, ['c', '3']],
      [5, ['d', '4']],
    ]);
  });

  it('a line with no line break, longer than the limit, is skipped to its end', async () => {
    const reader = new CsvRowReader({ ...opts, maxRowBytes: 1024 });
    const out: RawRow[] = [...reader.write(Buffer.from('name,phone\n'))];
    const filler = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < 160; i++) out.push(...reader.write(filler)); // 10 MB on one line
    out.push(...reader.write(Buffer.from('\nafter,1\n')));
    out.push(...(await reader.end()));
    expect(view(out).rows).toEqual([
      [1, ['name', 'phone']],
      [2, 'row_too_long'],
      [3, ['after', '1']],
    ]);
    const broken = out.find((r) => r.kind === 'broken');
    expect(broken?.kind === 'broken' && broken.message).toContain('longer than 1024 bytes');
  });

  it('a row of empty fields is held to the limit too', async () => {
    const r = view(await rowsOf(['name,phone\n', ','.repeat(5000), '\nok,1\n']));
    expect(r.rows).toEqual([
      [1, ['name', 'phone']],
      [2, 'row_too_long'],
      [3, ['ok', '1']],
    ]);
  });

  it('past the replay budget, a broken row takes the lines it swallowed; numbering stays right', async () => {
    const good = Array.from({ length: 40 }, (_, i) => `n${i},${i}\n`).join('');
    const rows = await rowsOf([`name,phone\n"oops,1\n${good}`, 'after,1\n'], { ...opts, replayBudget: 0 });
    const v = view(rows);
    expect(v.rows[1]).toEqual([2, 'row_too_long']);
    const broken = rows.find((r) => r.kind === 'broken');
    expect(broken?.kind === 'broken' && broken.message).toMatch(/its \d+ line\(s\) were skipped$/);
    // the lines the runaway quote swallowed are gone; the ones after keep their numbers
    const after = v.rows.slice(2);
    expect(after.length).toBeGreaterThan(0);
    expect(after.length).toBeLessThan(41);
    expect(after[after.length - 1]).toEqual([43, ['after', '1']]);
    for (const [line, fields] of after.slice(0, -1)) expect(fields).toEqual([`n${line - 3}`, String(line - 3)]);
  });
});

describe('readCsvRows', () => {
  it('pulls chunks from an async iterable', async () => {
    async function* chunks() {
      yield Buffer.from('a,b\n1,');
      yield Buffer.from('2\n3,4');
    }
    const out: RawRow[] = [];
    for await (const r of readCsvRows(chunks(), opts)) out.push(r);
    expect(view(out).rows).toEqual([
      [1, ['a', 'b']],
      [2, ['1', '2']],
      [3, ['3', '4']],
    ]);
  });
});
