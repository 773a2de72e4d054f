import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { rng } from '../../test/support/rng.js';
import { InvalidParameterError } from './errors.js';
import { malformedEncoding, readQuery } from './querystring.js';

/** Whether a name or value is malformed percent-encoding: a '%' without two hex digits, or bytes that are not UTF-8. */
function malformed(raw: string): boolean {
  const bytes: number[] = [];
  const text = raw.replaceAll('+', ' ');
  for (let i = 0; i < text.length; ) {
    if (text[i] === '%') {
      if (!/^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) return true;
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const cp = text.codePointAt(i)!;
      // Characters sent as they are count as their UTF-8 (a lone surrogate as U+FFFD, as URLSearchParams takes it).
      bytes.push(...Buffer.from(String.fromCodePoint(cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp), 'utf8'));
      i += cp > 0xffff ? 2 : 1;
    }
  }
  return !isUtf8(Uint8Array.from(bytes));
}

/** URLSearchParams' reading, with malformed percent-encoding refused (names first). */
function reference(query: string, allowed: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  if (query === '') return out;
  const text = query.startsWith('?') ? query.slice(1) : query;
  for (const piece of text.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const rawName = eq < 0 ? piece : piece.slice(0, eq);
    const rawValue = eq < 0 ? '' : piece.slice(eq + 1);
    if (malformed(rawName)) throw new InvalidParameterError(rawName, `parameter name ${JSON.stringify(rawName.slice(0, 100))} is not valid percent-encoded UTF-8`);
    const [[name, value]] = [...new URLSearchParams(piece.startsWith('?') ? `&${piece}` : piece)] as [[string, string]];
    if (!allowed.has(name)) {
      throw new InvalidParameterError(name, `unknown parameter ${JSON.stringify(name.slice(0, 100))}; allowed: ${[...allowed].join(', ')}`);
    }
    if (out.has(name)) throw new InvalidParameterError(name, `${name} is given more than once`);
    if (malformed(rawValue)) throw new InvalidParameterError(name, `${name} is not valid percent-encoded UTF-8`);
    if (value === '') throw new InvalidParameterError(name, `${name} is empty; leave it out instead`);
    out.set(name, value);
  }
  return out;
}

const outcome = (fn: () => Map<string, string>) => {
  try {
    return { params: [...fn()] };
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidParameterError);
    return { parameter: (err as InvalidParameterError).parameter, message: (err as Error).message };
  }
};

describe('readQuery', () => {
  it('reads every query string as URLSearchParams does, and refuses malformed percent-encoding', () => {
    const allowed = new Set(['from', 'to', 'type', 'event', 'limit', 'cursor', 'a b', 'é']);
    // Pieces that make valid, refused and odd queries: names, separators, encodings, non-ASCII, lone surrogates.
    const parts = ['from', 'to', 'type', 'event', 'limit', 'cursor', 'x', '=', '=', '&', '&', '&&', '?', '+', '%20', '%2', '%zz', '%', '%C3%A9', '%C3', '%E0%A4', '%ED%A0%80', 'é', 'a b', '\ud800', '😀', '1', 'track', ':', '/'];
    const r = rng(5);
    let plain = 0;
    let badEncoding = 0;
    for (let i = 0; i < 20_000; i++) {
      let q = '';
      const n = Math.floor(r() * 9);
      for (let j = 0; j < n; j++) q += parts[Math.floor(r() * parts.length)];
      if (!/[%+?\ud800-\udfff]/.test(q)) plain++;
      const expected = outcome(() => reference(q, allowed));
      if (expected.message?.includes('percent-encoded') === true) badEncoding++;
      expect(outcome(() => readQuery(q, allowed)), q).toEqual(expected);
    }
    // Most went through the fast path (no '%', '+', '?' or surrogate); hundreds were refused for their encoding.
    expect(plain).toBeGreaterThan(5000);
    expect(badEncoding).toBeGreaterThan(500);
  });

  it('refuses a value that is not UTF-8 or not percent-encoding, naming its parameter', () => {
    const allowed = new Set(['event']);
    for (const q of ['event=%E0%A4', 'event=50%', 'event=%zz', 'event=%ED%A0%80']) {
      expect(outcome(() => readQuery(q, allowed)), q).toEqual({ parameter: 'event', message: 'event is not valid percent-encoded UTF-8' });
    }
    expect(readQuery('event=Order%20Completed&', allowed)).toEqual(new Map([['event', 'Order Completed']]));
    expect(readQuery('?event=a+b%2B%C3%A9', allowed)).toEqual(new Map([['event', 'a b+é']]));
  });
});

describe('malformedEncoding', () => {
  it('names the first name or value whose percent-encoding is not UTF-8, as readQuery refuses it', () => {
    expect(malformedEncoding('query=%7B%20x%20%7D&variables=%7B%7D')).toBeNull();
    expect(malformedEncoding('?query=a+b')).toBeNull();
    expect(malformedEncoding('a')).toBeNull();
    const value = malformedEncoding('query=ok&variables=%zz');
    expect(value).toBeInstanceOf(InvalidParameterError);
    expect(value!.parameter).toBe('variables');
    expect(value!.message).toBe('variables is not valid percent-encoded UTF-8');
    expect(malformedEncoding('query=%E0')!.parameter).toBe('query');
    const name = malformedEncoding('q%zz=1&query=x');
    expect(name!.parameter).toBe('q%zz');
    expect(name!.message).toMatch(/^parameter name "q%zz" is not valid/);
  });
});
