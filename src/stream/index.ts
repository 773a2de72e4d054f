// The stream component: live volume and windowed alerts from the event stream (issue #11).
// startStream() builds it from config and a Kafka client; the CLI hosts it in `trackhouse query`
// (QUERY_STREAM=on, the default: its routes on the query port) or runs it alone
// (`trackhouse alerts`, with its own /healthz, /readyz and /metrics on STREAM_PORT).
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import type { TemplatedApp } from 'uWebSockets.js';
import { createCors, READ_API_EXPOSED_HEADERS, type Cors } from '../common/cors.js';
import { HttpError } from '../common/errors.js';
import { addOpsRoutes, forMethod, listen, noRouteBody, NO_STORE, writeJson, type ReadinessCheck } from '../common/http.js';
import type { Logger } from '../common/log.js';
import type { Registry } from '../common/metrics.js';
import { Pending } from '../common/pending.js';
import { apiRouter } from '../common/router.js';
import { loadUws } from '../common/uws.js';
import type { Config } from '../config/index.js';
import { createLease, createLogProducer, ensureStreamTopics, ensureTopics, type Lease, type LogProducer } from '../kafka/index.js';
import type { Worker } from 'node:worker_threads';
import type { Metric, MetricObjectWithValues, MetricValue } from 'prom-client';
import { registerStreamRoutes, streamAnswer, type StreamRoute, type StreamView } from './api.js';
import type { FromHostThread, HostThreadData, MetricName, ToHostThread } from './hostthread.js';
import { createStreamMetrics, type StreamMetrics } from './metrics.js';
import { Notifier } from './notifier.js';
import { StreamProcessor } from './processor.js';
import { loadRules, type Rule } from './rules.js';
import { openStore, type OpenStore } from './store.js';
import { measureValue, type GroupState } from './window.js';
import { startThread } from '../common/thread.js';

export { alertsBody, parseVolumeRequest, paramError, registerStreamRoutes, streamAnswer, volumeBody, type StreamRoute, type StreamView } from './api.js';
export { loadRules, type Rule } from './rules.js';

export interface StreamOptions {
  config: Config;
  kafka: Kafka;
  log: Logger;
  registry: Registry;
  /** Validated rules (loadStreamRules); none: volume only. */
  rules: readonly Rule[];
}

export interface RunningStream {
  view(): StreamView;
  readonly caughtUp: boolean;
  readonly leader: boolean;
  /** For /readyz of `trackhouse alerts`: caught up with the partitions' ends at start. */
  readonly checks: readonly ReadinessCheck[];
  stop(): Promise<void>;
}

/** Reads TRACKHOUSE_ALERTS (none set: no rules). Throws a ConfigError naming rule and field. */
export function loadStreamRules(config: Config): Rule[] {
  if (config.stream.rulesFile === null) return [];
  return loadRules(config.stream.rulesFile, { latenessMs: config.stream.allowedLatenessMs, unitMs: config.stream.minWindowMs });
}

