import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { xorshift32 } from '../../test/support/hostile-json.js';
import { BodyShape } from './fastbody.js';

const QUERY = 'query Page($id: String!, $first: Int) { user(id: $id) { events(first: $first) { edges { node { eventId } } } } }';
/** A document whose JSON has escapes and non-ASCII (its bytes must still match). */
const ODD_QUERY = 'query {\n  user(id: "ü\\"\t") { events { pageInfo { hasNextPage } } }\n}';

const NAMES = ['id', 'first', 'type', 'event', 'from', 'to', 'after', '__proto__', 'constructor', 'a1', '_x', 'é', 'a b', ''];
const STRINGS = ['user-1234', '', 'a"b', 'a\\b', 'ü', '日本', '\u0000', '\t', '\u007f', '\ud800', 'x/y', ' spaced ', '{"a":1}'];
const NUMBERS = ['0', '-0', '7', '-12', '50', '007', '1.5', '1e3', '2147483648', '123456789012345', '1234567890123456', '-', '1E2', '0.0', '99999999999999999999'];

/** A body near the usual shape: JSON.stringify's, or a text edited so JSON.parse reads it otherwise or not at all. */
function body(rnd: () => number, query: string): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const members: string[] = [];
  const n = Math.floor(rnd() * 5);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const value = r < 0.45 ? JSON.stringify(pick(STRINGS)) : r < 0.8 ? pick(NUMBERS) : r < 0.88 ? 'null' : r < 0.92 ? 'true' : r < 0.96 ? '[1]' : '{"k":"v"}';
    members.push(`${JSON.stringify(pick(NAMES))}:${value}`);
  }
  let text = `{"query":${JSON.stringify(query)},"variables":{${members.join(',')}}}`;
  const r = rnd();
  if (r < 0.05) text = text.replace('"variables":{', '"variables": {');
  else if (r < 0.1) text += ' ';
  else if (r < 0.13) text = text.slice(0, -1);
  else if (r < 0.16) text = `${text.slice(0, -1)},"operationName":"Page"}`;
  else if (r < 0.19) text = text.replace('"variables":{', '"variables":null,"x":{');
  else if (r < 0.22) text = text.replace(',"variables":{', ',"variables":{"id":"first",');
  else if (r < 0.25) text = text.replace(/:(\d)/, ':  $1');
  else if (r < 0.28) text = text.replace('}}', '},}');
  return text;
}

describe('BodyShape', () => {
  it('reads what JSON.parse reads, or declines: random bodies near the usual shape', () => {
    const rnd = xorshift32(0x9e3779b9);
    let read = 0;
    let declined = 0;
    for (const query of [QUERY, ODD_QUERY]) {
      const shape = new BodyShape();
      shape.remember(query);
      for (let i = 0; i < 20_000; i++) {
        const text = body(rnd, query);
        const bytes = Buffer.from(text, 'utf8');
        const got = shape.read(bytes);
        if (got === null) {
          declined++;
          continue;
        }
        read++;
        const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
        // The same two members, the same document, the same variables (-0 and 0 told apart).
        if (!isDeepStrictEqual(Object.keys(parsed), ['query', 'variables']) || parsed.query !== shape.query || !isDeepStrictEqual(parsed.variables, got)) {
          throw new Error(`differs from JSON.parse: ${text}\n${JSON.stringify(got)}`);
        }
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      }
    }
    // Both outcomes are exercised (the usual bodies are read, not declined).
    expect(read).toBeGreaterThan(5_000);
    expect(declined).toBeGreaterThan(5_000);
  });

  it('reads the bench client\'s body and gives the remembered document itself', () => {
    const shape = new BodyShape();
    shape.remember(QUERY);
    const vars = { id: 'user-42', first: 20, type: 'track', event: null };
    expect(shape.read(Buffer.from(JSON.stringify({ query: QUERY, variables: vars })))).toEqual(vars);
    expect(shape.read(Buffer.from(JSON.stringify({ query: QUERY, variables: {} })))).toEqual({});
  });

  it('declines another document, and anything before a document is remembered', () => {
    const shape = new BodyShape();
    const text = JSON.stringify({ query: QUERY, variables: { id: 'u' } });
    expect(shape.read(Buffer.from(text))).toBeNull();
    shape.remember(QUERY.replace('Page', 'Other'));
    expect(shape.read(Buffer.from(text))).toBeNull();
    shape.remember(QUERY);
    expect(shape.read(Buffer.from(text))).toEqual({ id: 'u' });
  });
});
