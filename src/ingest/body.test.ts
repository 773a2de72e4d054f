import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { contentEncoding, decodeUtf8, inflate, withoutBom } from './body.js';
import { HttpError } from '../common/errors.js';

const codeOf = (f: () => unknown) => {
  try {
    f();
    return null;
  } catch (err) {
    return err instanceof HttpError ? err.code : String(err);
  }
};

describe('request bodies', () => {
  it('takes gzip, deflate and identity encodings, nothing else', () => {
    expect(['', 'gzip', 'GZIP', 'x-gzip', 'deflate', 'identity'].map(contentEncoding)).toEqual(['identity', 'gzip', 'gzip', 'gzip', 'deflate', 'identity']);
    expect(['br', 'zstd', 'gzip, br', 'compress'].map(contentEncoding)).toEqual([null, null, null, null]);
  });

  it('drops a leading UTF-8 byte order mark, and nothing else', () => {
    const json = Buffer.from('{"a":1}');
    expect(withoutBom(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json])).toString()).toBe('{"a":1}');
    expect(withoutBom(json)).toBe(json);
    expect(withoutBom(Buffer.from([0xef, 0xbb]))).toEqual(Buffer.from([0xef, 0xbb]));
    const inner = Buffer.from('{"a":"\ufeff"}');
    expect(withoutBom(inner)).toBe(inner);
  });

  it('inflates gzip, zlib and raw deflate bodies', () => {
    const text = '{"userId":"u","event":"e"}';
    expect(inflate(gzipSync(text), 'gzip', 1000).toString()).toBe(text);
    expect(inflate(deflateSync(text), 'deflate', 1000).toString()).toBe(text);
    expect(inflate(deflateRawSync(text), 'deflate', 1000).toString()).toBe(text);
  });

  it('stops inflating at the limit (zip bombs) and names corrupt data', () => {
    const bomb = gzipSync(Buffer.alloc(20_000_000));
    expect(bomb.length).toBeLessThan(50_000);
    expect(codeOf(() => inflate(bomb, 'gzip', 500 * 1024))).toBe('body_too_large');
    expect(codeOf(() => inflate(deflateSync(Buffer.alloc(1001)), 'deflate', 1000))).toBe('body_too_large');
    expect(inflate(gzipSync(Buffer.alloc(1000)), 'gzip', 1000).length).toBe(1000);
    expect(codeOf(() => inflate(Buffer.from('not gzip'), 'gzip', 1000))).toBe('corrupt_body');
    expect(codeOf(() => inflate(Buffer.from([0xff, 0x00, 0x12]), 'deflate', 1000))).toBe('corrupt_body');
    expect(codeOf(() => inflate(gzipSync('x').subarray(0, 12), 'gzip', 1000))).toBe('corrupt_body');
  });

  it('accepts only valid UTF-8', () => {
    expect(decodeUtf8(Buffer.from('héllo ✓ 🎉'))).toBe('héllo ✓ 🎉');
    expect(codeOf(() => decodeUtf8(Buffer.from([0x7b, 0xff, 0x7d])))).toBe('not_utf8');
    expect(codeOf(() => decodeUtf8(Buffer.from([0xed, 0xa0, 0x80])))).toBe('not_utf8'); // encoded surrogate
    expect(codeOf(() => decodeUtf8(Buffer.from([0xe2, 0x82])))).toBe('not_utf8'); // truncated sequence
  });
});