export async function startStream(opts: StreamOptions): Promise<RunningStream> {
  const { config, kafka, log } = opts;
  const cfg = config.stream;
  await ensureTopics(kafka, config.kafka);
  await ensureStreamTopics(kafka, cfg.topics, config.kafka.replicationFactor, log);
  const store: OpenStore = openStore(cfg.dir, cfg.dir === path.join(config.dataDir, 'stream'));
  if (store.wiped !== null) log.warn({ dir: cfg.dir, reason: store.wiped }, 'stream: state store removed; it is built again from Kafka');
  let metrics: StreamMetrics | null = null;
  let producer: LogProducer | null = null;
  let lease: Lease | null = null;
  let processor: StreamProcessor | null = null;
  let notifier: Notifier | null = null;
  try {
    notifier = new Notifier({
      dbs: store.dbs,
      rules: opts.rules,
      log,
      topic: cfg.topics.alerts,
      webhook: cfg.webhook,
      killBeforeCall: cfg.testKillBeforeWebhook,
      observer: {
        attempt: (rule, outcome, seconds) => {
          metrics?.notifications.inc({ rule, outcome });
          metrics?.webhookSeconds.observe({ rule }, seconds);
        },
        superseded: (rule) => metrics?.notifications.inc({ rule, outcome: 'superseded' }),
      },
    });
    const p = new StreamProcessor({ config, kafka, store, rules: opts.rules, log, metrics: () => metrics, notifier });
    processor = p;
    const n = notifier;
    metrics = createStreamMetrics(opts.registry, {
      lag: () => p.lag(),
      watermark: () => p.watermark,
      caughtUp: () => p.caughtUp,
      leader: () => n.isLeader,
      pending: () => n.pendingCount,
      alerting: () => p.evaluator.runtimes.map((rt) => ({ rule: rt.rule.name, groups: [...rt.rw.groups.values()].filter((g) => g.alert).length })),
      ruleCounters: () => p.evaluator.runtimes.map((rt) => ({ rule: rt.rule.name, ...rt.counters })),
      volumeMinute: () => {
        const start = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
        return { by: { source: p.volume.minute(start, 'source'), type: p.volume.minute(start, 'type'), event: p.volume.minute(start, 'event') }, rejected: p.volume.rejectedMinute(start) };
      },
      top: cfg.metricsTop,
    });
    await p.start();
    producer = await createLogProducer(kafka);
    n.start(producer);
    // Leader election: the lease holder sends; it first reads the notification log to its end.
    let generation = 0;
    lease = createLease(kafka, {
      topic: cfg.topics.lease,
      groupId: cfg.leaderGroup,
      sessionTimeoutMs: cfg.leaseSessionTimeoutMs,
      log,
      name: 'alerts',
      holderDoes: 'this replica sends notifications',
      onChange: (leader) => {
        const g = ++generation;
        if (!leader) {
          n.setLeader(false);
          return;
        }
        n.setLeader(false);
        void p.logEnd().then(
          (end) => {
            if (g === generation) n.setLeader(true, () => p.logPosition() >= end);
          },
          (err: unknown) => log.warn({ err }, 'could not read the end of the notification log; not sending until the next lease change'),
        );
      },
    });
    await lease.start();
    log.info({ rules: opts.rules.map((r) => r.name), dir: cfg.dir, instance: store.instance }, 'stream processor running');
  } catch (err) {
    await lease?.stop().catch(() => {});
    await notifier?.stop().catch(() => {});
    await processor?.stop().catch(() => {});
    await producer?.close().catch(() => {});
    await store.close();
    throw err;
  }
  const p = processor;
  const n = notifier;
  const l = lease;
  const runtimes = p.evaluator.runtimes;
  let stopping: Promise<void> | null = null;
  return {
    view: () => ({
      volume: p.volume,
      rules: runtimes.map((rt) => ({
        rule: rt.rule,
        groups: rt.rw.groups,
        current: (g: GroupState) => (g.lastSeen > -Infinity ? measureValue(rt.rule.measure, rt.rw.windowAgg(g, g.lastSeen + rt.rule.spec.step)) : 0),
        late: rt.counters.late,
        overflow: rt.counters.overflow,
      })),
      notes: () => n.recent(),
      leader: n.isLeader,
      caughtUp: p.caughtUp,
      replaying: p.replaying,
      watermark: p.watermark,
    }),
    get caughtUp() {
      return p.caughtUp;
    },
    get leader() {
      return n.isLeader;
    },
    checks: [
      {
        name: 'stream',
        check: async () => {
          if (!p.caughtUp) throw new Error('catching up with the partitions (see trackhouse_stream_lag)');
        },
      },
    ],
    stop() {
      stopping ??= (async () => {
        // Hand the lease over first, so another replica starts sending while this one stops.
        await l.stop();
        await n.stop();
        await p.stop();
        await producer!.close().catch(() => {});
        await store.close();
        log.info('stream processor stopped');
      })();
      return stopping;
    },
  };
}

/**
 * The stream component inside another server (the query API), in a thread of its own
 * (./hostthread.ts) so that its rounds, state commits and Kafka clients never run on the host's
 * HTTP thread: its routes answer 503 until it runs; it starts in the background and, while Kafka
 * cannot be reached, tries again every `retryMs`, so the host keeps serving what does not need it.
 * Its metrics are served by the host's registry (same names and labels as when it ran on the host's thread).
 */
export interface HostedStream {
  /** Registers /v1/volume and /v1/alerts on the host's app (`cors`: the host's, on every answer). */
  routes(app: TemplatedApp, draining: () => boolean, cors: Cors, done?: (route: StreamRoute, status: number, start: number) => void, begin?: () => () => void): void;
  /** The body of GET /v1/volume or /v1/alerts for a query string (GraphQL); rejects with the API's HttpError. */
  answer(route: StreamRoute, query: string): Promise<string>;
  start(): void;
  stop(): Promise<void>;
}

export interface HostedStreamOptions {
  config: Config;
  /** The Kafka brokers (resolved): the thread makes its own clients. */
  brokers: string[];
  log: Logger;
  registry: Registry;
}

const unavailable = () => new HttpError('stream_unavailable', 'the stream processor is not running yet (starting, or Kafka unreachable); retry shortly');

