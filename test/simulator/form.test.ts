import { describe, expect, it } from 'vitest';
import { FormBodyError, parseFormBody, parseHeaderValue, parseMultipart } from '../../src/simulator/form.js';
import { multipart } from './support.js';

describe('parseHeaderValue', () => {
  it('reads a quoted boundary with an escaped quote and a semicolon inside', () => {
    const v = parseHeaderValue('Multipart/Form-Data; charset=utf-8; boundary="a;b \\"c\\""');
    expect(v.value).toBe('multipart/form-data');
    expect(v.params).toEqual({ charset: 'utf-8', boundary: 'a;b "c"' });
  });

  it('refuses an unterminated quoted parameter', () => {
    expect(() => parseHeaderValue('form-data; name="oops')).toThrow(FormBodyError);
  });
});

describe('parseMultipart', () => {
  it('parses text fields, including empty values and values holding CRLF', () => {
    const body = multipart({ service: 'App.Sip_Call.MakeCall', empty: '', note: 'line one\r\nline two', city: '上海' }, 'XyZ');
    expect(parseMultipart(body, 'XyZ')).toEqual({
      service: 'App.Sip_Call.MakeCall',
      empty: '',
      note: 'line one\r\nline two',
      city: '上海',
    });
  });

  it('ignores the preamble, the epilogue, part content types and file parts', () => {
    const body = Buffer.from(
      'this is a preamble\r\n' +
        '--b1\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n1\r\n' +
        '--b1\r\ncontent-disposition: form-data; name="upload"; filename="x.wav"\r\n\r\nRIFF....\r\n' +
        '--b1  \r\nContent-Disposition: form-data; name="b"\r\n\r\n2\r\n' +
        '--b1--\r\nepilogue',
    );
    expect(parseMultipart(body, 'b1')).toEqual({ a: '1', b: '2' });
  });

  it('keeps the last value of a repeated field', () => {
    const body = Buffer.from('--q\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--q\r\nContent-Disposition: form-data; name="x"\r\n\r\n2\r\n--q--\r\n');
    expect(parseMultipart(body, 'q')).toEqual({ x: '2' });
  });

  it('tolerates a body written with bare LF line breaks', () => {
    const body = Buffer.from('--q\nContent-Disposition: form-data; name="x"\n\nvalue\n--q--\n');
    expect(parseMultipart(body, 'q')).toEqual({ x: 'value' });
  });

  it('says what is wrong with a malformed body', () => {
    expect(() => parseMultipart(Buffer.from('no boundary here'), 'q')).toThrow(/does not contain its boundary/);
    expect(() => parseMultipart(Buffer.from('--q\r\nContent-Disposition: form-data; name="x"\r\n\r\nvalue'), 'q')).toThrow(/no closing boundary/);
    expect(() => parseMultipart(Buffer.from('--q\r\nContent-Type: text/plain\r\n\r\nv\r\n--q--'), 'q')).toThrow(/Content-Disposition/);
    expect(() => parseMultipart(Buffer.from('--q\r\nContent-Disposition: form-data; name="x"\r\nv\r\n--q--'), 'q')).toThrow(/blank line/);
  });
});

describe('parseFormBody', () => {
  it('chooses the parser by Content-Type, with a quoted boundary', () => {
    const body = multipart({ a: '1' }, 'with space');
    expect(parseFormBody('multipart/form-data; boundary="with space"', body)).toEqual({ a: '1' });
    expect(parseFormBody('application/x-www-form-urlencoded; charset=UTF-8', Buffer.from('a=1+2&b=%E4%B8%8A'))).toEqual({ a: '1 2', b: '上' });
  });

  it('refuses an unsupported Content-Type and a multipart body without boundary', () => {
    expect(() => parseFormBody('application/json', Buffer.from('{}'))).toThrow(/unsupported Content-Type application\/json/);
    expect(() => parseFormBody('multipart/form-data', Buffer.from('x'))).toThrow(/boundary parameter/);
  });
});
