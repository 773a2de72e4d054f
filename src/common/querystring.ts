// A request's query string, read once for every read API (the query port's REST routes, the
// audit log, /v1/volume and /v1/alerts): names and values as URLSearchParams gives them, with
// unknown, repeated and empty parameters refused, and malformed percent-encoding refused too
// (URLSearchParams would keep `%zz` as it is and make `%E0` a U+FFFD, so a bad value would be
// looked up instead of refused, where a bad userId in the path gets 400).
import { InvalidParameterError } from './errors.js';

/** Parses a raw query string (as uWS gives it, without the '?'). */
export function readQuery(query: string, allowed: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  if (query === '') return out;
  // Hot path (every page): without '%' or '+' nothing is decoded, so the pieces are the text's.
  const decode = !plain(query);
  const text = query.charCodeAt(0) === 0x3f ? query.slice(1) : query;
  for (let at = 0; at <= text.length; ) {
    let end = text.indexOf('&', at);
    if (end < 0) end = text.length;
    if (end > at) {
      const eq = text.indexOf('=', at);
      const rawName = eq < 0 || eq > end ? text.slice(at, end) : text.slice(at, eq);
      const rawValue = eq < 0 || eq > end ? '' : text.slice(eq + 1, end);
      const name = decode ? component(rawName) : rawName;
      if (name === null) throw new InvalidParameterError(rawName, `parameter name ${JSON.stringify(rawName.slice(0, 100))} is not valid percent-encoded UTF-8`);
      // The name is checked first, so an unknown one is reported as such.
      if (!allowed.has(name)) {
        throw new InvalidParameterError(name, `unknown parameter ${JSON.stringify(name.slice(0, 100))}; allowed: ${[...allowed].join(', ')}`);
      }
      if (out.has(name)) throw new InvalidParameterError(name, `${name} is given more than once`);
      const value = decode ? component(rawValue) : rawValue;
      if (value === null) throw new InvalidParameterError(name, `${name} is not valid percent-encoded UTF-8`);
      if (value === '') throw new InvalidParameterError(name, `${name} is empty; leave it out instead`);
      out.set(name, value);
    }
    at = end + 1;
  }
  return out;
}

/**
 * The first name or value of a raw query string whose percent-encoding is not UTF-8, as the 400
 * readQuery would give, or null. For a query string another library parses (GraphQL's GET, read
 * by graphql-http through URLSearchParams, which keeps `%zz` as it is).
 */
export function malformedEncoding(query: string): InvalidParameterError | null {
  if (plain(query)) return null;
  const text = query.charCodeAt(0) === 0x3f ? query.slice(1) : query;
  for (const piece of text.split('&')) {
    const eq = piece.indexOf('=');
    const rawName = eq < 0 ? piece : piece.slice(0, eq);
    const name = component(rawName);
    if (name === null) return new InvalidParameterError(rawName, `parameter name ${JSON.stringify(rawName.slice(0, 100))} is not valid percent-encoded UTF-8`);
    if (eq >= 0 && component(piece.slice(eq + 1)) === null) return new InvalidParameterError(name, `${name} is not valid percent-encoded UTF-8`);
  }
  return null;
}

/**
 * True when the text is what URLSearchParams would give: no '%' or '+' to decode, no leading '?'
 * to drop, and no UTF-16 surrogate (a lone one it would replace).
 */
function plain(query: string): boolean {
  if (query.charCodeAt(0) === 0x3f) return false;
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c === 0x25 || c === 0x2b || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with each lone UTF-16 surrogate made U+FFFD, as URLSearchParams makes one and as the
 * ingest stores one (UTF-8 has none): a value given already decoded (a GraphQL argument) then
 * names what was stored under it. String.prototype.toWellFormed, which is ES2024.
 */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

/** A name or value decoded ('+' is a space), or null when its percent-encoding is not UTF-8. */
function component(raw: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return null;
  }
  // A lone surrogate sent as it is (not percent-encoded) becomes U+FFFD, as URLSearchParams makes it.
  return wellFormed(decoded);
}
