import { z } from 'zod';
import { int, str } from './parse.js';

export const sinkSchema = z
  .object({
    SINK_GROUP_ID: str('trackhouse-sink'),
    SINK_WORKERS: int(1, 1, 64),
    SINK_BATCH_ROWS: int(100_000, 1, 1_000_000),
    SINK_BATCH_BYTES: int(64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    SINK_BATCH_MS: int(500, 10, 60_000),
  })
  .transform((e) => ({
    groupId: e.SINK_GROUP_ID,
    workers: e.SINK_WORKERS,
    batchRows: e.SINK_BATCH_ROWS,
    batchBytes: e.SINK_BATCH_BYTES,
    batchMs: e.SINK_BATCH_MS,
  }));

export type SinkConfig = z.output<typeof sinkSchema>;
