// The one place that builds the running parts of trackhouse as stoppable components, from the
// config, the clients (Kafka, ClickHouse), a logger and a metrics registry. `trackhouse ingest`,
// `sink`, `query` and `alerts` each run one; `trackhouse start` runs the sink and the query API in
// its own process (sharing the ClickHouse client) and ingest as a child process
// (`trackhouse ingest`), so every process runs the same wiring. The query API keeps its own view of
// the events topic and hosts the stream component (live volume, alerts) unless QUERY_STREAM=off.
// Each component is a lifecycle Part (./lifecycle.ts): drain() turns it not ready, stop() stops it.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { DEFAULT_READ_ONLY_LIMITS, type ClickHouseHandle } from '../warehouse/index.js';
import { startOpsServer, type ReadinessCheck } from '../common/http.js';
import type { Logger } from '../common/log.js';
import type { Registry } from '../common/metrics.js';
import type { Config } from '../config/index.js';
import { addDashboardRoutes } from '../dashboard/index.js';
import { graphqlRoutes } from '../graphql/index.js';
import { startIngest } from '../ingest/index.js';
import { partitionCount } from '../kafka/admin.js';
import { createKafka, ensureTopics } from '../kafka/index.js';
import { startQuery, type QueryRoutes, type QueryServer } from '../query/index.js';
import { startSink, type SinkHooks } from '../sink/index.js';
import { hostStream, loadStreamRules, startStreamServer, type HostedStream, type Rule } from '../stream/index.js';
import { shardPartitions, startView, type View } from '../view/view.js';
import { createAuditLog, startAuditCopier } from '../audit/index.js';
import { createErasureWriter, startErasureReader, type ErasureList, type ErasureReader } from '../erasure/index.js';
import { adminRoutes, ErasureStore, RegulationExecutor, type AdminDeps } from '../regulations/index.js';
import { addRegistryRoutes, SchemaRegistryAnswers } from '../registry/index.js';
import { loadSchemaVersions } from '../schema/index.js';
import type { Part } from './lifecycle.js';

export interface Component extends Part {
  /** The port it serves HTTP on (the sink: its /healthz, /readyz, /metrics); HTTPS with TLS and no TLS port. */
  readonly port: number;
  /** Ingest and query: the HTTPS port when apart from `port` (INGEST_TLS_PORT, QUERY_TLS_PORT). */
  readonly tlsPort?: number | null;
}

export interface ComponentBase {
  config: Config;
  log: Logger;
  registry: Registry;
}

/** The HTTP edge on INGEST_PORT (INGEST_THREADS threads), producing to `brokers`. */
export async function ingestComponent(o: ComponentBase & { brokers: string[] }): Promise<Component> {
  const ingest = await startIngest({ config: o.config, log: o.log, registry: o.registry, brokers: o.brokers });
  return {
    name: 'ingest',
    ifCut: 'its producer was still waiting on Kafka: requests still waiting, if any, get no answer (none of them was acknowledged)',
    port: ingest.port,
    tlsPort: ingest.tlsPort,
    drain: () => ingest.drain(),
    stop: () => ingest.stop(),
    reload: () => ingest.reloadTls(),
  };
}

/** The sink's component: its /readyz can also report on other parts (the all-in-one's). */
export interface SinkComponent extends Component {
  /** Adds a check to /readyz: the all-in-one's supervised parts (503 while one is down). */
  addCheck(check: ReadinessCheck): void;
}

/**
 * The sink and its operational endpoints on SINK_PORT. It keeps consuming during the drain delay;
 * only /readyz changes.
 */
