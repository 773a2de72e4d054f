import { describe, expect, it } from 'vitest';
import { csvItems, jsonItems, type Item } from './items.js';

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

  it('reads a JSON array as elements, and NDJSON whose lines are arrays as lines', async () => {
    expect(await all(jsonItems(chunks('  [{"a":1},', '{"b":2}]'), 1))).toEqual([{ pos: 1, text: undefined, value: { b: 2 } }]);
    expect((await all(jsonItems(chunks('[{"a":1}]\n[{"b":2}]\n'), 0))).map((i) => i.text)).toEqual(['[{"a":1}]', '[{"b":2}]']);
  });

  it('reads CSV records with quoted commas and newlines, keeping each record text', async () => {
    const items = await all(csvItems(chunks('\ufeffa,b\n1,"x, ', 'y"\n2,"line\nbreak"\n'), 1, ','));
    expect(items).toEqual([{ pos: 1, text: '2,"line\nbreak"', value: { a: '2', b: 'line\nbreak' } }]);
  });
});