export function hostStream(opts: HostedStreamOptions, retryMs = 30_000): HostedStream {
  const { log } = opts;
  let worker: Worker | null = null;
  let stopping: Promise<void> | null = null;
  const waiting = new Pending<unknown>();
  let onStopped: (() => void) | null = null;

  const ask = <T>(m: DistributiveOmit<ToHostThread, 'id'>): Promise<T> => {
    const w = worker;
    if (w === null || stopping !== null) return Promise.reject(unavailable());
    return waiting.ask((id) => w.postMessage({ ...m, id } as ToHostThread)) as Promise<T>;
  };

  // The thread's metrics, under the host's registry: one proxy per metric name, all filled by one
  // request to the thread per scrape.
  let scrape: Promise<Map<string, MetricObjectWithValues<MetricValue<string>>>> | null = null;
  const proxies = new Set<string>();
  const scrapeOnce = () =>
    (scrape ??= ask<MetricObjectWithValues<MetricValue<string>>[]>({ type: 'metrics' })
      .catch(() => [])
      .then((list) => {
        scrape = null;
        return new Map(list.map((m) => [m.name, m]));
      }));
  const addProxies = (list: readonly MetricName[]) => {
    for (const m of list) {
      if (proxies.has(m.name)) continue;
      proxies.add(m.name);
      const { name, help, type } = m;
      opts.registry.registerMetric({
        name,
        help,
        type,
        aggregator: m.aggregator,
        get: async () => (await scrapeOnce()).get(name) ?? { name, help, type, values: [], aggregator: m.aggregator },
        reset: () => {},
      } as unknown as Metric);
    }
  };

  const spawn = () => {
    const data: HostThreadData = { config: opts.config, brokers: opts.brokers, retryMs };
    const w = startThread(import.meta.url, 'hostthread', { workerData: data });
    worker = w;
    w.on('message', (m: FromHostThread) => {
      if (m.type === 'stopped') {
        onStopped?.();
        return;
      }
      if (m.type === 'names') {
        addProxies(m.metrics);
        return;
      }
      if (m.type === 'metrics') {
        const list = m.metrics as MetricObjectWithValues<MetricValue<string>>[];
        addProxies(list);
        waiting.resolve(m.id, list);
      } else if ('body' in m) waiting.resolve(m.id, m.body);
      else waiting.reject(m.id, m.error === null ? new Error('the stream component failed to answer') : new HttpError(m.error.code, m.error.message, { details: m.error.details }));
    });
    w.on('error', (err) => log.error({ err }, 'the stream component failed'));
    w.on('exit', (code) => {
      if (worker === w) worker = null;
      waiting.rejectAll(unavailable());
      if (stopping !== null) {
        onStopped?.();
        return;
      }
      log.error({ code, restartInMs: retryMs }, 'the stream component stopped unexpectedly; restarting it');
      setTimeout(() => {
        if (stopping === null) spawn();
      }, retryMs).unref();
    });
  };

  return {
    routes(app, draining, cors, done, begin) {
      registerStreamRoutes(app, {
        readKeys: opts.config.keys.read,
        answer: (route, query) => ask<string>({ type: 'answer', route, query, now: Date.now() }),
        draining,
        cors,
        ...(done ? { done } : {}),
        ...(begin ? { begin } : {}),
      });
    },
    answer: (route, query) => ask<string>({ type: 'answer', route, query, now: Date.now() }),
    start: () => spawn(),
    stop() {
      stopping ??= (async () => {
        const w = worker;
        if (w === null) return;
        await new Promise<void>((resolve) => {
          onStopped = resolve;
          w.postMessage({ type: 'stop' } satisfies ToHostThread);
        });
        await w.terminate();
      })();
      return stopping;
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface StreamServer {
  readonly port: number;
  readonly stream: RunningStream;
  drain(): void;
  stop(): Promise<void>;
}

/**
 * `trackhouse alerts`: the stream component with its API and ops routes on STREAM_PORT. The API
 * answers as on the query port: the same router (a trailing slash, OPTIONS, the 404) and CORS
 * (QUERY_CORS_ORIGINS); the ops routes go on the app itself, without CORS, as there.
 */
export async function startStreamServer(opts: StreamOptions): Promise<StreamServer> {
  const stream = await startStream(opts);
  let draining = false;
  const app = loadUws().App();
  addOpsRoutes(app, { registry: opts.registry, draining: () => draining, checks: stream.checks });
  const cors = createCors(opts.config.query.corsOrigins, READ_API_EXPOSED_HEADERS);
  const router = apiRouter(app);
  registerStreamRoutes(router.app, { readKeys: opts.config.keys.read, answer: (route, query) => streamAnswer(stream.view(), route, query, Date.now()), draining: () => draining, cors });
  router.finish(cors, (res, req) => {
    writeJson(forMethod(res, req), 404, noRouteBody(req), [...cors.of(req), NO_STORE]);
  });
  let http;
  try {
    http = await listen(app, opts.config.http.host, opts.config.stream.port, 'STREAM_PORT');
  } catch (err) {
    await stream.stop();
    throw err;
  }
  const h = http;
  opts.log.info({ port: h.port, host: opts.config.http.host }, 'alerts listening');
  return {
    port: h.port,
    stream,
    drain: () => {
      draining = true;
    },
    async stop() {
      draining = true;
      h.close();
      await stream.stop();
      h.closeAll();
    },
  };
}

