import { z } from 'zod';
import { int } from './parse.js';

export const querySchema = z
  .object({
    QUERY_DEFAULT_LIMIT: int(100, 1, 1000),
    QUERY_MAX_LIMIT: int(1000, 1, 10_000),
    QUERY_TIMEOUT_MS: int(10_000, 100, 600_000),
    QUERY_MAX_CONCURRENT: int(8, 1, 1024),
    QUERY_MAX_QUEUED: int(1024, 0, 1_000_000),
    QUERY_CACHE_MAX_BYTES: int(128 * 1024 * 1024, 0, 64 * 1024 * 1024 * 1024),
    QUERY_CACHE_MAX_USERS: int(100_000, 1, 100_000_000),
    QUERY_CACHE_WINDOW: int(200, 1, 10_000),
    QUERY_CACHE_TTL_MS: int(300_000, 0, 86_400_000),
  })
  .superRefine((e, ctx) => {
    if (e.QUERY_DEFAULT_LIMIT > e.QUERY_MAX_LIMIT) {
      ctx.addIssue({ code: 'custom', path: ['QUERY_DEFAULT_LIMIT'], message: `must not exceed QUERY_MAX_LIMIT (${e.QUERY_MAX_LIMIT})` });
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
    /**
     * Per-user cache budget. Used only when the process also runs the sink (it needs the sink's
     * change feed to stay exact); 0 turns it off.
     */
    cacheMaxBytes: e.QUERY_CACHE_MAX_BYTES,
    /** Users whose data is cached at most. */
    cacheMaxUsers: e.QUERY_CACHE_MAX_USERS,
    /** Newest rows of a user kept to answer any of their pages that lies within them. */
    cacheWindow: e.QUERY_CACHE_WINDOW,
    /**
     * Upper bound on an entry's age, 0 = none. Only a safety net for rows changed behind the
     * pipeline's back (a manual ALTER ... DELETE, another writer process): changes that go
     * through the sink invalidate at once.
     */
    cacheTtlMs: e.QUERY_CACHE_TTL_MS,
  }));

export type QueryConfig = z.output<typeof querySchema>;
