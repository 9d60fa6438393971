/**
 * Refusing what is not a text contact list, from its first bytes: known
 * binary formats by their signature, then text full of control characters
 * (binary content) or of undecodable sequences (a wrong encoding).
 */

interface Signature {
  bytes: number[];
  what: string;
  fix: string;
}

const SIGNATURES: Signature[] = [
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a zip archive (an Excel .xlsx or OpenDocument workbook?)', fix: 'open it and save it as CSV' },
  { bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], what: 'an old Excel .xls workbook', fix: 'open it and save it as CSV' },
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document', fix: 'export the contacts as CSV instead' },
  { bytes: [0x1f, 0x8b], what: 'gzip-compressed', fix: 'decompress it first' },
  { bytes: [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66], what: 'an SQLite database', fix: 'export the contacts as CSV instead' },
];

/** Names a known binary format by its signature, or null. */
export function binarySignature(bytes: Uint8Array): { what: string; fix: string } | null {
  for (const sig of SIGNATURES) {
    if (bytes.length >= sig.bytes.length && sig.bytes.every((b, i) => bytes[i] === b)) {
      return { what: sig.what, fix: sig.fix };
    }
  }
  return null;
}

function isControl(code: number): boolean {
  return (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f;
}

export interface TextQuality {
  chars: number;
  /** C0 control characters other than tab and line breaks, and DEL. */
  controls: number;
  /** U+FFFD produced by the decoder for bytes it could not decode. */
  replacements: number;
}

export function textQuality(text: string): TextQuality {
  let controls = 0;
  let replacements = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isControl(code)) controls++;
    else if (code === 0xfffd) replacements++;
  }
  return { chars: text.length, controls, replacements };
}

/** More than 1% control characters: binary content. */
export function looksBinary(q: TextQuality): boolean {
  return q.controls > 0 && q.controls > q.chars * 0.01;
}

/** More than 1% undecodable sequences: the wrong encoding. */
export function looksUndecodable(q: TextQuality): boolean {
  return q.replacements > 0 && q.replacements > q.chars * 0.01;
}
