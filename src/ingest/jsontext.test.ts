import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { asciiWords, firstSpecialAscii, JsonText, JsonValue, jsonTextOf, LONE_SURROGATE, parseEventJson, quote, storable, stringify, wellFormed } from './jsontext.js';
import { emptyRecord, normalizeEvent, type NormalizeContext } from './normalize.js';
import { eventBytes } from './rejects.js';
import { hostileString, roundedWide, xorshift32 } from '../../test/support/hostile-json.js';

/**
 * parseEventJson's result with every JsonValue turned back into the value it stands for, and every
 * JsonText checked to hold the text JSON.stringify writes for JSON.parse's value (less a wide
 * integer's rounding) and then taken as that value.
 */
function expand(v: Record<string, unknown>, parsed: Record<string, unknown>, line: string, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x instanceof JsonText) {
      // What is stored: JSON.stringify's text made readable to ClickHouse (stringify).
      const want = stringify(parsed[k]);
      if (roundedWide(x.text) !== want) expect(roundedWide(x.text), line).toBe(want);
      out[k] = parsed[k];
    } else if (x instanceof JsonValue) out[k] = JSON.parse(x.text);
    else if (depth === 0 && k === 'batch' && Array.isArray(x) && Array.isArray(parsed.batch)) {
      const pb = parsed.batch as unknown[];
      out[k] = x.map((e, i) => (isPlainObject(e) && isPlainObject(pb[i]) ? expand(e, pb[i], line, 1) : e));
    } else out[k] = x;
  }
  return out;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;
}

/** Members whose wide integers (a 64-bit id sent as a number) the scanner reads as their digits. */
const IDS = ['userId', 'anonymousId', 'messageId', 'groupId', 'previousId'];

/**
 * v (the scanner's event, or a batch body) with each id the scanner read as a wide integer's
 * digits, where JSON.parse has a number, as that number (checked to be the digits, rounded).
 */
function roundedIds(v: Record<string, unknown>, parsed: Record<string, unknown>): Record<string, unknown> {
  const out = { ...v };
  for (const k of IDS) {
    const x = out[k];
    if (typeof x !== 'string' || typeof parsed[k] !== 'number') continue;
    expect(x).toMatch(/^-?\d{16,20}$/);
    expect(Number(x)).toBe(parsed[k]);
    out[k] = parsed[k];
  }
  if (Array.isArray(out.batch) && Array.isArray(parsed.batch)) {
    const pb = parsed.batch as unknown[];
    out.batch = out.batch.map((e: unknown, i) => (isPlainObject(e) && isPlainObject(pb[i]) ? roundedIds(e, pb[i]) : e));
  }
  return out;
}

/**
 * Checks the contract on one line: null, or JSON.parse's value with canonical JsonText members,
 * except that wide integers keep their digits (compared here rounded, as JSON.parse reads them).
 */
