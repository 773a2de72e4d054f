// Request bodies: which encodings are taken (any content type is; JSON is what parses), bounded decompression, and the
// one UTF-8 check + decode.
import { isUtf8 } from 'node:buffer';
import zlib from 'node:zlib';
import { HttpError } from '../common/errors.js';

export type ContentEncoding = 'identity' | 'gzip' | 'deflate';

/** The body's encoding, or null for one we do not take. */
export function contentEncoding(header: string): ContentEncoding | null {
  if (header === '') return 'identity';
  const v = header.trim().toLowerCase();
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'deflate') return 'deflate';
  if (v === 'identity') return 'identity';
  return null;
}

/**
 * Inflates a compressed body, stopping as soon as the output would pass `limit` bytes, so a
 * small "zip bomb" costs at most `limit` bytes of memory and the limits apply to what was meant.
 * Synchronous on purpose: the output is at most 500 KB (about a millisecond of CPU), and the
 * common, uncompressed body never comes here.
 */
export function inflate(body: Buffer, encoding: 'gzip' | 'deflate', limit: number): Buffer {
  const options = { maxOutputLength: limit + 1 };
  try {
    let out: Buffer;
    if (encoding === 'gzip') {
      out = zlib.gunzipSync(body, options);
    } else {
      // HTTP's "deflate" is zlib-wrapped, but some clients send raw deflate; take both.
      try {
        out = zlib.inflateSync(body, options);
      } catch (err) {
        if ((err as { code?: string }).code !== 'Z_DATA_ERROR') throw err;
        out = zlib.inflateRawSync(body, options);
      }
    }
    if (out.length > limit) throw tooLarge(limit);
    return out;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge(limit);
    throw new HttpError('corrupt_body', `the ${encoding} body could not be decompressed: ${(err as Error).message}`, { cause: err });
  }
}

export function tooLarge(limit: number): HttpError {
  return new HttpError('body_too_large', `the body is larger than ${Math.round(limit / 1024)} KB`);
}

/**
 * The body without a leading UTF-8 byte order mark: JSON must not carry one, but a parser may
 * ignore it (RFC 8259, 8.1), and some Windows clients send it; JSON.parse would refuse the body.
 */
export function withoutBom(body: Buffer): Buffer {
  return body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? body.subarray(3) : body;
}

/** The body as text; UTF-8 is checked once (simdutf) before the decode. */
export function decodeUtf8(body: Buffer): string {
  if (!isUtf8(body)) throw new HttpError('not_utf8', 'the body is not valid UTF-8');
  return body.toString('utf8');
}
