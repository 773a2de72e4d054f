import { describe, expect, it } from 'vitest';
import type { FetchedMessage } from '../kafka/consumer.js';
import { buildBlocks } from './blocks.js';
import type { Chunk } from './decode.js';
import { ResendWindow } from '../dedup/resendwindow.js';

/** A decoded chunk whose rows are "<id>\n", with identity (0, id). */
function chunk(partition: number, firstOffset: number, ids: number[]): Chunk {
  const lines = ids.map((id) => `${id}\n`);
  const payload = new TextEncoder().encode(lines.join(''));
  const rowEnds = new Uint32Array(ids.length);
  let at = 0;
  lines.forEach((l, i) => (rowEnds[i] = at += l.length));
  return {
    topic: 't',
    partition,
    records: ids.map((_, i) => ({ offset: String(firstOffset + i) }) as FetchedMessage),
    result: {
      rows: ids.length,
      payload,
      rowEnds,
      rowRecord: Uint32Array.from(ids, (_, i) => i),
      ids: Uint32Array.from(ids.flatMap((id) => [0, id])),
      receivedAt: new Float64Array(ids.length),
      failures: [],
      heapUsed: 0,
      threadId: 0,
    },
  };
}

const text = (segments: readonly Uint8Array[]) => segments.map((s) => new TextDecoder().decode(s)).join('');

describe('insert blocks', () => {
  it('leaves out resent rows wherever they are, without copying the rest', () => {
    const windows = new Map([[0, new ResendWindow(100, 0)]]);
    windows.get(0)!.seen(0, 1, 0); // row 1 was inserted before
    const { blocks, resent } = buildBlocks(
      [chunk(0, 10, [1, 2, 3, 2, 4, 5, 5])],
      (p) => windows.get(p)!,
      { rows: 100, bytes: 1e6, tokenPrefix: 'x' },
    );
    expect(resent).toBe(3);
    expect(text(blocks[0]!.segments)).toBe('2\n3\n4\n5\n');
    expect(blocks[0]!.rows).toBe(4);
    expect(blocks[0]!.bytes).toBe(8);
    expect(blocks[0]!.ranges.get(0)).toEqual([11, 15]);
    expect(blocks[0]!.token).toBe('x-0:11-15');
  });

  it('cuts blocks at whole chunks within the row bound and skips chunks with nothing left', () => {
    const windows = new Map([0, 1].map((p) => [p, new ResendWindow(100, 0)]));
    const { blocks } = buildBlocks(
      [chunk(0, 0, [1, 2]), chunk(1, 0, [3, 4]), chunk(1, 2, [3, 4]), chunk(0, 2, [5])],
      (p) => windows.get(p)!,
      { rows: 3, bytes: 1e6, tokenPrefix: 'x' },
    );
    expect(blocks.map((b) => text(b.segments))).toEqual(['1\n2\n', '3\n4\n5\n']);
    expect(blocks.map((b) => b.token)).toEqual(['x-0:0-1', 'x-1:0-1,0:2-2']);
    expect(blocks.map((b) => b.chunks.length)).toEqual([1, 2]); // chunk(1, 2) left nothing and is not in a block
  });
});