function check(line: string): Record<string, unknown> | null {
  let parsed: unknown;
  let valid = true;
  try {
    parsed = JSON.parse(line);
  } catch {
    valid = false;
  }
  const fast = parseEventJson(line);
  // The same read with the body's bytes (the edge's way), at an offset not a multiple of 4 as a
  // body's may be in a pooled buffer: without bytes the scanner reads an aligned copy of them.
  const utf8 = Buffer.from(line);
  if (utf8.toString() === line) {
    const off = 1 + (line.length % 3);
    const bytes = Buffer.alloc(utf8.length + off);
    utf8.copy(bytes, off);
    const viaBytes = parseEventJson(line, bytes.subarray(off));
    if (!isDeepStrictEqual(viaBytes, fast)) expect(viaBytes, line).toStrictEqual(fast);
  }
  if (!valid) {
    if (fast !== null) expect(fast, line).toBeNull();
    return null;
  }
  if (fast === null) return null;
  if (Object.getPrototypeOf(fast) !== Object.prototype) expect(Object.getPrototypeOf(fast)).toBe(Object.prototype);
  const rounded = roundedIds(fast, parsed as Record<string, unknown>);
  // isDeepStrictEqual first: expect() on every one of thousands of lines is slow.
  const expanded = expand(rounded, parsed as Record<string, unknown>, line);
  if (!isDeepStrictEqual(expanded, parsed)) expect(expanded, line).toStrictEqual(parsed);
  // A rejected event's bytes: the same from either, but for a wide integer's digits (and a lone
  // surrogate in a text written again to keep them, as U+FFFD).
  const text = storable(roundedWide(eventBytes(rounded).toString()));
  const want = storable(roundedWide(JSON.stringify(parsed)));
  if (text !== want) expect(text, line).toBe(want);
  for (const k of ['properties', 'traits', 'context']) {
    const t = fast[k];
    if (!(t instanceof JsonText)) continue;
    const obj = JSON.parse(t.text) as Record<string, unknown>;
    const want = {
      text: JSON.stringify(obj),
      category: typeof obj.category === 'string' ? obj.category : undefined,
      name: typeof obj.name === 'string' ? obj.name : undefined,
      groupId: typeof obj.groupId === 'string' || typeof obj.groupId === 'number' ? obj.groupId : undefined,
      hasIp: 'ip' in obj,
    };
    // The facts are the values JSON.parse read (what the generic path normalizes), so a lone
    // surrogate the written text has as U+FFFD is still one there: compared as the text reads.
    const asText = <T,>(v: T): T => (typeof v === 'string' ? (JSON.parse(wellFormed(JSON.stringify(v))) as T) : v);
    const groupId = typeof t.groupId === 'string' && typeof want.groupId === 'number' ? Number(t.groupId) : asText(t.groupId);
    const got = { text: roundedWide(t.text), category: asText(t.category), name: asText(t.name), groupId, hasIp: t.hasIp };
    if (!isDeepStrictEqual(got, want)) expect(got, line).toStrictEqual(want);
  }
  return fast;
}

const contexts: NormalizeContext[] = [
  { receivedAt: 1_700_000_000_000, source: 'import', sentAt: null, context: null, ip: null, msTimes: true, skew: false },
  { receivedAt: 1_700_000_000_000, source: 'edge', sentAt: 1_699_999_999_000, context: { library: { name: 'batch' }, ip: '9.9.9.9' }, ip: '1.2.3.4' },
  { receivedAt: 1_700_000_000_000, source: 'edge', sentAt: null, context: null, ip: '1.2.3.4' },
];

/** normalizeEvent gives the same record, or the same problem, from either value. */
function sameNormalized(line: string, fast: Record<string, unknown>): void {
  const generic = JSON.parse(line) as Record<string, unknown>;
  for (const ctx of contexts) {
    const a = emptyRecord();
    const b = emptyRecord();
    const g = { ...generic };
    const f = { ...fast };
    // No usable id: normalize would make a random one on each side.
    if (g.messageId === undefined || g.messageId === null || g.messageId === '') g.messageId = f.messageId = 'fixed-id';
    const pa = normalizeEvent(g, null, ctx, a);
    const pb = normalizeEvent(f, null, ctx, b);
    for (const k of ['user_id', 'anonymous_id', 'event_id', 'group_id', 'previous_id', 'properties', 'traits', 'context'] as const) {
      if (typeof b[k] === 'string') (b as unknown as Record<string, string>)[k] = roundedWide(b[k]);
    }
    if (!isDeepStrictEqual(pb, pa)) expect(pb, line).toStrictEqual(pa);
    if (pa === null && !isDeepStrictEqual(b, a)) expect(b, line).toStrictEqual(a);
  }
}