export async function sinkComponent(
  o: ComponentBase & { kafka: Kafka; clickhouse: ClickHouseClient; hooks?: SinkHooks; erasures?: ErasureReader },
): Promise<SinkComponent> {
  const { config, registry } = o;
  if (o.erasures) await o.erasures.loaded;
  const sink = await startSink({
    config,
    kafka: o.kafka,
    clickhouse: o.clickhouse,
    log: o.log,
    registry,
    ...(o.hooks ? { hooks: o.hooks } : {}),
    // Absent: the sink reads the erasure list itself.
    ...(o.erasures ? { erasures: o.erasures.list } : {}),
  });
  // Read at each /readyz request, so a check added later counts from then on.
  const checks: ReadinessCheck[] = [...sink.checks];
  let ops;
  try {
    ops = await startOpsServer({ registry, checks, host: config.http.host, port: config.http.sinkPort, portVariable: 'SINK_PORT', log: o.log });
  } catch (err) {
    await sink.stop();
    throw err;
  }
  const http = ops;
  return {
    name: 'sink',
    ifCut: 'records fetched but not yet committed are read again at the next start (the dedup keeps each once)',
    port: http.port,
    addCheck: (check) => checks.push(check),
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

export interface QueryComponent extends Component {
  readonly server: QueryServer;
  readonly view: View;
}

/**
 * The query API on QUERY_PORT, with the dashboard (GET /dashboard, GET /v1/pipeline), GraphQL
 * (POST and GET /graphql) and the schema registry's read API (/registry) on the same port, and the per-user view of the events topic behind it
 * (every partition, or this shard's with QUERY_SHARDS): the view reads Kafka itself and needs
 * nothing from the sink; ClickHouse answers what lies outside it. With `stream` (hostedStream) it
 * serves /v1/volume and /v1/alerts too: the stream starts once the API listens. Stops the HTTP API
 * first (answers in flight), then the stream, then the view (it saves its state).
 */
export async function queryComponent(
  o: ComponentBase & { clickhouse: ClickHouseClient; brokers: string[]; stream?: HostedStream | null; erasures?: ErasureReader },
): Promise<QueryComponent> {
  const { config, log } = o;
  const stream = o.stream ?? null;
  let admin: AdminDeps | null = null;
  // Listening first: a port or address problem is reported before Kafka is asked anything, and
  // /readyz answers (503) while the view starts.
  const server = await startQuery({
    config,
    clickhouse: o.clickhouse,
    log,
    registry: o.registry,
    expectsView: true,
    routes: [
      dashboardRoutes(config, log),
      graphqlRoutes({ config, log, registry: o.registry, stream: stream ? { answer: (route, query) => stream.answer(route, query) } : null }),
      ...(stream ? [(app, g) => stream.routes(app, g.draining, g.cors, g.done, g.begin)] satisfies QueryRoutes[] : []),
      adminRoutes({ adminKeys: config.keys.admin, timeoutMs: config.query.timeoutMs, deps: () => admin }),
      registryRoutes(config),
    ],
  });
  // The stream runs in a thread of its own and needs nothing from the view, but both catch up on
  // the same events: started together they split the cores, and a view built from scratch took
  // about half again as long (measured, docs/architecture/view.md). So it starts once the view has
  // caught up: at once after an ordinary restart, after the build for a new or wiped view.
  let streamHeld = stream !== null;
  const startStream = () => {
    if (!streamHeld) return;
    streamHeld = false;
    stream?.start();
  };
  let view: View;
  let regulations: RegulationParts | null = null;
  const ownErasures = o.erasures === undefined;
  let erasures: ErasureReader | null = o.erasures ?? null;
  try {
    const kafka = createKafka(config.kafka, log, o.brokers);
    await ensureTopics(kafka, config.kafka);
    const partitions = await partitionCount(kafka, config.kafka.topics.events);
    // The view writes nothing of an erased user: the list is loaded first.
    erasures ??= await startErasureReader(kafka, config.kafka.topics.regulations, log);
    await erasures.loaded;
    view = await startView({
      erasures: erasures.list,
      config,
      brokers: o.brokers,
      partitionCount: partitions,
      partitions: shardPartitions(partitions, config.query.shards, config.query.shardIndex),
      clickhouse: o.clickhouse,
      log,
      registry: o.registry,
    });
    server.attachView(view, partitions);
    const v = view;
    if (stream !== null) void v.whenCaughtUp().then(startStream);
    regulations = await startRegulations(kafka, config, o.clickhouse, erasures.list, log, (k) => v.erasure(k));
    admin = regulations.deps;
  } catch (err) {
    streamHeld = false;
    await server.stop();
    await stream?.stop();
    if (ownErasures) await erasures?.stop();
    throw err;
  }
  const v = view;
  const regs = regulations;
  return {
    name: 'query',
    ifCut: 'queries in flight get no answer',
    port: server.port,
    server,
    view: v,
    tlsPort: server.tlsPort,
    drain: () => server.drain(),
    reload: () => server.reloadTls(),
    async stop() {
      streamHeld = false;
      try {
        await server.stop();
      } finally {
        try {
          await stream?.stop();
        } finally {
          try {
            // A deletion in flight is finished: closing chDB under a running mutation aborts the engine.
            await regs?.stop();
            if (ownErasures) await erasures?.stop();
          } finally {
            await v.stop();
          }
        }
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

/**
 * The stream component for the query API to host (queryComponent's `stream`), in a thread of its
 * own; null with QUERY_STREAM=off. Its rules are read there again from TRACKHOUSE_ALERTS (checked
 * already by streamRules before anything started).
 */
export function hostedStream(o: ComponentBase & { brokers: string[] }): HostedStream | null {
  if (!o.config.stream.inQuery) return null;
  return hostStream({ config: o.config, brokers: o.brokers, log: o.log, registry: o.registry });
}

/**
 * `trackhouse alerts`: the stream component alone, its /v1/volume, /v1/alerts, /healthz, /readyz
 * (503 until caught up) and /metrics on STREAM_PORT. Unlike the hosted one it needs Kafka to start.
 */
export async function alertsComponent(o: ComponentBase & { kafka: Kafka; rules: readonly Rule[] }): Promise<Component> {
  const server = await startStreamServer({ config: o.config, kafka: o.kafka, log: o.log, registry: o.registry, rules: o.rules });
  return { name: 'alerts', ifCut: 'its state is rebuilt from Kafka at the next start', port: server.port, drain: () => server.drain(), stop: () => server.stop() };
}

/**
 * The dashboard's routes on the query server, behind its read key: the page and its files, and
 * GET /v1/pipeline, which reads the ingest and the sink at DASHBOARD_INGEST_URL / DASHBOARD_SINK_URL.
 */
export function dashboardRoutes(config: Config, log: Logger): QueryRoutes {
  return (app, guard) => addDashboardRoutes(app, { config: config.dashboard, log, admit: guard.admit, fail: guard.fail, cors: guard.cors });
}

/**
 * The schema registry's read API (GET /registry/schemas/ids/{id} and the rest) over the event
 * schemas, behind the read key, so Kafka tools decode the events topic.
 */
export function registryRoutes(config: Config): QueryRoutes {
  const answers = new SchemaRegistryAnswers(loadSchemaVersions('event'), config.kafka.topics.events);
  return (app, guard) => addRegistryRoutes(app, { answers, readKeys: config.keys.read, draining: guard.draining, begin: guard.begin, done: (status, start) => guard.done('other', status, start), cors: guard.cors });
}

interface RegulationParts {
  deps: AdminDeps;
  stop(): Promise<void>;
}

/**
 * What the admin routes need: the writer of the erasure list, the audit log and its copy into
 * ClickHouse, the executor of regulations (it resumes the ones a stop left running).
 */
async function startRegulations(
  kafka: Kafka,
  config: Config,
  clickhouse: ClickHouseClient,
  list: ErasureList,
  log: Logger,
  viewErasure: (userKey: string) => Promise<number> | undefined,
): Promise<RegulationParts> {
  const writer = await createErasureWriter(kafka, config.kafka.topics.regulations, list);
  const audit = await createAuditLog(kafka, config.kafka.topics.audit);
  const copier = startAuditCopier(kafka, config.kafka.topics.audit, clickhouse, log);
  const executor = new RegulationExecutor({
    list,
    writer,
    store: new ErasureStore(clickhouse),
    audit,
    log,
    viewErasure,
    // Rows the sink decoded before it learnt the list land within about a batch time.
    recheckAfterMs: Math.max(2_000, 2 * config.sink.batchMs),
  });
  executor.resume();
  return {
    deps: { executor, list, clickhouse, copier },
    async stop() {
      await executor.idle();
      await Promise.allSettled([copier.stop(), writer.close(), audit.close()]);
    },
  };
}

/** The erasure list read from its topic, as a part: stopped after the components that use it. */
export async function erasuresPart(kafka: Kafka, config: Config, log: Logger): Promise<{ reader: ErasureReader; part: Part }> {
  const reader = await startErasureReader(kafka, config.kafka.topics.regulations, log);
  return { reader, part: { name: 'erasures', ifCut: 'nothing: the list is read again at the next start', stop: () => reader.stop() } };
}

/** An open ClickHouse client as a part: closed after the components that use it. */
export function clickhousePart(ch: ClickHouseHandle, log: Logger): Part {
  return {
    name: 'clickhouse',
    ifCut: 'closed with the process (an insert in flight is not confirmed, so its records are read again)',
    stop: async () => {
      if (ch.biRunning()) {
        log.warn({ limitSeconds: DEFAULT_READ_ONLY_LIMITS.maxSeconds }, 'a BI statement is still running in chDB, which cannot stop it: the process exits when it ends (within its time limit)');
      }
      await ch.close();
    },
  };
}
