import os from 'node:os';
import { z } from 'zod';
import { int, items, optionalInt, optionalStr } from './parse.js';

const GIB = 1024 ** 3;

/**
 * The origins whose pages may read the query API (CORS), and the same API on `trackhouse alerts`'
 * port (/v1/volume, /v1/alerts moved to their own process): `*` (any), or a list of origins. Empty
 * (or `none`) turns CORS off; unlike other settings an empty value is not "unset" here: it is the
 * empty list. An origin is what a browser sends in `Origin`: scheme://host[:port], lower case, no
 * path, the scheme's default port left out; anything else could never match, so it is refused.
 */
const corsOrigins = () =>
  z
    .string()
    .optional()
    .transform((v, ctx): '*' | readonly string[] => {
      if (v === undefined) return '*';
      const origins = items(v);
      if (origins.length === 1 && origins[0]!.toLowerCase() === 'none') return [];
      if (origins.includes('*')) {
        if (origins.length === 1) return '*';
        ctx.addIssue({ code: 'custom', message: '* (any origin) stands alone: give either * or a list of origins' });
        return z.NEVER;
      }
      for (const origin of origins) {
        const problem = originProblem(origin);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      }
      return [...new Set(origins)];
    });

/** Why `text` is not an http(s) origin as browsers send it, or null when it is one. */
function originProblem(text: string): string | null {
  const example = 'such as https://app.example or http://localhost:3000';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text)} is not an origin ${example}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${JSON.stringify(text)} is not an http(s) origin ${example}`;
  if (url.origin !== text) return `${JSON.stringify(text)} is not an origin as browsers send it: write ${url.origin} (scheme://host[:port], lower case, no path)`;
  return null;
}

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
    QUERY_VIEW_COMMIT_MS: int(250, 0, 60_000),
    QUERY_VIEW_CATCHUP_RECORDS: int(320_000, 100, 10_000_000),
    QUERY_VIEW_CATCHUP_BYTES: int(384 * 1024 * 1024, 1024 * 1024, 2 ** 40),
    QUERY_VIEW_BULK_RECORDS: int(1_000_000, 0, 2 ** 50),
    QUERY_VIEW_BULK_CHECKPOINT_MS: int(30_000, 0, 3_600_000),
    QUERY_SHARDS: int(1, 1, 1024),
    QUERY_SHARD_INDEX: optionalInt(0, 1023),
    QUERY_SHARD_URL: optionalStr(),
    QUERY_BACKGROUND_NICE: int(0, 0, 19),
    QUERY_VIEW_TEST_KILL_AFTER_RECORDS: int(0, 0, 1_000_000_000),
    QUERY_CORS_ORIGINS: corsOrigins(),
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
    /** Per ClickHouse statement of the API, its wait for the engine's turn included; a slower one fails with 503. */
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
    /**
     * Once caught up, the view commits what it applied at most this often (or at
     * viewCommitRecords); meanwhile the applied events are served from the query thread's memory
     * (src/view/pending.ts). 0: a commit per fetch, events readable once committed.
     */
    viewCommitMs: e.QUERY_VIEW_COMMIT_MS,
    /** Records per view transaction at most while far behind the topic (a build): gathered over several fetches. */
    viewCatchUpRecords: e.QUERY_VIEW_CATCHUP_RECORDS,
    /** Decoded bytes such a transaction holds at most until queued (the one committing holds as much again). */
    viewCatchUpBytes: e.QUERY_VIEW_CATCHUP_BYTES,
    /** An empty view facing at least this many records is built by sorting (src/view/bulk.ts); 0: never. */
    viewBulkRecords: e.QUERY_VIEW_BULK_RECORDS,
    /** A bulk build checkpoints its runs after the first, then at most this often (what a restart keeps; 0: after every run). */
    viewBulkCheckpointMs: e.QUERY_VIEW_BULK_CHECKPOINT_MS,
    /** Replicas the view's partitions are spread over (1: every replica holds every partition). */
    shards: e.QUERY_SHARDS,
    /** This replica's shard: it holds partitions p with p mod shards = shardIndex. */
    shardIndex: e.QUERY_SHARDS === 1 ? 0 : (e.QUERY_SHARD_INDEX ?? ordinalOf(e.HOSTNAME ?? os.hostname()) ?? 0),
    /** URL of shard i's query API, `{i}` replaced by the index (requests for its users are forwarded there). */
    shardUrl: e.QUERY_SHARD_URL ?? null,
    /**
     * `trackhouse query` only: the nice value of its background threads (the view's builder and
     * decode threads, the hosted stream's; src/common/threads.ts QUERY_BACKGROUND), so its HTTP
     * thread goes first when the cores are short. 0 (default): as every other thread; at 10 the
     * reads' p99 under writes fell and the view's freshness p99 rose (docs/architecture/query.md).
     * The all-in-one has its own rule (its bulk threads at 10, the view's at 0) and ignores it.
     */
    backgroundNice: e.QUERY_BACKGROUND_NICE,
    /**
     * Test hook (0: off): the view's builder kills its process (SIGKILL) once it has handled this
     * many records since start, with its last transaction possibly still committing.
     */
    viewTestKillAfterRecords: e.QUERY_VIEW_TEST_KILL_AFTER_RECORDS,
    /**
     * Origins whose pages may read the API from a browser (CORS), on QUERY_PORT and on STREAM_PORT
     * (`trackhouse alerts`) alike: '*' any (the default: keys are bearer headers, never cookies, so
     * a page reads only what the key it holds reads), a list (each echoed in
     * Access-Control-Allow-Origin), or none ([]).
     */
    corsOrigins: e.QUERY_CORS_ORIGINS,
  }));

export type QueryConfig = z.output<typeof querySchema>;
