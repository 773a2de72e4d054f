// The change-feed batch of one insert block: the block's users and, on request, their rows, read
// back from the TabSeparated payload that was inserted (rows dropped as resends left out). Built
// per block: the users are indexed once, rows are decoded back only for the users a reader asks for.
import type { ChangeBatch } from '../common/changefeed.js';
import { decodeTsvRow, type StoredRow } from '../schema/index.js';
import type { Block } from './blocks.js';
import type { DecodeResult } from './types.js';

export function feedBatchOf(block: Block): ChangeBatch<StoredRow> {
  // user_key -> (chunk index, key index) pairs, flattened; a user's rows can span chunks.
  const where = new Map<string, number[]>();
  block.chunks.forEach((c, ci) => {
    const r = c.result;
    let start = 0;
    for (let k = 0; k < r.userKeyEnds.length; k++) {
      const end = r.userKeyEnds[k]!;
      const key = r.userKeys.slice(start, end);
      start = end;
      const refs = where.get(key);
      if (refs === undefined) where.set(key, [ci, k]);
      else refs.push(ci, k);
    }
  });
  return {
    userKeys: { [Symbol.iterator]: () => where.keys() },
    rowsOf(userKey: string): StoredRow[] {
      const refs = where.get(userKey);
      if (refs === undefined) return [];
      const out: StoredRow[] = [];
      for (let i = 0; i < refs.length; i += 2) {
        const ci: number = refs[i]!;
        const k: number = refs[i + 1]!;
        const r: DecodeResult = block.chunks[ci]!.result;
        const dropped = block.dropped[ci];
        for (let j: number = k === 0 ? 0 : r.keyRowEnds[k - 1]!; j < r.keyRowEnds[k]!; j++) {
          const row: number = r.keyRows[j]!;
          if (dropped?.[row] === 1) continue;
          out.push(decodeTsvRow(r.payload, row === 0 ? 0 : r.rowEnds[row - 1]!, r.rowEnds[row]!));
        }
      }
      return out;
    },
  };
}
