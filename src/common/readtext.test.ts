import type { HttpResponse } from 'uWebSockets.js';
import { describe, expect, it } from 'vitest';
import { readText } from './http.js';

/** A response whose body arrives in these chunks, each in memory uWS reuses (zeroed) after its callback. */
function bodyOf(chunks: Buffer[], max: number): { text: string | null; tooLarge: number } {
  const got = { text: null as string | null, tooLarge: 0 };
  let onData: ((chunk: ArrayBuffer, last: boolean) => void) | null = null;
  const res = { onData: (f: typeof onData) => void (onData = f) } as unknown as HttpResponse;
  readText(res, max, (t) => void (got.text = t), () => void got.tooLarge++);
  chunks.forEach((c, i) => {
    const memory = new ArrayBuffer(c.length);
    new Uint8Array(memory).set(c);
    onData!(memory, i === chunks.length - 1);
    new Uint8Array(memory).fill(0);
  });
  return got;
}

describe('readText', () => {
  const body = Buffer.from(JSON.stringify({ query: '{ user(id: "é😀") { id } }', variables: { id: 'ünï' } }), 'utf8');

  it('decodes a body in one chunk, and one in chunks that split a character', () => {
    expect(bodyOf([body], 1 << 10).text).toBe(body.toString('utf8'));
    const cut = body.indexOf(Buffer.from('😀')) + 2;
    for (const parts of [[body.subarray(0, cut), body.subarray(cut)], [body.subarray(0, 1), body.subarray(1, cut), body.subarray(cut)]]) {
      expect(bodyOf(parts, 1 << 10)).toEqual({ text: body.toString('utf8'), tooLarge: 0 });
    }
  });

  it('refuses once past the bound and decodes nothing', () => {
    expect(bodyOf([body], body.length - 1)).toEqual({ text: null, tooLarge: 1 });
    expect(bodyOf([body.subarray(0, 10), body.subarray(10), Buffer.from('x')], body.length)).toEqual({ text: null, tooLarge: 1 });
    expect(bodyOf([body], body.length).text).toBe(body.toString('utf8'));
  });
});
