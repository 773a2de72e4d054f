// What the dashboard's "ingest health" and "sink lag" panels show. The query process cannot see
// the other processes, so it reads their own operational endpoints over HTTP: /readyz (ready or
// not, and each dependency's check) and /metrics (Prometheus text), at the URLs of
// DASHBOARD_INGEST_URL and DASHBOARD_SINK_URL (`trackhouse start` points them at its own parts).
//
// Many open dashboards must not multiply the scrapes: a result is reused for CACHE_MS and
// concurrent requests share one scrape in flight.
import type { DashboardConfig } from '../config/index.js';
import { Metrics } from './prometheus.js';

/** How long one scrape answers every dashboard (they poll every 2 s). */
const CACHE_MS = 1_000;

interface Reachable {
  configured: true;
  url: string;
  /** Answered at all (readyz or metrics). */
  reachable: boolean;
  /** /readyz said 200 (true) or 503 (false); null: no such answer from /readyz (see error). */
  ready: boolean | null;
  /** Each dependency's readiness check, as its /readyz reports it (name -> "ok" or the reason). */
  checks: Record<string, string>;
  /** What went wrong reaching it, for a person: "no answer within 1000 ms", "HTTP 404", ... */
  error: string | null;
}

export interface IngestStatus extends Reachable {
  /** Events Kafka acknowledged since the ingest started (all threads). */
  events_accepted: number | null;
  /** Invalid events written to the rejected topic since start, by reason code. */
  events_rejected: Record<string, number> | null;
  /** Whole bodies refused (malformed JSON, too large, ...) since start, by reason code. */
  bodies_rejected: Record<string, number> | null;
  /** Requests refused for a missing or unknown write key since start, by reason. */
  unauthenticated: Record<string, number> | null;
  requests_in_flight: number | null;
  pending_bytes: number | null;
}

export interface SinkStatus extends Reachable {
  /** Records not yet committed by the sink group, over the partitions this sink member owns. */
  lag: number | null;
  lag_by_partition: Record<string, number> | null;
  rows_inserted: number | null;
  insert_failures: number | null;
  dead_letters: Record<string, number> | null;
  /** Consumption held back because ClickHouse refuses inserts. */
  waiting_for_clickhouse: boolean | null;
}

export type Component<T> = T | { configured: false };

export interface PipelineStatus {
  /** When the scrape ran (ISO 8601). */
  time: string;
  ingest: Component<IngestStatus>;
  sink: Component<SinkStatus>;
}

export interface PipelineReader {
  read(): Promise<PipelineStatus>;
}

type Fetch = typeof fetch;

export function createPipelineReader(config: DashboardConfig, deps: { fetch?: Fetch; now?: () => number } = {}): PipelineReader {
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  let last: { at: number; status: PipelineStatus } | null = null;
  let inFlight: Promise<PipelineStatus> | null = null;

  const scrape = async (): Promise<PipelineStatus> => {
    const [ingest, sink] = await Promise.all([
      config.ingestUrl === null ? null : probe(doFetch, config.ingestUrl, config.scrapeTimeoutMs),
      config.sinkUrl === null ? null : probe(doFetch, config.sinkUrl, config.scrapeTimeoutMs),
    ]);
    return {
      time: new Date(now()).toISOString(),
      ingest: ingest === null ? { configured: false } : ingestStatus(ingest),
      sink: sink === null ? { configured: false } : sinkStatus(sink),
    };
  };

  return {
    read() {
      if (last !== null && now() - last.at < CACHE_MS) return Promise.resolve(last.status);
      inFlight ??= scrape()
        .then((status) => {
          last = { at: now(), status };
          return status;
        })
        .finally(() => (inFlight = null));
      return inFlight;
    },
  };
}

interface Probe {
  base: Reachable;
  metrics: Metrics | null;
}

async function probe(doFetch: Fetch, url: string, timeoutMs: number): Promise<Probe> {
  const get = async (path: string) => {
    const res = await doFetch(`${url}${path}`, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    return { status: res.status, text: await res.text() };
  };
  const [ready, metrics] = await Promise.allSettled([get('/readyz'), get('/metrics')]);
  const errors: string[] = [];
  let isReady: boolean | null = null;
  let checks: Record<string, string> = {};
  if (ready.status === 'fulfilled') {
    isReady = ready.value.status === 200 ? true : ready.value.status === 503 ? false : null;
    checks = checksOf(ready.value.text);
    if (ready.value.status !== 200 && ready.value.status !== 503) errors.push(`/readyz answered HTTP ${ready.value.status}`);
  } else {
    errors.push(`/readyz: ${reason(ready.reason, timeoutMs)}`);
  }
  let parsed: Metrics | null = null;
  if (metrics.status === 'fulfilled' && metrics.value.status === 200) {
    try {
      parsed = new Metrics(metrics.value.text);
    } catch (err) {
      errors.push(`/metrics is not Prometheus text: ${reason(err, timeoutMs)}`);
    }
  } else {
    errors.push(metrics.status === 'fulfilled' ? `/metrics answered HTTP ${metrics.value.status}` : `/metrics: ${reason(metrics.reason, timeoutMs)}`);
  }
  const reachable = ready.status === 'fulfilled' || metrics.status === 'fulfilled';
  return {
    base: { configured: true, url, reachable, ready: isReady, checks, error: errors.length > 0 ? errors.join('; ') : null },
    metrics: parsed,
  };
}

/** Our /readyz body: {"status":..., "ready":..., "checks":{name: "ok" | reason}}. */
function checksOf(text: string): Record<string, string> {
  try {
    const body = JSON.parse(text) as { checks?: unknown };
    if (body.checks && typeof body.checks === 'object') {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(body.checks as Record<string, unknown>)) out[k] = String(v);
      return out;
    }
  } catch {
    // Not ours, or not JSON: the status code alone says ready or not.
  }
  return {};
}

function reason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code === 'ECONNREFUSED' ? 'connection refused' : code;
  return err instanceof Error ? err.message : String(err);
}

function ingestStatus(p: Probe): IngestStatus {
  const m = p.metrics;
  return {
    ...p.base,
    events_accepted: m?.sum('trackhouse_ingest_events_accepted_total') ?? null,
    events_rejected: m?.by('trackhouse_ingest_events_rejected_total', 'code') ?? null,
    bodies_rejected: m?.by('trackhouse_ingest_bodies_rejected_total', 'code') ?? null,
    unauthenticated: m?.by('trackhouse_ingest_unauthenticated_total', 'code') ?? null,
    requests_in_flight: m?.sum('trackhouse_ingest_requests_in_flight') ?? null,
    pending_bytes: m?.sum('trackhouse_ingest_pending_bytes') ?? null,
  };
}

function sinkStatus(p: Probe): SinkStatus {
  const m = p.metrics;
  const waiting = m?.sum('trackhouse_sink_waiting_for_clickhouse') ?? null;
  return {
    ...p.base,
    lag: m?.sum('trackhouse_sink_consumer_lag') ?? null,
    lag_by_partition: m?.by('trackhouse_sink_consumer_lag', 'partition') ?? null,
    rows_inserted: m?.sum('trackhouse_sink_rows_inserted_total') ?? null,
    insert_failures: m?.sum('trackhouse_sink_insert_failures_total') ?? null,
    dead_letters: m?.by('trackhouse_sink_dlq_records_total', 'code') ?? null,
    waiting_for_clickhouse: waiting === null ? null : waiting > 0,
  };
}
