// The one place that builds the running parts of trackhouse as stoppable components, from the
// config, the clients (Kafka, ClickHouse), a logger and a metrics registry. `trackhouse ingest`,
// `sink`, `query` and `alerts` each run one; `trackhouse start` runs the sink and the query API in
// its own process (sharing the ClickHouse client and the change feed) and ingest as a child process
// (`trackhouse ingest`), so every process runs the same wiring. The query API hosts the stream
// component (live volume, alerts) unless QUERY_STREAM=off. Each component is a lifecycle Part
// (./lifecycle.ts): drain() turns it not ready, stop() stops it.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import type { ClickHouseHandle } from '../warehouse/index.js';
import type { ChangeFeed, ChangePublisher } from '../common/changefeed.js';
import { startOpsServer } from '../common/http.js';
import type { Logger } from '../common/log.js';
import type { Registry } from '../common/metrics.js';
import type { Config } from '../config/index.js';
import { addDashboardRoutes } from '../dashboard/index.js';
import { graphqlRoutes } from '../graphql/index.js';
import { startIngest } from '../ingest/index.js';
import { startQuery, type QueryRoutes } from '../query/index.js';
import type { StoredRow } from '../schema/index.js';
import { startSink, type SinkHooks } from '../sink/index.js';
import { hostStream, loadStreamRules, startStreamServer, type HostedStream, type Rule } from '../stream/index.js';
import type { Part } from './lifecycle.js';

export interface Component extends Part {
  /** The port it serves HTTP on (the sink: its /healthz, /readyz, /metrics). */
  readonly port: number;
}

export interface ComponentBase {
  config: Config;
  log: Logger;
  registry: Registry;
}

/** The HTTP edge on INGEST_PORT (INGEST_THREADS threads), producing to `brokers`. */
export async function ingestComponent(o: ComponentBase & { brokers: string[] }): Promise<Component> {
  const ingest = await startIngest({ config: o.config, log: o.log, registry: o.registry, brokers: o.brokers });
  return { name: 'ingest', port: ingest.port, drain: () => ingest.drain(), stop: () => ingest.stop() };
}

/**
 * The sink and its operational endpoints on SINK_PORT. It keeps consuming during the drain delay;
 * only /readyz changes. `changes` gets every insert's rows (the all-in-one's query cache).
 */
export async function sinkComponent(
  o: ComponentBase & { kafka: Kafka; clickhouse: ClickHouseClient; changes?: ChangePublisher<StoredRow>; hooks?: SinkHooks },
): Promise<Component> {
  const { config, registry } = o;
  const sink = await startSink({
    config,
    kafka: o.kafka,
    clickhouse: o.clickhouse,
    log: o.log,
    registry,
    ...(o.changes ? { changes: o.changes } : {}),
    ...(o.hooks ? { hooks: o.hooks } : {}),
  });
  let ops;
  try {
    ops = await startOpsServer({ registry, checks: sink.checks, host: config.http.host, port: config.http.sinkPort, portVariable: 'SINK_PORT', log: o.log });
  } catch (err) {
    await sink.stop();
    throw err;
  }
  const http = ops;
  return {
    name: 'sink',
    port: http.port,
    drain: () => http.drain(),
    async stop() {
      http.drain();
      try {
        await sink.stop();
      } finally {
        http.close();
      }
    },
  };
}

/**
 * The query API on QUERY_PORT, with the dashboard (GET /dashboard, GET /v1/pipeline) and GraphQL
 * (POST and GET /graphql) on the same port; with `changes` (the sink in this process) it caches hot
 * users. With `stream` (hostedStream) it serves /v1/volume and /v1/alerts too: the stream starts
 * once the API listens and stops after it; while Kafka cannot be reached the API still serves the rest.
 */
export async function queryComponent(
  o: ComponentBase & { clickhouse: ClickHouseClient; changes?: ChangeFeed<StoredRow>; stream?: HostedStream | null },
): Promise<Component> {
  const stream = o.stream ?? null;
  const server = await startQuery({
    config: o.config,
    clickhouse: o.clickhouse,
    log: o.log,
    registry: o.registry,
    routes: [
      dashboardRoutes(o.config, o.log),
      graphqlRoutes({ config: o.config, log: o.log, stream: stream ? { view: () => stream.running?.view() ?? null } : null }),
      ...(stream ? [(app, g) => stream.routes(app, g.draining, g.done)] satisfies QueryRoutes[] : []),
    ],
    ...(o.changes ? { changes: o.changes } : {}),
  });
  stream?.start();
  return {
    name: 'query',
    port: server.port,
    drain: () => server.drain(),
    async stop() {
      try {
        await server.stop();
      } finally {
        await stream?.stop();
      }
    },
  };
}

/**
 * The alert rules of TRACKHOUSE_ALERTS for the stream component this process runs (none when it
 * runs none): read before anything starts, so a bad rule stops the command with a ConfigError
 * naming the rule and field.
 */
export function streamRules(config: Config, runsStream: boolean): Rule[] {
  return runsStream ? loadStreamRules(config) : [];
}

/** The stream component for the query API to host (queryComponent's `stream`); null with QUERY_STREAM=off. */
export function hostedStream(o: ComponentBase & { kafka: Kafka; rules: readonly Rule[] }): HostedStream | null {
  if (!o.config.stream.inQuery) return null;
  return hostStream({ config: o.config, kafka: o.kafka, log: o.log, registry: o.registry, rules: o.rules });
}

/**
 * `trackhouse alerts`: the stream component alone, its /v1/volume, /v1/alerts, /healthz, /readyz
 * (503 until caught up) and /metrics on STREAM_PORT. Unlike the hosted one it needs Kafka to start.
 */
export async function alertsComponent(o: ComponentBase & { kafka: Kafka; rules: readonly Rule[] }): Promise<Component> {
  const server = await startStreamServer({ config: o.config, kafka: o.kafka, log: o.log, registry: o.registry, rules: o.rules });
  return { name: 'alerts', port: server.port, drain: () => server.drain(), stop: () => server.stop() };
}

/**
 * The dashboard's routes on the query server, behind its read key: the page and its files, and
 * GET /v1/pipeline, which reads the ingest and the sink at DASHBOARD_INGEST_URL / DASHBOARD_SINK_URL.
 */
export function dashboardRoutes(config: Config, log: Logger): QueryRoutes {
  return (app, guard) => addDashboardRoutes(app, { config: config.dashboard, log, admit: guard.admit, fail: guard.fail });
}

/** An open ClickHouse client as a part: closed after the components that use it. */
export function clickhousePart(ch: ClickHouseHandle): Part {
  return { name: 'clickhouse', stop: () => ch.close() };
}

/** KAFKA_BROKERS, or the project's local broker (`trackhouse kafka run`) when none is set. */
export function kafkaBrokers(config: Config): string[] {
  return config.kafka.brokers.length > 0 ? [...config.kafka.brokers] : [`127.0.0.1:${config.kafka.local.port}`];
}
