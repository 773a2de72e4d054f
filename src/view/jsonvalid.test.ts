import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidJson, wasCanonical } from './jsonvalid.js';
import { jsonTooDeep } from '../schema/index.js';
import { rng } from '../../test/support/rng.js';

const canonical = (t: string) => isValidJson(t) && wasCanonical();
const roundTrip = (t: string) => JSON.stringify(JSON.parse(t));

/** JSON texts as clients write them: spacing, other number forms, other escapes, repeated and digit keys. */
const written = fc
  .tuple(
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom('', ' ', '\n  '),
    fc.array(fc.constantFrom('1.50', '1e2', '-0', '0.1', '1E-7', '12345678901234567890', '"\\/"', '"\\u00e9"', '"\\u001F"', '"\\u001f"', '"\\ud83d\\ude00"', '"😀"', '{"a":1,"a":2}', '{"2":1,"1":0}', '{"b":1,"a":2}'), { maxLength: 3 }),
  )
  .map(([v, space, extra]) => {
    const base = JSON.stringify(v, null, space.length > 0 ? space.length : undefined);
    return extra.length === 0 ? base : `[${[base, ...extra].join(`,${space}`)}]`;
  });

describe('wasCanonical', () => {
  it('says canonical only of texts JSON.stringify(JSON.parse()) gives back unchanged', () => {
    fc.assert(
      fc.property(written, (t) => {
        if (canonical(t)) expect(roundTrip(t)).toBe(t);
      }),
      { numRuns: 5000 },
    );
  });

  it('says canonical of what JSON.stringify writes (keys not starting with a digit, at most 32 per object)', () => {
    const digitKey = (v: unknown): boolean =>
      typeof v === 'object' && v !== null && (Array.isArray(v) ? v.some(digitKey) : Object.entries(v).some(([k, x]) => /^\d/.test(k) || digitKey(x)));
    const value = fc.jsonValue({ maxDepth: 4 }).filter((v) => !digitKey(v));
    fc.assert(
      fc.property(value, (v) => {
        const t = JSON.stringify(v);
        if (isValidJson(t)) expect(wasCanonical(), t).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses each way a text can differ from its round trip', () => {
    for (const t of ['{"a": 1}', ' 1', '1.50', '1e2', '-0', '1E-7', '12345678901234567890', '"\\/"', '"\\u00e9"', '"\\u001F"', '"\\ud83d\\ude00"', '{"a":1,"a":2}', '{"b":{"x":1,"x":1}}', '{"1":0}', '\ufeff{}']) {
      expect(isValidJson(t), t).toBe(true);
      expect(wasCanonical(), t).toBe(false);
    }
    for (const t of ['{}', '{"a":[{"x":1},{"x":2}],"b":{"x":3}}', '"\\u001f\\n\\t\\"\\\\"', '"é😀\u2028"', '-1.5e-7', '1e+21', '123456789012345', 'null', '[]', '"\\u0000"']) {
      expect(isValidJson(t), t).toBe(true);
      expect(wasCanonical(), t).toBe(true);
      expect(roundTrip(t)).toBe(t);
    }
  });
});

describe('jsonTooDeep (the ingest refuses what ClickHouse would not read)', () => {
  it('agrees with isValidJson on valid texts nested around ClickHouse\'s limit', () => {
    const rnd = rng(7);
    let deep = 0;
    for (let i = 0; i < 400; i++) {
      const depth = 1015 + Math.floor(rnd() * 20);
      let t = rnd() < 0.5 ? '"[{\\\\\\""' : rnd() < 0.5 ? '0' : '';
      for (let d = 0; d < depth; d++) {
        const r = rnd();
        t = r < 0.4 ? `[${t}]` : r < 0.8 ? `{"k${d}":${t === '' ? 'null' : t}}` : `[1,"]",${t === '' ? '[]' : t}]`;
      }
      const valid = isValidJson(t);
      expect(jsonTooDeep(t), t.slice(0, 80)).toBe(!valid);
      if (!valid) deep++;
    }
    expect(deep).toBeGreaterThan(100);
    expect(deep).toBeLessThan(300);
  });
});
