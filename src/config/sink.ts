import os from 'node:os';
import { z } from 'zod';
import { int, optionalInt, str } from './parse.js';

/**
 * Decode threads when SINK_WORKERS is unset: 1 on up to 2 cores, 2 above. On 2 shared cores a
 * second worker only competed with chDB's insert threads and the broker (docs/architecture/sink.md,
 * "Fourth pass"); with cores to spare it decodes a round's tasks in parallel.
 */
export function defaultSinkWorkers(cores: number): number {
  return cores <= 2 ? 1 : 2;
}

/** The decode thread count, and where it came from (`workersFrom`, for the start log). */
function decodeWorkers(setting: number | undefined): { workers: number; workersFrom: string } {
  if (setting !== undefined) return { workers: setting, workersFrom: 'SINK_WORKERS' };
  const cores = os.availableParallelism();
  return { workers: defaultSinkWorkers(cores), workersFrom: `default for ${cores} cores` };
}

export const sinkSchema = z
  .object({
    SINK_GROUP_ID: str('trackhouse-sink'),
    /** Decode threads (piscina). The main thread does all Kafka and ClickHouse I/O. Unset: defaultSinkWorkers(cores). */
    SINK_WORKERS: optionalInt(1, 64),
    /** An insert holds at most this many rows (a larger fetch is split into several inserts). */
    SINK_BATCH_ROWS: int(100_000, 1, 1_000_000),
    /** At most this many bytes of Kafka records are fetched, decoded and inserted as one batch. */
    SINK_BATCH_BYTES: int(32 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
    /** The broker hands over what it has after this long even when the batch is not full: the freshness bound. */
    SINK_BATCH_MS: int(250, 10, 60_000),
    /** Client resends are caught when the original is among this many latest rows of its partition... */
    SINK_DEDUP_WINDOW_EVENTS: int(200_000, 0, 50_000_000),
    /** ...and arrived at most this long before the partition's newest row. */
    SINK_DEDUP_WINDOW_MS: int(24 * 3_600_000, 0, 7 * 24 * 3_600_000),
    /** Backoff between attempts at an insert ClickHouse refused: jittered, doubling from base to max. */
    SINK_RETRY_BASE_MS: int(200, 1, 60_000),
    SINK_RETRY_MAX_MS: int(15_000, 1, 600_000),
    /** A member that sent no heartbeat for this long is dropped and its partitions move (Kafka's session.timeout.ms). */
    SINK_SESSION_TIMEOUT_MS: int(30_000, 6_000, 300_000),
    /** Test hook: SIGKILL the process after this many confirmed inserts, before their commit (0 = off). */
    SINK_TEST_KILL_AFTER_INSERTS: int(0, 0, 1_000_000),
  })
  .superRefine((e, ctx) => {
    if (e.SINK_RETRY_MAX_MS < e.SINK_RETRY_BASE_MS) {
      ctx.addIssue({ code: 'custom', path: ['SINK_RETRY_MAX_MS'], message: 'must be at least SINK_RETRY_BASE_MS' });
    }
  })
  .transform((e) => ({
    groupId: e.SINK_GROUP_ID,
    ...decodeWorkers(e.SINK_WORKERS),
    batchRows: e.SINK_BATCH_ROWS,
    batchBytes: e.SINK_BATCH_BYTES,
    batchMs: e.SINK_BATCH_MS,
    dedupWindowEvents: e.SINK_DEDUP_WINDOW_EVENTS,
    dedupWindowMs: e.SINK_DEDUP_WINDOW_MS,
    retryBaseMs: e.SINK_RETRY_BASE_MS,
    retryMaxMs: e.SINK_RETRY_MAX_MS,
    sessionTimeoutMs: e.SINK_SESSION_TIMEOUT_MS,
    testKillAfterInserts: e.SINK_TEST_KILL_AFTER_INSERTS,
  }));

export type SinkConfig = z.output<typeof sinkSchema>;
