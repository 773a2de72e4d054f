// Prometheus metrics of the query API, registered on the process's Registry.
import { Counter, Gauge, Histogram, type Registry } from '../common/metrics.js';
import type { Gate } from './gate.js';

const ROUTES = ['events', 'rollups', 'volume', 'alerts', 'graphql', 'other'] as const;
export type Route = (typeof ROUTES)[number];
const ROUTE_INDEX = Object.fromEntries(ROUTES.map((r, i) => [r, i])) as Record<Route, number>;
/** HTTP statuses are below 600 (one outside [100, 600) is counted as 0). */
const STATUSES = 600;

/** Where a page of events came from. */
const ANSWERS = ['view', 'view_clickhouse', 'clickhouse', 'forwarded'] as const;
export type Answer = (typeof ANSWERS)[number];
const ANSWER_INDEX = Object.fromEntries(ANSWERS.map((a, i) => [a, i])) as Record<Answer, number>;

export interface QueryMetrics {
  /** Counts a reply and observes its latency (seconds since `startMs`, performance.now()). */
  done(route: Route, status: number, startMs: number): void;
  answered(answer: Answer): void;
  clickhouseDone(kind: string, startMs: number, ok: boolean): void;
}

// Sub-millisecond buckets: the view answers in tens of microseconds, ClickHouse in milliseconds.
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createQueryMetrics(registry: Registry, parts: { gate: Gate }): QueryMetrics {
  // Hot path (every request): replies and answers are counted in plain arrays and added to the
  // counters when they are read (collect()), so a request costs two array increments, not a
  // prom-client inc() each (which validates and hashes its labels on every call).
  const replies = new Float64Array(ROUTES.length * STATUSES);
  const answerCounts = new Float64Array(ANSWERS.length);
  new Counter({
    name: 'trackhouse_query_requests_total',
    help: 'Query API replies by route and HTTP status',
    labelNames: ['route', 'status'],
    registers: [registry],
    collect() {
      for (let i = 0; i < replies.length; i++) {
        const n = replies[i]!;
        if (n === 0) continue;
        replies[i] = 0;
        this.inc({ route: ROUTES[Math.floor(i / STATUSES)]!, status: String(i % STATUSES) }, n);
      }
    },
  });
  const latency = new Histogram({
    name: 'trackhouse_query_request_duration_seconds',
    help: 'Time from request to reply, by route',
    labelNames: ['route'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  new Counter({
    name: 'trackhouse_query_events_answers_total',
    help:
      'Pages of events by where they came from: view (the local view alone), view_clickhouse (the view, then ClickHouse beyond its ' +
      'horizon), clickhouse (ClickHouse alone: before the view caught up, or a page older than the view), forwarded (to the shard ' +
      'holding the user)',
    labelNames: ['answer'],
    registers: [registry],
    collect() {
      for (let i = 0; i < answerCounts.length; i++) {
        const n = answerCounts[i]!;
        if (n === 0) continue;
        answerCounts[i] = 0;
        this.inc({ answer: ANSWERS[i]! }, n);
      }
    },
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

  // Children resolved once per route: labels() hashes its arguments on every call.
  const latencyChildren = ROUTES.map((r) => latency.labels(r));
  return {
    done(route, status, startMs) {
      const r = ROUTE_INDEX[route];
      const k = r * STATUSES + (status >= 100 && status < STATUSES ? status : 0);
      replies[k] = replies[k]! + 1;
      latencyChildren[r]!.observe((performance.now() - startMs) / 1000);
    },
    answered(answer) {
      const k = ANSWER_INDEX[answer];
      answerCounts[k] = answerCounts[k]! + 1;
    },
    clickhouseDone(kind, startMs, ok) {
      clickhouse.labels(kind, ok ? 'ok' : 'error').observe((performance.now() - startMs) / 1000);
    },
  };
}
