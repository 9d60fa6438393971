/**
 * The fixtures whose bytes are not plain UTF-8 text, made from their text so
 * they can be read and changed here. `make-fixtures.ts` writes them to
 * fixtures/csv/; a test checks the committed bytes still match.
 */
import iconv from 'iconv-lite';
import { randomBytes, seeded } from './random.js';

export interface EncodedFixture {
  file: string;
  bytes(): Buffer;
}

const text = (file: string, content: string, encoding: string, bom = false): EncodedFixture => ({
  file,
  bytes: () => iconv.encode(content, encoding, { addBOM: bom }),
});

export const ENCODED_FIXTURES: EncodedFixture[] = [
  text('utf8-bom.csv', '电话,姓名,时区\n13333333333,王伟,Asia/Shanghai\n13333333334,李娜,\n', 'utf8', true),
  // Excel's "Unicode Text": UTF-16 LE with a byte order mark, tab-separated, CRLF.
  text(
    'utf16le-bom.csv',
    'Name\tMobile Number\tCity\r\nWang Wei\t13333333333\t北京\r\nAli Rezaei\t+98 912 123 4567\tتهران\r\nNobody\t12\t\r\n',
    'utf16le',
    true,
  ),
  // A Chinese CRM export: GB18030, Chinese headers, CRLF.
  text(
    'gb18030.csv',
    '姓名,电话,城市,备注\r\n张三,13333333333,北京,老客户\r\n李四,133 3333 3334,上海,\r\n王五,1333333,广州,号码不全\r\n赵六,+86 10 1234 5678,北京,座机\r\n',
    'gb18030',
  ),
  // A Persian CRM export: Windows-1256 (which has Arabic yeh ي and kaf ك, not the Persian ones), CRLF.
  text(
    'windows-1256.csv',
    'نام,موبايل,شهر\r\nعلي رضايي,09121234567,تهران\r\nمريم كريمي,0912 123 4568,شيراز\r\nحسن,0912,اصفهان\r\n',
    'windows-1256',
  ),
];

/** Deterministic bytes that are not text: NULs and control bytes throughout. */
export const BINARY_FIXTURE: EncodedFixture = {
  file: 'binary.csv',
  bytes: () => randomBytes(seeded(20240601), 2048),
};

export const GENERATED_FIXTURES: EncodedFixture[] = [...ENCODED_FIXTURES, BINARY_FIXTURE];
