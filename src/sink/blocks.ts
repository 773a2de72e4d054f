// From decoded chunks to insert blocks: drops resends (each row's identity against its
// partition's window, which also remembers the rows kept) and groups whole chunks into blocks
// within the row and byte bounds. Kept rows are never copied: a block is a list of slices of the
// workers' payloads, split around dropped rows.
import type { Chunk } from './decode.js';
import type { InsertBlock } from './sinkstore.js';
import type { ResendWindow } from '../dedup/resendwindow.js';

export interface Block extends InsertBlock {
  segments: Uint8Array[];
  chunks: Chunk[];
  /** partition -> [lowest, highest] offset among its rows. */
  ranges: Map<number, [number, number]>;
}

export interface BlockLimits {
  rows: number;
  bytes: number;
  /** Prefix of every token; unique per process start. */
  tokenPrefix: string;
}

export function buildBlocks(
  chunks: readonly Chunk[],
  windowOf: (partition: number) => ResendWindow,
  limits: BlockLimits,
): { blocks: Block[]; resent: number } {
  const blocks: Block[] = [];
  let block: Block | null = null;
  let resent = 0;
  for (const c of chunks) {
    const r = c.result;
    const window = windowOf(c.partition);
    const segments: Uint8Array[] = [];
    let kept = 0;
    let bytes = 0;
    let runStart = -1;
    let firstRow = -1;
    let lastRow = -1;
    for (let i = 0; i < r.rows; i++) {
      const rowStart = i === 0 ? 0 : r.rowEnds[i - 1]!;
      if (window.seen(r.ids[2 * i]!, r.ids[2 * i + 1]!, r.receivedAt[i]!)) {
        resent++;
        if (runStart >= 0) segments.push(r.payload.subarray(runStart, rowStart));
        runStart = -1;
        continue;
      }
      if (runStart < 0) runStart = rowStart;
      if (firstRow < 0) firstRow = i;
      lastRow = i;
      kept++;
      bytes += r.rowEnds[i]! - rowStart;
    }
    if (kept === 0) continue;
    if (runStart >= 0) segments.push(r.payload.subarray(runStart, r.rowEnds[r.rows - 1]!));
    const first = Number(c.records[r.rowRecord[firstRow]!]!.offset);
    const last = Number(c.records[r.rowRecord[lastRow]!]!.offset);
    if (block === null || block.rows + kept > limits.rows || block.bytes + bytes > limits.bytes) {
      block = { segments: [], chunks: [], rows: 0, bytes: 0, token: '', ranges: new Map() };
      blocks.push(block);
    }
    block.segments.push(...segments);
    block.chunks.push(c);
    block.rows += kept;
    block.bytes += bytes;
    const range = block.ranges.get(c.partition);
    block.ranges.set(c.partition, [range ? range[0] : first, last]);
  }
  for (const b of blocks) {
    b.token = `${limits.tokenPrefix}-${[...b.ranges].map(([p, [lo, hi]]) => `${p}:${lo}-${hi}`).join(',')}`;
  }
  return { blocks, resent };
}
