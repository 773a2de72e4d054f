import { describe, expect, it } from 'vitest';
import { ImportInputError } from './errors.js';
import { csvItems, elementTexts, jsonItems, lineItems, MAX_ARRAY_BYTES, MAX_LINE_CHARS, sequenceTexts, type Item } from './items.js';

async function all(gen: AsyncGenerator<Item[]>): Promise<Item[]> {
  const out: Item[] = [];
  for await (const b of gen) out.push(...b);
  return out;
}

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

describe('import items', () => {
  it('cuts NDJSON across chunk boundaries, counts blank lines, strips CR, and skips resumed lines', async () => {
    const items = await all(jsonItems(chunks('{"a":1}\r\n\n{"b"', ':2}\n{"c":3}'), 0));
    expect(items).toEqual([
      { pos: 0, text: '{"a":1}' },
      { pos: 2, text: '{"b":2}' },
      { pos: 3, text: '{"c":3}' },
    ]);
    expect((await all(jsonItems(chunks('{"a":1}\n\n{"b":2}\n{"c":3}\n'), 3))).map((i) => i.pos)).toEqual([3]);
  });

  // A 600 MB line was joined again with every 64 KB chunk (minutes) and then passed V8's longest
  // string: the import crashed. It is now an item of its start and size (rejected, event_too_large).
  it('keeps only the start and the size of a line longer than MAX_LINE_CHARS, and the lines around it whole', async () => {
    const mb = Buffer.alloc(1024 * 1024, 'x');
    async function* input(): AsyncGenerator<Buffer> {
      yield Buffer.from('{"a":1}\n{"pad":"');
      for (let i = 0; i < MAX_LINE_CHARS / mb.length + 2; i++) yield mb;
      yield Buffer.from('é"}\r\n{"b":2}');
    }
    const items = await all(jsonItems(input(), 0));
    expect(items.map((i) => [i.pos, i.text!.length, i.tooLong])).toEqual([
      [0, 7, undefined],
      [1, 32 * 1024, MAX_LINE_CHARS + 2 * mb.length + 13], // and its bytes: {"pad":" é"} \r
      [2, 7, undefined],
    ]);
    expect(items[1]!.text!.startsWith('{"pad":"xxx')).toBe(true);
    // The same at a small bound, where the line ends in a chunk of its own, and as the last line.
    expect(await all(lineItems(chunks('{"a":1}\n', '123456', '789\n{"b":2}\n', 'abcdefghijk'), 0, 8))).toEqual([
      { pos: 0, text: '{"a":1}' },
      { pos: 1, text: '123456789', tooLong: 9 },
      { pos: 2, text: '{"b":2}' },
      { pos: 3, text: 'abcdefghijk', tooLong: 11 },
    ]);
  });

  // Read whole: a 600 MB array passed V8's longest string and the import crashed with a stack trace.
  it('refuses a JSON array input larger than MAX_ARRAY_BYTES with what to do instead', async () => {
    const mb = Buffer.alloc(1024 * 1024, ' ');
    async function* input(): AsyncGenerator<Buffer> {
      yield Buffer.from('[{"a":1},');
      for (let i = 0; i < 600; i++) yield mb;
      yield Buffer.from(']');
    }
    expect(MAX_ARRAY_BYTES).toBeLessThan(600 * mb.length);
    const read = all(jsonItems(input(), 0));
    await expect(read).rejects.toThrow(ImportInputError);
    await expect(read).rejects.toThrow(/at most 256 MB.*NDJSON/);
  });

  // A quote never closed gathered the rest of a CSV input into one field: past 512 MB, a crash.
  it('stops at a CSV record longer than MAX_LINE_CHARS with an input error naming it', async () => {
    const mb = Buffer.alloc(1024 * 1024, 'x');
    async function* input(): AsyncGenerator<Buffer> {
      yield Buffer.from('a,b\n1,2\n3,"');
      for (let i = 0; i < MAX_LINE_CHARS / mb.length + 2; i++) yield mb;
    }
    const got: Item[] = [];
    const read = (async () => {
      for await (const b of csvItems(input(), 0, ',')) got.push(...b);
    })();
    await expect(read).rejects.toThrow(ImportInputError);
    await expect(read).rejects.toThrow(/a CSV record is longer than 64 Mi characters by line 3/);
  });

  it('reads a JSON array as elements, each as its text, and NDJSON whose lines are arrays as lines', async () => {
    expect(await all(jsonItems(chunks('  [{"a":1},', '\n {"b":12345678901234567891} ]'), 1))).toEqual([{ pos: 1, text: '{"b":12345678901234567891}' }]);
    expect((await all(jsonItems(chunks('[{"a":1}]\n[{"b":2}]\n'), 0))).map((i) => i.text)).toEqual(['[{"a":1}]', '[{"b":2}]']);
  });

  // `curl .../engage | jq . > out.json` was cut into lines, each invalid_json: every entry rejected.
  it('reads a pretty-printed JSON object whole as one item, its text kept (64-bit integers as written)', async () => {
    const saved = JSON.stringify({ results: [{ $distinct_id: 'u1', $properties: { n: 1 } }] }, null, 2).replace('"n": 1', '"n": 12345678901234567891');
    for (const input of [saved, `\ufeff \n\t${saved}\n\n`]) {
      // In chunks that cut the first line and the rest anywhere.
      expect(await all(jsonItems(chunks(input.slice(0, 5), input.slice(5, 40), input.slice(40)), 0))).toEqual([{ pos: 0, text: saved }]);
    }
    expect(await all(jsonItems(chunks(saved), 1))).toEqual([]);
    const batch = '{\n  "batch": [\n    {"type": "track", "event": "a"}\n  ]\n}';
    expect(await all(jsonItems(chunks(batch), 0))).toEqual([{ pos: 0, text: batch }]);
  });

  // `jq . events.ndjson > out.json` writes each event pretty-printed, one after another: every line was rejected.
  it('reads pretty-printed values written one after another as one item each, texts kept, and a broken one as lines', async () => {
    const a = JSON.stringify({ type: 'track', event: 'a', userId: 'u1', properties: { n: 1 } }, null, 2).replace('"n": 1', '"n": 12345678901234567891');
    const b = JSON.stringify({ batch: [{ type: 'identify', userId: 'u2', traits: { s: 'x}]"\\' } }] }, null, 2);
    const c = JSON.stringify({ type: 'page', userId: 'u3', name: '{' }, null, 2);
    const input = `${a}\n${b}\n\u001e${c}\n`;
    expect(await all(jsonItems(chunks(input.slice(0, 7), input.slice(7, 100), input.slice(100)), 0))).toEqual([
      { pos: 0, text: a },
      { pos: 1, text: b },
      { pos: 2, text: c },
    ]);
    expect((await all(jsonItems(chunks(input), 2))).map((i) => i.pos)).toEqual([2]);
    // One of them broken: every line goes as NDJSON reads it, to be rejected where it is.
    const broken = `${a}\n{\n  "b": \n}\n`;
    expect((await all(jsonItems(chunks(broken), 0))).length).toBe(broken.split('\n').filter((l) => l !== '').length);
    expect(sequenceTexts('{"a":1} 2 {"b":2}')).toBeNull();
    expect(sequenceTexts('{"a":1}')).toBeNull();
    expect(sequenceTexts('{"a":1}{"b":[2]}[3]')).toEqual(['{"a":1}', '{"b":[2]}', '[3]']);
  });

  it('reads a { input as NDJSON when its first line parses, and a broken one as lines with their positions', async () => {
    expect((await all(jsonItems(chunks('{"a":1}\n{"b":\n2}\n'), 0))).map((i) => [i.pos, i.text])).toEqual([
      [0, '{"a":1}'],
      [1, '{"b":'],
      [2, '2}'],
    ]);
    // Neither NDJSON nor one value: each line as NDJSON reads it, to be rejected where it is.
    expect((await all(jsonItems(chunks('{"a":\n1}}\n\n{"c":3}\n'), 0))).map((i) => [i.pos, i.text])).toEqual([
      [0, '{"a":'],
      [1, '1}}'],
      [3, '{"c":3}'],
    ]);
  });

  it('refuses a multi-line JSON value larger than MAX_ARRAY_BYTES with what to do instead', async () => {
    const mb = Buffer.alloc(1024 * 1024, ' ');
    async function* input(): AsyncGenerator<Buffer> {
      yield Buffer.from('{\n"results": [');
      for (let i = 0; i < 300; i++) yield mb;
      yield Buffer.from(']}');
    }
    const read = all(jsonItems(input(), 0));
    await expect(read).rejects.toThrow(ImportInputError);
    await expect(read).rejects.toThrow(/at most 256 MB.*NDJSON/);
  });

  it('cuts an array\'s text into its elements\' texts, whatever their strings and nesting hold', () => {
    const elements = [
      '{"a":"],[,}{\\"","b":[1,{"c":[]}]}',
      '"a \\\\"',
      '[]',
      '{}',
      '-1.5e3',
      'null',
      '{"s":"\\u005d","t":"\\\\","u":"é 🚀"}',
    ];
    const text = ` [ ${elements.join(' ,\n\t')} ] `;
    expect(JSON.parse(text)).toHaveLength(elements.length);
    expect(elementTexts(text)).toEqual(elements);
    expect(elementTexts('[]')).toEqual([]);
    expect(elementTexts('[1]\n[2]')).toBeNull();
    expect(elementTexts('[1')).toBeNull();
  });

  it('keeps a character whose UTF-8 bytes straddle two chunks whole, wherever the cut falls', async () => {
    const line = '{"event":"Café ☕ 日本 🚀"}';
    const bytes = Buffer.from(`${line}\n${line}`);
    for (let cut = 1; cut < bytes.length; cut++) {
      async function* split(): AsyncGenerator<Buffer> {
        yield bytes.subarray(0, cut);
        yield bytes.subarray(cut);
      }
      expect((await all(jsonItems(split(), 0))).map((i) => i.text)).toEqual([line, line]);
    }
  });

  it('ignores a byte order mark at the start of NDJSON and of a JSON array, and only there', async () => {
    expect(await all(jsonItems(chunks('\ufeff{"a":1}\n{"b":2}\n'), 0))).toEqual([
      { pos: 0, text: '{"a":1}' },
      { pos: 1, text: '{"b":2}' },
    ]);
    expect(await all(jsonItems(chunks('\ufeff[{"a":1},{"b":2}]'), 0))).toEqual([
      { pos: 0, text: '{"a":1}' },
      { pos: 1, text: '{"b":2}' },
    ]);
    // A BOM split over two chunks, and one inside a later line, which stays.
    const bom = Buffer.from('\ufeff');
    async function* split(): AsyncGenerator<Buffer> {
      yield bom.subarray(0, 1);
      yield Buffer.concat([bom.subarray(1), Buffer.from('{"a":1}\n\ufeff{"b":2}')]);
    }
    expect((await all(jsonItems(split(), 0))).map((i) => i.text)).toEqual(['{"a":1}', '\ufeff{"b":2}']);
  });

  it('reads CSV records with quoted commas and newlines, keeping each record text', async () => {
    const items = await all(csvItems(chunks('\ufeffa,b\n1,"x, ', 'y"\n2,"line\nbreak"\n'), 1, ','));
    expect(items).toEqual([{ pos: 1, text: '2,"line\nbreak"', value: { a: '2', b: 'line\nbreak' } }]);
  });
});
