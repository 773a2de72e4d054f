// Prometheus metrics of the query API, registered on the process's Registry.
import { Counter, Gauge, Histogram, type Registry } from '../common/metrics.js';
import type { CacheObserver, UserCache } from './cache.js';
import type { Gate } from './gate.js';

export type Route = 'events' | 'rollups' | 'volume' | 'alerts' | 'graphql' | 'other';

export interface QueryMetrics {
  /** Counts a reply and observes its latency (seconds since `startMs`, performance.now()). */
  done(route: Route, status: number, startMs: number): void;
  /** Answered from cached data. */
  cacheHit(): void;
  /** The user's window was loaded for this request. */
  cacheMiss(): void;
  /** Waited for a window load another request started. */
  cacheJoined(): void;
  /** The page reaches rows older than the user's window: answered by its own query. */
  cacheExact(): void;
  clickhouseDone(kind: string, startMs: number, ok: boolean): void;
  cacheObserver: CacheObserver;
}

// Sub-millisecond buckets: cache hits answer in tens of microseconds, ClickHouse in milliseconds.
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createQueryMetrics(registry: Registry, parts: { gate: Gate; cache: () => UserCache | null }): QueryMetrics {
  const requests = new Counter({
    name: 'trackhouse_query_requests_total',
    help: 'Query API replies by route and HTTP status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'trackhouse_query_request_duration_seconds',
    help: 'Time from request to reply, by route',
    labelNames: ['route'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const cache = new Counter({
    name: 'trackhouse_query_cache_requests_total',
    help:
      'Per-user event queries by cache outcome: hit (cached data), miss (loaded the user\'s window), joined (waited for a window load ' +
      'in flight), exact (its own query: a user new to the cache, or a page beyond the window)',
    labelNames: ['result'],
    registers: [registry],
  });
  const evictions = new Counter({
    name: 'trackhouse_query_cache_evictions_total',
    help: 'Users whose cached data was dropped to stay within QUERY_CACHE_MAX_BYTES / QUERY_CACHE_MAX_USERS',
    registers: [registry],
  });
  const invalidations = new Counter({
    name: 'trackhouse_query_cache_invalidations_total',
    help: 'Users whose cached data was dropped because the sink wrote rows for them',
    registers: [registry],
  });
  const updates = new Counter({
    name: 'trackhouse_query_cache_updates_total',
    help: 'Users whose cached window took in the rows the sink wrote for them (no reload needed)',
    registers: [registry],
  });
  const clickhouse = new Histogram({
    name: 'trackhouse_query_clickhouse_duration_seconds',
    help:
      'ClickHouse query time seen by the query API, by query and outcome (queueing in the gate excluded; with chDB it includes ' +
      'waiting for chDB, which runs parameterized queries one at a time)',
    labelNames: ['query', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'trackhouse_query_cache_users',
    help: 'Users with cached data (0 when caching is off)',
    registers: [registry],
    collect() {
      this.set(parts.cache()?.users ?? 0);
    },
  });
  new Gauge({
    name: 'trackhouse_query_cache_bytes',
    help: 'Approximate bytes held by the per-user cache',
    registers: [registry],
    collect() {
      this.set(parts.cache()?.bytes ?? 0);
    },
  });
  new Gauge({
    name: 'trackhouse_query_clickhouse_queries',
    help: 'ClickHouse queries running (state=running) or waiting for a slot (state=queued)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.set({ state: 'running' }, parts.gate.running);
      this.set({ state: 'queued' }, parts.gate.queued);
    },
  });

  // Children resolved once per label set: labels() hashes its arguments on every call.
  const requestChildren = new Map<string, Counter.Internal>();
  const latencyChildren = new Map<Route, Histogram.Internal<string>>();
  const hit = cache.labels('hit');
  const miss = cache.labels('miss');
  const joined = cache.labels('joined');
  const exact = cache.labels('exact');
  return {
    done(route, status, startMs) {
      const k = `${route}${status}`;
      let r = requestChildren.get(k);
      if (r === undefined) {
        r = requests.labels(route, String(status));
        requestChildren.set(k, r);
      }
      r.inc();
      let l = latencyChildren.get(route);
      if (l === undefined) {
        l = latency.labels(route);
        latencyChildren.set(route, l);
      }
      l.observe((performance.now() - startMs) / 1000);
    },
    cacheHit: () => hit.inc(),
    cacheMiss: () => miss.inc(),
    cacheJoined: () => joined.inc(),
    cacheExact: () => exact.inc(),
    clickhouseDone(kind, startMs, ok) {
      clickhouse.labels(kind, ok ? 'ok' : 'error').observe((performance.now() - startMs) / 1000);
    },
    cacheObserver: {
      evicted: (n) => evictions.inc(n),
      invalidated: (n) => invalidations.inc(n),
      updated: (n) => updates.inc(n),
    },
  };
}
