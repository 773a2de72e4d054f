// Vendor request bodies into JSON, as the vendors' clients send them:
// - JSON (any content type, as for Segment): `{...}` or `[...]`;
// - gzip without a Content-Encoding header (posthog-js: `?compression=gzip-js`, or the magic bytes);
// - form-encoded `data=<base64 JSON>` (Mixpanel, posthog-js's sendBeacon and older transports),
//   `data=<lz-string base64>` with `compression=lz64` in the query or the form, or `data=<JSON>`;
// - GET with `?data=<base64 JSON>` (Mixpanel's and Segment's pixels).
// `Content-Encoding` (gzip/deflate) is undone before this, by the edge, as for every body.
import { isUtf8 } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { HttpError } from '../../common/errors.js';
import { tooLarge } from '../body.js';
import { decompressLz64, Lz64Error } from './lz64.js';

/** First byte of a JSON object or array, after optional whitespace. */
function startsJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) return true;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return false;
}

/**
 * Reads JSON text the way a translation wants it (readPosthogJson: properties kept as text), or
 * returns null to leave it to JSON.parse (whose messages are the ones an invalid body gets).
 */
export type JsonReader = (text: string) => unknown;

function parseJson(text: string, what: string, read?: JsonReader): unknown {
  if (read !== undefined) {
    const v = read(text);
    if (v !== null) return v;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError('malformed_json', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * The JSON text of `data` (a form's or the query's): JSON as is, lz-string base64 (lz64), or
 * base64 (standard or URL-safe) JSON; and what to call it in a message.
 */
function dataText(data: string, compression: string | null, limit: number): { text: string; what: string } {
  if (compression === 'lz64') {
    try {
      return { text: decompressLz64(plusRestored(data), limit), what: 'the lz64 data' };
    } catch (err) {
      if (err instanceof RangeError) throw tooLarge(limit);
      if (err instanceof Lz64Error) throw new HttpError('corrupt_body', `the lz64 data could not be decompressed: ${err.message}`);
      throw err;
    }
  }
  if (startsJson(data)) return { text: data, what: 'the data field' };
  const bytes = Buffer.from(plusRestored(data), 'base64'); // takes both alphabets, padding optional
  if (bytes.length === 0) throw new HttpError('malformed_json', 'the data field is empty or not base64');
  if (!isUtf8(bytes)) throw new HttpError('not_utf8', 'the base64 data field is not valid UTF-8');
  return { text: bytes.toString('utf8'), what: 'the base64 data field' };
}

/**
 * Base64 (or lz-string's base64) with its spaces turned back into '+'. A '+' sent unescaped, as a
 * pixel's `<img src="...?data=' + btoa(json) + '">` or a hand-built form writes it, reads as a space
 * once form-decoded, and Buffer.from(, 'base64') skips spaces, so the bytes would shift. Base64
 * never holds a space, so each one was a '+' (PostHog's capture restores them the same way).
 */
function plusRestored(data: string): string {
  return data.includes(' ') ? data.replaceAll(' ', '+') : data;
}

export interface VendorPayload {
  value: unknown;
  /** The JSON text `value` was read from (to read it again for another vendor on a shared path). */
  text: string;
  /** Form fields and query parameters (the query first, a form field wins). */
  params: URLSearchParams;
  /** posthog-js's `compression` (query or form), or null. */
  compression: string | null;
  /** The events came as `data=`, in a form body or the query (Mixpanel's legacy form; posthog-js's beacon form). */
  form: boolean;
}

/**
 * The JSON a vendor request carries. `body` is the body with its Content-Encoding undone (empty
 * for GET), `query` the raw query string; `read` reads the JSON text where given. Throws
 * HttpError (400 / 413).
 */
export function readVendorPayload(body: Buffer, query: string, limit: number, read?: JsonReader): VendorPayload {
  const params = new URLSearchParams(query);
  let compression = params.get('compression');
  let plain = body;
  if (plain.length >= 2 && plain[0] === 0x1f && plain[1] === 0x8b) {
    // posthog-js's gzip-js: gzip with no Content-Encoding header (the magic bytes are proof enough).
    try {
      plain = gunzipSync(plain, { maxOutputLength: limit + 1 });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge(limit);
      throw new HttpError('corrupt_body', `the gzip body could not be decompressed: ${(err as Error).message}`);
    }
    if (plain.length > limit) throw tooLarge(limit);
    compression = null;
  } else if (compression === 'gzip-js' || compression === 'gzip') {
    throw new HttpError('corrupt_body', `compression=${compression} but the body is not gzip`);
  }
  if (plain.length === 0) {
    const data = params.get('data');
    if (data === null) throw new HttpError('invalid_body', 'no events: send a JSON body or data=');
    return formPayload(data, params, compression, limit, read);
  }
  if (!isUtf8(plain)) throw new HttpError('not_utf8', 'the body is not valid UTF-8');
  const text = plain.toString('utf8');
  if (startsJson(text)) return { value: parseJson(text, 'the body', read), text, params, compression, form: false };
  // A form: data=...&compression=... (fields override the query's).
  const form = new URLSearchParams(text);
  const data = form.get('data');
  if (data === null) throw new HttpError('malformed_json', 'the body is neither JSON nor a form with a data field');
  for (const [k, v] of form) if (k !== 'data') params.set(k, v);
  return formPayload(data, params, params.get('compression'), limit, read);
}

/** The payload of a request whose events came as `data=`. */
function formPayload(data: string, params: URLSearchParams, compression: string | null, limit: number, read?: JsonReader): VendorPayload {
  const d = dataText(data, compression, limit);
  return { value: parseJson(d.text, d.what, read), text: d.text, params, compression, form: true };
}
