import os from 'node:os';
import { z } from 'zod';
import { int, optionalInt, optionalStr } from './parse.js';

const GIB = 1024 ** 3;

/** The ordinal at the end of a StatefulSet pod's hostname (`query-2` -> 2). */
function ordinalOf(hostname: string): number | undefined {
  const m = /-(\d{1,4})$/.exec(hostname);
  return m ? Number(m[1]) : undefined;
}

export const querySchema = z
  .object({
    QUERY_DEFAULT_LIMIT: int(100, 1, 1000),
    QUERY_MAX_LIMIT: int(1000, 1, 10_000),
    QUERY_TIMEOUT_MS: int(10_000, 100, 600_000),
    QUERY_MAX_CONCURRENT: int(8, 1, 1024),
    QUERY_MAX_QUEUED: int(1024, 0, 1_000_000),
    QUERY_VIEW_DAYS: int(90, 1, 3650),
    QUERY_VIEW_MAX_BYTES: int(32 * GIB, 1024 * 1024, 2 ** 50),
    QUERY_VIEW_DECODE_THREADS: int(2, 0, 64),
    QUERY_VIEW_COMMIT_RECORDS: int(40_000, 100, 1_000_000),
    QUERY_VIEW_CATCHUP_RECORDS: int(320_000, 100, 10_000_000),
    QUERY_VIEW_CATCHUP_BYTES: int(384 * 1024 * 1024, 1024 * 1024, 2 ** 40),
    QUERY_SHARDS: int(1, 1, 1024),
    QUERY_SHARD_INDEX: optionalInt(0, 1023),
    QUERY_SHARD_URL: optionalStr(),
    QUERY_VIEW_TEST_KILL_AFTER_RECORDS: int(0, 0, 1_000_000_000),
    HOSTNAME: optionalStr(),
  })
  .superRefine((e, ctx) => {
    if (e.QUERY_DEFAULT_LIMIT > e.QUERY_MAX_LIMIT) {
      ctx.addIssue({ code: 'custom', path: ['QUERY_DEFAULT_LIMIT'], message: `must not exceed QUERY_MAX_LIMIT (${e.QUERY_MAX_LIMIT})` });
    }
    if (e.QUERY_SHARDS === 1) {
      if (e.QUERY_SHARD_INDEX !== undefined && e.QUERY_SHARD_INDEX !== 0) {
        ctx.addIssue({ code: 'custom', path: ['QUERY_SHARD_INDEX'], message: 'must be 0 (or unset) unless QUERY_SHARDS is more than 1' });
      }
      return;
    }
    const index = e.QUERY_SHARD_INDEX ?? ordinalOf(e.HOSTNAME ?? os.hostname());
    if (index === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['QUERY_SHARD_INDEX'],
        message: `QUERY_SHARDS=${e.QUERY_SHARDS} needs this replica's shard index: set QUERY_SHARD_INDEX, or run it with a hostname ending in -<ordinal> (a StatefulSet pod)`,
      });
    } else if (index >= e.QUERY_SHARDS) {
      ctx.addIssue({ code: 'custom', path: ['QUERY_SHARD_INDEX'], message: `shard index ${index} is not below QUERY_SHARDS (${e.QUERY_SHARDS})` });
    }
    if (e.QUERY_SHARD_URL === undefined || !e.QUERY_SHARD_URL.includes('{i}') || !/^https?:\/\//.test(e.QUERY_SHARD_URL)) {
      ctx.addIssue({
        code: 'custom',
        path: ['QUERY_SHARD_URL'],
        message: `QUERY_SHARDS=${e.QUERY_SHARDS} needs the URL of shard {i}, an http(s) URL template such as http://query-{i}.query:8081`,
      });
    }
  })
  .transform((e) => ({
    /** Events per page when the request gives no `limit`. */
    defaultLimit: e.QUERY_DEFAULT_LIMIT,
    /** Largest `limit` a request may ask for. */
    maxLimit: e.QUERY_MAX_LIMIT,
    /** Per ClickHouse query (max_execution_time); a slower query fails with 503. */
    timeoutMs: e.QUERY_TIMEOUT_MS,
    /** ClickHouse queries running at once; more wait in a queue. */
    maxConcurrent: e.QUERY_MAX_CONCURRENT,
    /** Requests waiting for ClickHouse beyond which new ones get 503 + Retry-After. */
    maxQueued: e.QUERY_MAX_QUEUED,
    /** The view keeps events of the last this many days (by event time); ClickHouse answers for older ones. */
    viewDays: e.QUERY_VIEW_DAYS,
    /** Bytes of event data (keys and reply JSON) the view keeps at most; beyond, its oldest days go first. */
    viewMaxBytes: e.QUERY_VIEW_MAX_BYTES,
    /** Threads decoding and rendering records for the view's builder (0: in the builder's own thread). */
    viewDecodeThreads: e.QUERY_VIEW_DECODE_THREADS,
    /** Records per view transaction at most while building (bigger: fewer pages copied per event, more memory). */
    viewCommitRecords: e.QUERY_VIEW_COMMIT_RECORDS,
    /** Records per view transaction at most while far behind the topic (a build): gathered over several fetches. */
    viewCatchUpRecords: e.QUERY_VIEW_CATCHUP_RECORDS,
    /** Decoded bytes such a transaction holds at most until queued (the one committing holds as much again). */
    viewCatchUpBytes: e.QUERY_VIEW_CATCHUP_BYTES,
    /** Replicas the view's partitions are spread over (1: every replica holds every partition). */
    shards: e.QUERY_SHARDS,
    /** This replica's shard: it holds partitions p with p mod shards = shardIndex. */
    shardIndex: e.QUERY_SHARDS === 1 ? 0 : (e.QUERY_SHARD_INDEX ?? ordinalOf(e.HOSTNAME ?? os.hostname()) ?? 0),
    /** URL of shard i's query API, `{i}` replaced by the index (requests for its users are forwarded there). */
    shardUrl: e.QUERY_SHARD_URL ?? null,
    /**
     * Test hook (0: off): the view's builder kills its process (SIGKILL) once it has handled this
     * many records since start, with its last transaction possibly still committing.
     */
    viewTestKillAfterRecords: e.QUERY_VIEW_TEST_KILL_AFTER_RECORDS,
  }));

export type QueryConfig = z.output<typeof querySchema>;
