// Prometheus metrics of the query API, registered on the process's Registry.
import { Counter, Gauge, Histogram, type Registry } from '../common/metrics.js';
import type { Gate } from './gate.js';

export type Route = 'events' | 'rollups' | 'volume' | 'alerts' | 'graphql' | 'other';

/** Where a page of events came from. */
export type Answer = 'view' | 'view_clickhouse' | 'clickhouse' | 'forwarded';

export interface QueryMetrics {
  /** Counts a reply and observes its latency (seconds since `startMs`, performance.now()). */
  done(route: Route, status: number, startMs: number): void;
  answered(answer: Answer): void;
  clickhouseDone(kind: string, startMs: number, ok: boolean): void;
}

// Sub-millisecond buckets: the view answers in tens of microseconds, ClickHouse in milliseconds.
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createQueryMetrics(registry: Registry, parts: { gate: Gate }): QueryMetrics {
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
  const answers = new Counter({
    name: 'trackhouse_query_events_answers_total',
    help:
      'Pages of events by where they came from: view (the local view alone), view_clickhouse (the view, then ClickHouse beyond its ' +
      'horizon), clickhouse (ClickHouse alone: before the view caught up, or a page older than the view), forwarded (to the shard ' +
      'holding the user)',
    labelNames: ['answer'],
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
  const answerChildren = new Map<Answer, Counter.Internal>();
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
    answered(answer) {
      let c = answerChildren.get(answer);
      if (c === undefined) {
        c = answers.labels(answer);
        answerChildren.set(answer, c);
      }
      c.inc();
    },
    clickhouseDone(kind, startMs, ok) {
      clickhouse.labels(kind, ok ? 'ok' : 'error').observe((performance.now() - startMs) / 1000);
    },
  };
}
