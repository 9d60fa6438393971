import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { detectDelimiter, readSepLine } from '../../src/ingest/delimiter.js';
import { detectEncoding, guessLegacyEncoding } from '../../src/ingest/encoding.js';
import { IngestError } from '../../src/ingest/index.js';
import { readAll } from './helpers.js';

const CHINESE_NAMES = ['张伟', '王芳', '李娜', '刘洋', '陈静', '杨磊', '赵敏', '黄强', '周杰', '吴霞', '徐明', '孙丽'];
const CITIES = ['北京', '上海', '广州', '深圳', '成都', '杭州'];
const PERSIAN_NAMES = ['علي', 'مريم', 'حسين', 'زهرا', 'رضا', 'فاطمه', 'محمد', 'سارا'];
const PERSIAN_CITIES = ['تهران', 'شيراز', 'اصفهان', 'تبريز', 'مشهد'];

function chineseList(rows: number): string {
  let s = '姓名,电话,城市\r\n';
  for (let i = 0; i < rows; i++) s += `${CHINESE_NAMES[i % 12]},1${3300000000 + i},${CITIES[i % 6]}\r\n`;
  return s;
}

function persianList(rows: number, names = PERSIAN_NAMES, cities = PERSIAN_CITIES): string {
  let s = 'نام,موبايل,شهر\r\n';
  for (let i = 0; i < rows; i++) s += `${names[i % names.length]},0912${String(1000000 + i)},${cities[i % cities.length]}\r\n`;
  return s;
}

async function refused(input: string | Buffer, options: object = {}): Promise<IngestError> {
  const err = await readAll(input, options).catch((e: unknown) => e);
  if (!(err instanceof IngestError)) throw new Error(`expected an IngestError, got ${String(err)}`);
  return err;
}

describe('encoding detection', () => {
  it('byte order marks', () => {
    expect(detectEncoding(Buffer.from([0xef, 0xbb, 0xbf, 0x61]), true)).toEqual({ encoding: 'utf8', source: 'bom' });
    expect(detectEncoding(Buffer.from([0xff, 0xfe, 0x61, 0x00]), true)).toEqual({ encoding: 'utf16le', source: 'bom' });
    expect(detectEncoding(Buffer.from([0xfe, 0xff, 0x00, 0x61]), true)).toEqual({ encoding: 'utf16be', source: 'bom' });
  });

  it('UTF-16 without a mark, from where the zero bytes are', () => {
    expect(detectEncoding(Buffer.from('phone,name\n13333333333,A\n', 'utf16le'), true)).toEqual({ encoding: 'utf16le', source: 'utf16-pattern' });
    const be = Buffer.from('phone,name\n13333333333,A\n', 'utf16le').swap16();
    expect(detectEncoding(be, true)).toEqual({ encoding: 'utf16be', source: 'utf16-pattern' });
  });

  it('valid UTF-8, also when the sample ends inside a character', () => {
    const bytes = Buffer.from(chineseList(50), 'utf8');
    expect(detectEncoding(bytes, true)).toEqual({ encoding: 'utf8', source: 'utf8' });
    expect(detectEncoding(bytes.subarray(0, 16), false)).toEqual({ encoding: 'utf8', source: 'utf8' });
    expect(detectEncoding(bytes.subarray(0, 16), true).encoding).not.toBe('utf8');
  });

  it('GB18030 for Chinese text, Windows-1256 for Persian text', () => {
    expect(guessLegacyEncoding(iconv.encode(chineseList(200), 'gb18030'), true)).toBe('gb18030');
    expect(guessLegacyEncoding(iconv.encode(chineseList(200), 'gbk'), true)).toBe('gb18030');
    expect(guessLegacyEncoding(iconv.encode(persianList(200), 'windows-1256'), true)).toBe('windows-1256');
  });

  it('Persian words of even length only still read as Windows-1256 (no bytes in 0xA1–0xC0)', () => {
    const even = persianList(100, ['علي رضا', 'مريم', 'زهرا'], ['تهران', 'مشهد']);
    expect(guessLegacyEncoding(iconv.encode(even, 'windows-1256'), true)).toBe('windows-1256');
  });

  it('the decision holds on a 64 KB sample cut in the middle of a character', () => {
    const gb = iconv.encode(chineseList(5000), 'gb18030');
    expect(gb.length).toBeGreaterThan(64 * 1024);
    expect(detectEncoding(gb.subarray(0, 64 * 1024 + 1), false)).toEqual({ encoding: 'gb18030', source: 'heuristic' });
  });

  it('a big GB18030 file is read through, with Chinese cells intact', async () => {
    const r = await readAll(iconv.encode(chineseList(6000), 'gb18030'), { region: 'CN' });
    expect(r.header.encoding).toBe('gb18030');
    expect(r.summary).toMatchObject({ rowsRead: 6000, contacts: 6000, rejects: 0 });
    expect(r.records[5999]?.values).toEqual(['孙丽', '13300005999', '杭州']);
  });

  it('a named encoding is used as named', async () => {
    const r = await readAll(iconv.encode(chineseList(3), 'gbk'), { encoding: 'GBK', region: 'CN' });
    expect(r.header).toMatchObject({ encoding: 'gbk', encodingSource: 'named', columns: ['姓名', '电话', '城市'] });
    expect(r.summary.contacts).toBe(3);
  });

  it('a wrongly named encoding is refused as undecodable, saying how to fix it', async () => {
    const err = await refused(iconv.encode(chineseList(20), 'gb18030'), { encoding: 'utf8' });
    expect(err.code).toBe('undecodable');
    expect(err.message).toMatch(/^list\.csv does not decode as utf8: \d+ of its first \d+ characters are invalid; name its encoding with --encoding/);
  });

  it('an unknown encoding name is an options error', async () => {
    const err = await refused('phone\n13333333333\n', { encoding: 'klingon-8' });
    expect(err.code).toBe('invalid_options');
    expect(err.message).toContain('encoding');
  });
});

