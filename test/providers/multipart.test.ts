import { describe, expect, it } from 'vitest';
import { encodeMultipart, encodeUrlencoded } from '../../src/providers/multipart.js';
import { parseMultipart } from './support/multipart-parser.js';

describe('encodeMultipart', () => {
  it('builds the exact bytes curl sends for a PHP array of text fields', () => {
    const { body, contentType } = encodeMultipart(
      [
        ['service', 'App.Sip_Call.MakeCall'],
        ['destnumber', '13333333333'],
      ],
      'XyZ',
    );
    expect(contentType).toBe('multipart/form-data; boundary=XyZ');
    expect(body.toString('utf8')).toBe(
      '--XyZ\r\nContent-Disposition: form-data; name="service"\r\n\r\nApp.Sip_Call.MakeCall\r\n' +
        '--XyZ\r\nContent-Disposition: form-data; name="destnumber"\r\n\r\n13333333333\r\n' +
        '--XyZ--\r\n',
    );
  });

  it('keeps field order, empty values and UTF-8 bytes', () => {
    const fields: [string, string][] = [
      ['z', '1'],
      ['a', ''],
      ['m', '语音 file.mp3'],
    ];
    const { body, contentType } = encodeMultipart(fields);
    expect(parseMultipart(body, contentType).map((p) => [p.name, p.value])).toEqual(fields);
    expect(body.includes(Buffer.from('语音 file.mp3', 'utf8'))).toBe(true);
  });

  it('escapes quotes and line breaks in field names', () => {
    const { body } = encodeMultipart([['a"b\r\nc', 'v']], 'B');
    expect(body.toString('utf8')).toContain('name="a%22b%0D%0Ac"');
  });

  it('draws a random boundary each time and refuses a given one that occurs in a value', () => {
    const a = encodeMultipart([['k', 'v']]).contentType;
    const b = encodeMultipart([['k', 'v']]).contentType;
    expect(a).not.toBe(b);
    expect(() => encodeMultipart([['k', 'x--B y']], 'B')).toThrow(/boundary/);
  });
});

describe('encodeUrlencoded', () => {
  it('encodes in order, spaces as +, reserved characters and UTF-8 percent-encoded', () => {
    const { body, contentType } = encodeUrlencoded([
      ['service', 'App.Sip_Call.PlayVoice'],
      ['userid', '1@extGroup-1'],
      ['memo', 'a b&c=d+e 北'],
    ]);
    expect(contentType).toBe('application/x-www-form-urlencoded');
    expect(body.toString('utf8')).toBe('service=App.Sip_Call.PlayVoice&userid=1%40extGroup-1&memo=a+b%26c%3Dd%2Be+%E5%8C%97');
  });
});
