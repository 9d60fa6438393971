/**
 * Which encoding a contact list is in, decided from its first bytes.
 *
 * In order:
 * 1. A byte order mark: UTF-8 (EF BB BF), UTF-16 LE (FF FE), UTF-16 BE (FE FF).
 * 2. UTF-16 without a mark, when zero bytes sit almost only at odd offsets
 *    (LE) or only at even ones (BE), as ASCII text in UTF-16 does.
 * 3. Valid UTF-8 (pure ASCII included): UTF-8.
 * 4. Otherwise the byte distribution decides between GB18030 (Chinese CRM
 *    exports; a superset of GBK and GB2312) and Windows-1256 (Persian ones):
 *    - GB18030 text pairs every byte ≥ 0x81 with a trail byte (0x40–0x7E,
 *      0x80–0xFE) or forms a four-byte sequence (lead, 0x30–0x39, lead,
 *      0x30–0x39). Persian words in Windows-1256 are runs of letters
 *      0xC1–0xFE (plus 0x81, 0x8D, 0x8E, 0x90, 0x98 for پ چ ژ گ ک) of any
 *      length, so runs of odd length leave a byte with no valid trail before a
 *      space, a delimiter or a line break.
 *    - Common Chinese characters (GB2312 level 1, leads 0xB0–0xD7, trails
 *      0xA1–0xFE) put about a quarter of the high bytes in 0xA1–0xC0, a range
 *      where Windows-1256 has only punctuation (، ؛ ؟).
 *    GB18030 is chosen when at most 1% of the multi-byte sequences are
 *    invalid and at least 5% of the high bytes fall in 0xA1–0xC0; otherwise
 *    Windows-1256 (which decodes any byte).
 *
 * Limits: only the first ~64 KB are looked at, so a file whose first 64 KB
 * are plain ASCII is read as UTF-8 even if it holds GB18030 or Windows-1256
 * text further on. A very short sample can be ambiguous. Other legacy
 * encodings (Big5, Shift-JIS, EUC-KR, Windows-1252, KOI8-R…) are not told
 * apart: Big5 and EUC-KR tend to pass as GB18030 and Latin ones as
 * Windows-1256. In all those cases name the encoding.
 */
import iconv from 'iconv-lite';
import type { EncodingSource } from './types.js';

export interface DetectedEncoding {
  encoding: string;
  source: Exclude<EncodingSource, 'named'>;
}

export interface GbShape {
  /** Valid two- and four-byte GB18030 sequences. */
  valid: number;
  /** Bytes ≥ 0x80 that start no valid sequence. */
  invalid: number;
  /** Bytes ≥ 0x80 in all. */
  high: number;
  /** Bytes in 0xA1–0xC0. */
  a1c0: number;
}

const isLead = (b: number) => b >= 0x81 && b <= 0xfe;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/** Reads the bytes as GB18030 and counts what fits and what does not. */
export function gbShape(bytes: Uint8Array, complete: boolean): GbShape {
  const shape: GbShape = { valid: 0, invalid: 0, high: 0, a1c0: 0 };
  for (const b of bytes) {
    if (b >= 0x80) shape.high++;
    if (b >= 0xa1 && b <= 0xc0) shape.a1c0++;
  }
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    if (!isLead(b)) {
      shape.invalid++;
      i++;
      continue;
    }
    if (i + 1 >= n) {
      if (complete) shape.invalid++;
      break;
    }
    const b2 = bytes[i + 1] as number;
    if ((b2 >= 0x40 && b2 <= 0x7e) || (b2 >= 0x80 && b2 <= 0xfe)) {
      shape.valid++;
      i += 2;
      continue;
    }
    if (isDigit(b2)) {
      if (i + 3 >= n && !complete) break;
      const b3 = bytes[i + 2];
      const b4 = bytes[i + 3];
      if (b3 !== undefined && b4 !== undefined && isLead(b3) && isDigit(b4)) {
        shape.valid++;
        i += 4;
        continue;
      }
    }
    shape.invalid++;
    i++;
  }
  return shape;
}

/** GB18030 or Windows-1256, from the byte distribution (see the module comment). */
export function guessLegacyEncoding(bytes: Uint8Array, complete: boolean): 'gb18030' | 'windows-1256' {
  const s = gbShape(bytes, complete);
  const sequences = s.valid + s.invalid;
  if (sequences === 0 || s.high === 0) return 'windows-1256';
  const structurallyGb = s.invalid <= sequences * 0.01;
  const looksChinese = s.a1c0 >= s.high * 0.05;
  return structurallyGb && looksChinese ? 'gb18030' : 'windows-1256';
}

/** True when the bytes are valid UTF-8 (a sequence cut at the end of a partial sample is allowed). */
export function isValidUtf8(bytes: Uint8Array, complete: boolean): boolean {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    decoder.decode(bytes, { stream: !complete });
    return true;
  } catch {
    return false;
  }
}

function utf16Pattern(bytes: Uint8Array): 'utf16le' | 'utf16be' | null {
  const pairs = Math.floor(Math.min(bytes.length, 4096) / 2);
  if (pairs < 2) return null;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < pairs; i++) {
    if (bytes[2 * i] === 0) evenZeros++;
    if (bytes[2 * i + 1] === 0) oddZeros++;
  }
  if (oddZeros >= pairs * 0.4 && evenZeros <= pairs * 0.02) return 'utf16le';
  if (evenZeros >= pairs * 0.4 && oddZeros <= pairs * 0.02) return 'utf16be';
  return null;
}

export function detectEncoding(bytes: Uint8Array, complete: boolean): DetectedEncoding {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'utf8', source: 'bom' };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf16le', source: 'bom' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf16be', source: 'bom' };
  const utf16 = utf16Pattern(bytes);
  if (utf16 !== null) return { encoding: utf16, source: 'utf16-pattern' };
  if (isValidUtf8(bytes, complete)) return { encoding: 'utf8', source: 'utf8' };
  return { encoding: guessLegacyEncoding(bytes, complete), source: 'heuristic' };
}

/** A streaming decoder: bytes in, text out, the byte order mark dropped. */
export interface TextDecoderLike {
  write(bytes: Buffer): string;
  end(): string;
}

export function makeDecoder(encoding: string): TextDecoderLike {
  const decoder = iconv.getDecoder(encoding as Parameters<typeof iconv.getDecoder>[0], { stripBOM: true });
  return {
    write: (bytes) => decoder.write(bytes),
    end: () => decoder.end() ?? '',
  };
}

/** Decodes a sample; an unfinished trailing sequence of a partial sample is left out. */
export function decodeSample(bytes: Buffer, encoding: string, complete: boolean): string {
  const decoder = makeDecoder(encoding);
  const text = decoder.write(bytes);
  return complete ? text + decoder.end() : text;
}

/** The canonical name we report for an encoding named by the user. */
export function canonicalEncoding(name: string): string {
  const c = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  const known: Record<string, string> = {
    utf8: 'utf8',
    utf16le: 'utf16le',
    utf16be: 'utf16be',
    gb18030: 'gb18030',
    gbk: 'gbk',
    gb2312: 'gb2312',
    windows1256: 'windows-1256',
    cp1256: 'windows-1256',
    win1256: 'windows-1256',
  };
  return known[c] ?? name.toLowerCase();
}