describe('delimiter detection', () => {
  it('picks the most consistent split', () => {
    expect(detectDelimiter('name;phone;amount\nA;133;1,5\nB;134;2,5\n')).toBe(';');
    expect(detectDelimiter('name,phone,note\nA,133,x\nB,134,"y;z"\n')).toBe(',');
    expect(detectDelimiter('a\tb\tc\n1\t2\t3,4\n5\t6\t7\n')).toBe('\t');
    expect(detectDelimiter('a|b\n1|2\n')).toBe('|');
    expect(detectDelimiter('phone\n133\n134\n')).toBeNull();
  });

  it("reads Excel's sep= line", () => {
    expect(readSepLine('sep=;\r\nname;phone')).toEqual({ delimiter: ';', length: 7 });
    expect(readSepLine('SEP=|\nx')).toEqual({ delimiter: '|', length: 6 });
    expect(readSepLine('"sep=,"\nx')).toEqual({ delimiter: ',', length: 8 });
    expect(readSepLine('separator,phone\n')).toBeNull();
  });

  it('a one-column list falls back to a comma', async () => {
    const r = await readAll('phone\n13333333333\n', { region: 'CN' });
    expect(r.header).toMatchObject({ delimiter: ',', delimiterSource: 'default' });
    expect(r.summary.contacts).toBe(1);
  });

  it('a named delimiter wins, and a sep= line is still not a row', async () => {
    const r = await readAll('sep=;\nname|phone\nA|13333333333\n', { delimiter: 'pipe', region: 'CN' });
    expect(r.header).toMatchObject({ delimiter: '|', delimiterSource: 'named', columns: ['name', 'phone'], line: 2 });
    expect(r.summary).toMatchObject({ rowsRead: 1, contacts: 1 });
    const t = await readAll('name\tphone\nA\t13333333333\n', { delimiter: 'tab', region: 'CN' });
    expect(t.header.delimiter).toBe('\t');
  });
});

describe('files refused whole', () => {
  it('an Excel workbook, by its zip signature', async () => {
    const err = await refused(Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from('[Content_Types].xml')]));
    expect(err.code).toBe('binary_file');
    expect(err.message).toBe('list.csv is a zip archive (an Excel .xlsx or OpenDocument workbook?), not a CSV file: open it and save it as CSV');
  });

  it('an empty file, and a file of blank lines', async () => {
    expect((await refused('')).code).toBe('empty_file');
    expect((await refused('\r\n\n  \n')).code).toBe('empty_file');
  });

  it('a list without a header row says its first row looks like data', async () => {
    const err = await refused('13333333333,Wang\n13333333334,Li\n');
    expect(err.code).toBe('no_phone_column');
    expect(err.message).toContain('the first row looks like data (13333333333): add a header row');
  });

  it('a header row that cannot be read', async () => {
    const err = await refused('"phone,name\n');
    expect(err.code).toBe('no_header');
    expect(err.message).toMatch(/^the header row of list\.csv \(line 1\) cannot be read: /);
  });

  it('a source that fails is a read error naming the file, with the cause', async () => {
    const { Readable } = await import('node:stream');
    const boom = new Error('connection reset');
    const source = new Readable({
      read() {
        this.destroy(boom);
      },
    });
    const err = await readAll(source, { fileName: 'upload.csv' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect(err).toMatchObject({ code: 'read_failed', cause: boom });
    expect((err as Error).message).toBe('reading upload.csv failed after 0 bytes: connection reset');
  });

  it('bad options are refused with the field named', async () => {
    const err = await refused('phone\n1\n', { region: 'China', maxRowBytes: 10 });
    expect(err.code).toBe('invalid_options');
    expect(err.message).toContain('region: region must be a two-letter region code');
    expect(err.message).toContain('maxRowBytes: maxRowBytes must be at least 256');
    const unknown = await refused('phone\n1\n', { phoneColum: 'x' });
    expect(unknown.message).toContain('phoneColum');
  });
});

describe('a header-only list', () => {
  it('gives no records and a finished summary', async () => {
    const r = await readAll('name,phone\n', { region: 'CN' });
    expect(r.records).toEqual([]);
    expect(r.summary).toMatchObject({ rowsRead: 0, contacts: 0, rejects: 0, done: true, header: ['name', 'phone'] });
  });
});