describe('parseEventJson', () => {
  it('keeps a typical event\'s properties, traits and context as their own text', () => {
    const line =
      '{"type":"track","messageId":"m-1","userId":"u-1","event":"Order Completed","timestamp":"2024-01-01T00:00:00.000Z",' +
      '"properties":{"product_id":"p-1","price":10.99,"currency":"EUR","category":"shoes","tags":["a","b"],"n":null,"ok":true,"emoji":"😀 é"},' +
      '"traits":{},"context":{"library":{"name":"analytics.js","version":"4.1.0"},"groupId":42,"ip":"1.2.3.4"}}';
    const v = check(line)!;
    expect(v.properties).toBeInstanceOf(JsonText);
    expect((v.properties as JsonText).text).toBe(line.slice(line.indexOf('{"product_id"'), line.indexOf(',"traits"')));
    expect((v.properties as JsonText).category).toBe('shoes');
    expect(v.traits).toBeInstanceOf(JsonText);
    expect((v.context as JsonText).groupId).toBe(42);
    expect((v.context as JsonText).hasIp).toBe(true);
    // The nested library.name is not the object's own name.
    expect((v.context as JsonText).name).toBeUndefined();
    expect(v.userId).toBe('u-1');
    sameNormalized(line, v);
  });

  it('parses a member on its own when its text is not what JSON.stringify writes', () => {
    const objects = [
      '{"a": 1}',
      '{ "a":1}',
      '{"a":1.0}',
      '{"a":1.50}',
      '{"a":1e3}',
      '{"a":1E-3}',
      '{"a":-0}',
      '{"a":-0.0}',
      '{"a":12345678901234567890123}',
      '{"a":0.0000001}',
      '{"a":"\\/"}',
      '{"a":"\\u0041"}',
      '{"a":"\\u00e9"}',
      '{"a":"\\ud800"}',
      '{"a":"\ud800"}',
      '{"a":"\udc00x"}',
      '{"a":1,"a":2}',
      '{"b":1,"1":2}',
      '{"\\u0061":1}',
      '{"a":[1, 2]}',
      '{"a":{"b":1,"b":2}}',
      '{"category":"x","category":"y"}',
    ];
    for (const o of objects) {
      const line = `{"type":"track","userId":"u","event":"e","properties":${o}}`;
      const v = check(line)!;
      expect(v, o).not.toBeNull();
      expect(v.properties, o).not.toBeInstanceOf(JsonText);
      sameNormalized(line, v);
    }
  });

  it('keeps members whose text is already canonical', () => {
    const objects = ['{"a":0}', '{"a":-1}', '{"a":0.5}', '{"a":-0.25}', '{"a":0.000001}', '{"a":123456789012345}', '{"a":1234567890123456}', '{"a":12345678901234567000}', '{"a":"\\"\\\\\\n\\t\\r\\b\\f"}', '{"a":{"a":1},"b":{"a":2}}', '{"__proto__":1}', '{"":1,"-1":2}'];
    for (const o of objects) {
      const v = check(`{"type":"track","userId":"u","event":"e","properties":${o}}`)!;
      expect(v.properties, o).toBeInstanceOf(JsonText);
    }
  });

  it('keeps the digits of integers JSON.parse would round that fit 64 bits, in properties, traits, context and ids', () => {
    const wide = ['12345678901234567890', '9007199254740993', '-9223372036854775808', '18446744073709551615', '-9007199254740993'];
    for (const n of wide) {
      // Canonical text is kept as it is; text with whitespace is written again, the digits kept.
      for (const [o, want] of [
        [`{"id":${n},"list":[${n},1.5]}`, `{"id":${n},"list":[${n},1.5]}`],
        [`{ "b": 1.50, "id": ${n}, "1": [${n}] }`, `{"1":[${n}],"b":1.5,"id":${n}}`],
      ] as const) {
        const line = `{"type":"track","userId":${n},"event":"e","properties":${o},"traits":${o},"context":${o}}`;
        const v = parseEventJson(line)!;
        for (const k of ['properties', 'traits', 'context']) {
          expect(v[k], `${k} ${o}`).toBeInstanceOf(JsonText);
          expect((v[k] as JsonText).text, `${k} ${o}`).toBe(want);
        }
        expect(v.userId, o).toBe(n);
        const record = emptyRecord();
        expect(normalizeEvent(v, null, contexts[2]!, record)).toBeNull();
        expect(record.user_id).toBe(n);
        expect(record.properties).toBe(want);
        // The record reads back as the sender's numbers only where a double holds them.
        expect(record.properties).not.toBe(JSON.stringify(JSON.parse(want)));
      }
    }
    // So does a rejected event's record (eventBytes: the bytes of an invalid event of a batch).
    const refused = parseEventJson(`{"batch":[{"type":"track","properties":{ "id": ${wide[0]} },"context":{"id":${wide[1]}},"integrations":{ "x": 1.50 }}]}`)!;
    expect(eventBytes((refused.batch as unknown[])[0]).toString()).toBe(`{"type":"track","properties":{"id":${wide[0]}},"context":{"id":${wide[1]}},"integrations":{"x":1.5}}`);
    // A context's groupId (normalize's group_id of a group call) keeps its digits too.
    const group = parseEventJson('{"type":"group","userId":"u","context":{ "groupId": 12345678901234567890 }}')!;
    expect((group.context as JsonText).groupId).toBe('12345678901234567890');
    const inline = parseEventJson('{"type":"group","userId":"u","context":{"groupId":12345678901234567890}}')!;
    expect((inline.context as JsonText).groupId).toBe('12345678901234567890');
    // Beyond 64 bits ClickHouse refuses the text: the double is stored, as JSON.stringify writes it.
    const big = parseEventJson('{"type":"track","userId":"u","event":"e","properties":{"a":123456789012345678901,"b":18446744073709551616}}')!;
    expect(big.properties).toStrictEqual({ a: 123456789012345680000, b: 18446744073709552000 });
    // A sender's NUL (the marker's character) keeps the digits, in a string, a key, a groupId.
    const nul = parseEventJson('{"type":"track","userId":"u","event":"e","properties":{ "s": "\\u0000", "\\u0000k": "x\\u0000y", "a": 9007199254740993 }}')!;
    expect(jsonTextOf(nul.properties as object)).toBe('{"s":"\\u0000","\\u0000k":"x\\u0000y","a":9007199254740993}');
    const gid = parseEventJson('{"type":"track","userId":"u","event":"e","context":{ "groupId": "\\u0000x0", "a": 9007199254740993 }}')!;
    expect(gid.context).toBeInstanceOf(JsonText);
    expect((gid.context as JsonText).groupId).toBe('\u0000x0');
    expect((gid.context as JsonText).text).toBe('{"groupId":"\\u0000x0","a":9007199254740993}');
    // Only a sender's string that could read as a marker (a NUL then a digit, however escaped)
    // leaves the text to JSON.parse: rounded, never confused.
    for (const s of ['"\\u00000"', '"\\u0000\\u0030"', '"a\\u0022\\u00000"', '"x\\u00001"']) {
      const odd = parseEventJson(`{"type":"track","userId":"u","event":"e","properties":{ "s": ${s}, "a": 9007199254740993 }}`)!;
      expect(odd.properties, s).toStrictEqual({ s: JSON.parse(s) as string, a: 9007199254740992 });
    }
  });

  it('keeps the digits of a wide integer in a body that also holds nesting as deep as an event may be', () => {
    // 1024 levels (what ClickHouse reads) is valid; the scanner once left anything past 64 to
    // JSON.parse, which rounded every wide integer of every event of the body.
    const deep = `${'{"d":'.repeat(1023)}1${'}'.repeat(1023)}`;
    const body = parseEventJson(`{"batch":[{"type":"track","userId":"u","event":"e","properties":{"id": 12345678901234567890}},{"type":"track","userId":"u","event":"e","properties":${deep}}]}`)!;
    expect(body).not.toBeNull();
    const [wide, nested] = body.batch as Record<string, unknown>[];
    expect(jsonTextOf(wide!.properties as object)).toBe('{"id":12345678901234567890}');
    expect(jsonTextOf(nested!.properties as object)).toBe(deep);
  });

  it('writes JSON text with each lone surrogate as U+FFFD (wellFormed), and nothing else changed', () => {
    const cut = '😀'.slice(0, 1);
    const value = { a: `Caf${cut}`, pair: '😀', b: `\\${cut}`, text: '\\ud800', c: '😀'.slice(1), [`k${cut}`]: [cut] };
    expect(stringify(value)).toBe('{"a":"Caf\ufffd","pair":"😀","b":"\\\\\ufffd","text":"\\\\ud800","c":"\ufffd","k\ufffd":["\ufffd"]}');
    expect(JSON.parse(stringify(value))).toEqual({ a: 'Caf\ufffd', pair: '😀', b: '\\\ufffd', text: '\\ud800', c: '\ufffd', 'k\ufffd': ['\ufffd'] });
    expect(quote(`x${cut}`)).toBe('"x\ufffd"');
    const plain = JSON.stringify({ a: 'é\n"', b: '\\ud83d' });
    expect(wellFormed(plain)).toBe(plain);
  });

  it('reads a long run of backslashes before a lone surrogate elsewhere once (a 500 KB batch held the ingest thread for seconds)', () => {
    // 100,000 backslashes (200,000 in the JSON text) not followed by u, and a lone surrogate after: each start inside the run
    // used to scan the rest of it (quadratic: about 2 minutes for this text, 13 s for a batch of 32 KB events).
    const value = { a: `${'\\'.repeat(100_000)}x`, b: '😀'.slice(0, 1) };
    const text = stringify(value);
    expect(text.length).toBe(200_000 + 17);
    expect(JSON.parse(text)).toEqual({ a: value.a, b: '\ufffd' });
    // The run's parity still decides: an odd run ends in the escape's own backslash, an even one is escaped backslashes.
    expect(wellFormed('"\\\\\\ud800"')).toBe('"\\\\\ufffd"');
    expect(wellFormed('"\\\\ud800"')).toBe('"\\\\ud800"');
    // Why it is linear: no match starts inside a run of backslashes, only at its first one (the
    // text above took 42 s with such starts, inside the test timeout, so its time alone proves nothing).
    const run = `x${'\\'.repeat(7)}ud800`;
    const starts: number[] = [];
    for (let at = 0; at < run.length; at++) {
      const sticky = new RegExp(LONE_SURROGATE.source, 'y');
      sticky.lastIndex = at;
      if (sticky.test(run)) starts.push(at);
    }
    expect(starts).toEqual([1]);
  });

  it('writes integers past 64 bits in exponent form (fitIntegers), the same doubles, and nothing else changed', () => {
    // JSON.stringify writes 2.5e19 (25 ETH in wei) as 25000000000000000000, past UInt64: ClickHouse refuses that.
    const value = { wei: 2.5e19, neg: -1e19, big: 1e20, fits: 9.2e18, negFits: -9.2e18, u64: 1.8e19, tiny: 0.0000012345678901234567, text: '25000000000000000000', [String(1e20)]: 1 };
    const text = stringify(value);
    expect(text).toBe(
      '{"wei":2.5e+19,"neg":-1e+19,"big":1e+20,"fits":9200000000000000000,"negFits":-9200000000000000000,"u64":18000000000000000000,"tiny":0.0000012345678901234567,"text":"25000000000000000000","100000000000000000000":1}',
    );
    expect(JSON.parse(text)).toEqual(value);
  });

  it('finds the first backslash or control character in ASCII bytes as the regex does, at every alignment', () => {
    const rnd = xorshift32(0x51ab1e);
    const SPECIAL = /[\u0000-\u001f\\]/g;
    const alphabet = 'abcXYZ09 "{}:,~\x7f\\\n\t\r\u0001\u001f';
    let found = 0;
    for (let i = 0; i < 3_000; i++) {
      const n = Math.floor(rnd() * 90);
      const rare = rnd() < 0.5 ? 0.01 : 0.1;
      let text = '';
      for (let j = 0; j < n; j++) text += rnd() < rare ? alphabet[9 + Math.floor(rnd() * (alphabet.length - 9))] : alphabet[Math.floor(rnd() * 9)];
      const off = Math.floor(rnd() * 8);
      const backing = Buffer.alloc(n + 16);
      backing.write(text, off, 'latin1');
      const b = backing.subarray(off, off + n);
      const { words, at } = asciiWords(b);
      for (let from = 0; from <= n; from += 1 + Math.floor(rnd() * 7)) {
        SPECIAL.lastIndex = from;
        const m = SPECIAL.exec(text);
        const want = m === null ? n : m.index;
        if (want < n) found++;
        const got = firstSpecialAscii(b, words, at, from);
        if (got !== want) expect({ text, off, from, got }).toEqual({ text, off, from, got: want });
      }
    }
    expect(found).toBeGreaterThan(10_000);
  });

  it('reads a body the same from its bytes, wherever escapes and whitespace fall and however the bytes are aligned', () => {
    let read = 0;
    for (let pad = 0; pad < 24; pad++) {
      for (const sep of ['', '\n', ' \r\n\t']) {
        for (const esc of ['', '\\n', '\\"', '\\u00e9', '\u0001']) {
          const line = `{"type":"track","event":"E${'a'.repeat(pad)}${esc}b",${sep}"userId":"u-${'x'.repeat(40)}","properties":{"k":"v${esc}","n":1}${sep}}`;
          const want = parseEventJson(line);
          for (let off = 0; off < 4; off++) {
            const backing = Buffer.alloc(line.length + 8, 0x20);
            backing.write(line, off, 'latin1');
            const got = parseEventJson(line, backing.subarray(off, off + line.length));
            if (!isDeepStrictEqual(got, want)) expect({ line, off, got }).toStrictEqual({ line, off, got: want });
            if (got !== null) read++;
          }
        }
      }
    }
    // Every line but those with a raw control character in a string (invalid JSON) is read.
    expect(read).toBe(24 * 3 * 4 * 4);
  });

  it('returns null for what it does not handle and for invalid JSON', () => {
    for (const line of ['[]', '"x"', '{"__proto__":{}}', '{"a":1}x', '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":tru}', '\ufeff{}', '{"a":"\u0001"}', '{"a":1,}', `{"a":${'['.repeat(1100)}${']'.repeat(1100)}}`]) {
      expect(parseEventJson(line), line).toBeNull();
    }
    expect(check('{}')).toStrictEqual({});
    const v = check(' \t{ "a" : 1 , "b":[ ] }\r\n')!;
    expect(v.a).toBe(1);
    // A member nobody reads stays text, and still serializes as the value it stands for.
    expect(v.b).toBeInstanceOf(JsonValue);
    expect(JSON.stringify(v)).toBe('{"a":1,"b":[]}');
  });

  it('reads the events of a batch body as events, and anything else in it as JSON.parse does', () => {
    const events = [
      '{"type":"track","userId":"u-1","event":"A","properties":{"category":"c","n":1},"context":{"ip":"1.2.3.4"},"integrations":{"All":true},"_metadata":{"v":[1,2]}}',
      '{"type":"page","anonymousId":"a","properties":{"name":"Home"},"traits":{"x":"\u00e9"}}',
      '{"type":"identify","userId":"u-2","traits":{"a":1,"a":2}}',
      '{"type":"track","userId":"u-3","event":"B","properties":[1]}',
      '{"type":"track","userId":"u-4","event":"C","batch":[{"type":"track"}]}',
      '7',
      '"x"',
      '[{"type":"track"}]',
      'null',
    ];
    const body = `{"writeKey":"k","batch":[${events.join(',')}],"sentAt":"2024-01-01T00:00:00.000Z","context":{"library":{"name":"x"}}}`;
    const v = check(body)!;
    const batch = v.batch as unknown[];
    expect(batch).toHaveLength(events.length);
    expect((batch[0] as Record<string, unknown>).properties).toBeInstanceOf(JsonText);
    expect((batch[0] as Record<string, unknown>).integrations).toBeInstanceOf(JsonValue);
    expect((batch[2] as Record<string, unknown>).traits).not.toBeInstanceOf(JsonText);
    expect((batch[3] as Record<string, unknown>).properties).toStrictEqual([1]);
    expect((batch[4] as Record<string, unknown>).batch).toStrictEqual([{ type: 'track' }]);
    expect(v.context).toBeInstanceOf(JsonText);
    events.forEach((line, i) => {
      if (line.startsWith('{')) sameNormalized(line, batch[i] as Record<string, unknown>);
    });
    // Whitespace around the elements, an empty batch, and what makes the whole body not handled.
    check(' { "batch" : [ \n{"type":"track"} ,\t7 ] } ');
    expect(check('{"batch":[]}')).toStrictEqual({ batch: [] });
    for (const bad of ['{"batch":[{"__proto__":1}]}', '{"batch":[{"a":1},]}', '{"batch":[{"a":1}', '{"batch":[{"a":1}}']) expect(parseEventJson(bad), bad).toBeNull();
  });

  it('agrees with JSON.parse + normalizeEvent on random and hostile lines', () => {
    const rnd = xorshift32(0x2545f491);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const ws = () => (rnd() < 0.08 ? pick([' ', '\n', '\t', '\r', '  ']) : '');
    const chars = ['a', 'B', '0', ' ', '"', '\\', '/', '\n', '\u0001', '\u001f', 'é', '€', '😀', '\ud800', '\udc00', '\u2028', '\u007f'];
    const str = (): string => hostileString(rnd, chars, 0.15);
    const num = (): string =>
      pick([
        () => String(Math.floor(rnd() * 1000) - 500),
        () => String((rnd() - 0.5) * 10 ** Math.floor(rnd() * 30 - 10)),
        () => pick(['0', '-0', '0.0', '1.50', '1e3', '2E-2', '-0.5', '0.000001', '0.0000001', '1234567890123456', '123456789012345', '9007199254740993', '0.1', '100']),
      ])();
    const keyNames = ['category', 'name', 'groupId', 'ip', 'a', 'b', '1', '01', '-1', '', '__proto__', 'x y'];
    const value = (depth: number): string => {
      const r = rnd();
      if (depth > 3 || r < 0.35) return pick([str, num, () => pick(['true', 'false', 'null'])])();
      if (r < 0.5) {
        const n = Math.floor(rnd() * 4);
        return `[${ws()}${Array.from({ length: n }, () => value(depth + 1)).join(`${ws()},${ws()}`)}${ws()}]`;
      }
      return obj(depth + 1);
    };
    const obj = (depth: number): string => {
      const n = Math.floor(rnd() * 5);
      const members = Array.from({ length: n }, () => `${ws()}${rnd() < 0.8 ? JSON.stringify(pick(keyNames)) : str()}${ws()}:${ws()}${value(depth)}`);
      return `{${members.join(`${ws()},`)}${ws()}}`;
    };
    const field = (name: string, v: () => string) => `${ws()}"${name}"${ws()}:${ws()}${v()}`;
    const iso = () => pick(['"2024-01-01T00:00:00.000Z"', '"2024-02-30T00:00:00Z"', '"yesterday"', '1700000000000', 'null', '"2019-03-04T05:06:07+02:00"']);
    let fastTaken = 0;
    let wideKept = 0;
    let checked = 0;
    for (let i = 0; i < 6_000; i++) {
      const fields: string[] = [];
      if (rnd() < 0.95) fields.push(field('type', () => pick(['"track"', '"identify"', '"page"', '"screen"', '"group"', '"alias"', '"nope"', '1'])));
      if (rnd() < 0.8) fields.push(field('userId', () => pick([str, num, () => 'null', () => '{}', () => '"u-1"'])()));
      if (rnd() < 0.3) fields.push(field('anonymousId', () => pick([str, num, () => '"anon"'])()));
      if (rnd() < 0.7) fields.push(field('messageId', () => pick([str, () => '"m-1"', num])()));
      if (rnd() < 0.8) fields.push(field('event', () => pick([str, () => '"Viewed"', () => '[]'])()));
      for (const k of ['name', 'groupId', 'previousId', 'category']) if (rnd() < 0.2) fields.push(field(k, () => value(2)));
      if (rnd() < 0.7) fields.push(field('timestamp', iso));
      if (rnd() < 0.2) fields.push(field('sentAt', iso));
      for (const k of ['properties', 'traits', 'context', 'properties']) {
        if (rnd() < 0.6) fields.push(field(k, () => (rnd() < 0.85 ? obj(1) : value(3))));
      }
      if (rnd() < 0.2) fields.push(field(pick(['integrations', '_metadata', 'batch', 'extra']), () => value(1)));
      fields.sort(() => rnd() - 0.5);
      let line = `${ws()}{${fields.join(',')}${ws()}}${ws()}`;
      if (rnd() < 0.05) {
        const at = Math.floor(rnd() * line.length);
        line = rnd() < 0.5 ? line.slice(0, at) : `${line.slice(0, at)}${pick(['x', ',', '"', '}', '\\'])}${line.slice(at)}`;
      }
      const v = check(line);
      if (v === null) continue;
      checked++;
      if (['properties', 'traits', 'context'].some((k) => v[k] instanceof JsonText)) fastTaken++;
      if (['properties', 'traits', 'context'].some((k) => v[k] instanceof JsonText && roundedWide((v[k] as JsonText).text) !== (v[k] as JsonText).text)) wideKept++;
      sameNormalized(line, v);
    }
    // The generator makes enough of both kinds for the comparison to mean something.
    expect(checked).toBeGreaterThan(4_500);
    expect(fastTaken).toBeGreaterThan(1_500);
    expect(wideKept).toBeGreaterThan(200);
  });
});
