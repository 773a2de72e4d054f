// The hosted stream component's thread (QUERY_STREAM=on): the stream processor, notifier and lease
// run here, not on the query API's HTTP thread, so a round, a commit of its state or its Kafka
// clients never hold a page of events waiting (measured on the HTTP thread before: its state
// commits took 17 % of that thread while catching up, its Kafka fetches 6 % at 2000 events/s).
// The host (./index.ts, hostStream) sends the admitted /v1/volume and /v1/alerts requests and the
// /metrics scrapes here and gets their bodies back.
import { parentPort, workerData } from 'node:worker_threads';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { ConfigError, HttpError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { nameThread, THREAD } from '../common/threads.js';
import { Registry } from '../common/metrics.js';
import type { Config } from '../config/index.js';
import { createKafka } from '../kafka/index.js';
import { streamAnswer, type StreamRoute } from './api.js';
import { loadStreamRules, startStream, type RunningStream } from './index.js';

export interface HostThreadData {
  config: Config;
  brokers: string[];
  /** While Kafka cannot be reached, the start is tried again after this long. */
  retryMs: number;
}

export type ToHostThread = { type: 'answer'; id: number; route: StreamRoute; query: string; now: number } | { type: 'metrics'; id: number } | { type: 'stop' };

/** What the host needs to list one of the thread's metrics. */
export type MetricName = Pick<MetricObjectWithValues<MetricValue<string>>, 'name' | 'help' | 'type' | 'aggregator'>;

/** An HttpError as it crosses the thread boundary. */
export interface WireHttpError {
  code: HttpError['code'];
  message: string;
  details: Record<string, unknown>;
}

export type FromHostThread =
  | { type: 'answer'; id: number; body: string }
  | { type: 'answer'; id: number; error: WireHttpError | null }
  | { type: 'metrics'; id: number; metrics: unknown[] }
  /** Sent once the stream runs, before any answer it gives: its metrics' names, so the host's next scrape lists them. */
  | { type: 'names'; metrics: MetricName[] }
  | { type: 'stopped' };

const port = parentPort!;
nameThread(THREAD.stream);
const { config, brokers, retryMs } = workerData as HostThreadData;
const log = createLogger(config.logLevel, { component: 'stream' });
// The host's registry adds its own default labels (component) when it renders these.
const registry = new Registry();
const send = (m: FromHostThread) => port.postMessage(m);

let running: RunningStream | null = null;
let stopped = false;
let attempt: Promise<void> | null = null;
let timer: NodeJS.Timeout | null = null;

const tryStart = () => {
  attempt = (async () => {
    try {
      // Validated by the host before it started this thread (a bad rules file stops the command there).
      const rules = loadStreamRules(config);
      const s = await startStream({ config, kafka: createKafka(config.kafka, log, brokers), log, registry, rules });
      if (stopped) return s.stop();
      running = s;
      send({ type: 'names', metrics: registry.getMetricsAsArray().map(({ name, help, type, aggregator }): MetricName => ({ name, help, type, aggregator })) });
    } catch (err) {
      if (stopped) return;
      if (err instanceof ConfigError) {
        log.error({ err: err.message }, 'the stream component cannot start; /v1/volume and /v1/alerts answer 503');
        return;
      }
      log.error({ err, retryInMs: retryMs, brokers: config.kafka.brokers }, 'the stream component could not start (is Kafka reachable? KAFKA_BROKERS); /v1/volume and /v1/alerts answer 503 until it does');
      timer = setTimeout(tryStart, retryMs);
    }
  })();
};

port.on('message', (m: ToHostThread) => {
  if (m.type === 'answer') {
    try {
      send({ type: 'answer', id: m.id, body: streamAnswer(running?.view() ?? null, m.route, m.query, m.now) });
    } catch (err) {
      if (!(err instanceof HttpError)) log.error({ err, route: m.route }, 'stream answer failed');
      send({ type: 'answer', id: m.id, error: err instanceof HttpError ? { code: err.code, message: err.message, details: err.details } : null });
    }
  } else if (m.type === 'metrics') {
    void registry.getMetricsAsJSON().then(
      (metrics) => send({ type: 'metrics', id: m.id, metrics }),
      (err: unknown) => {
        log.warn({ err }, 'the stream component could not collect its metrics; this scrape lists none of them');
        send({ type: 'metrics', id: m.id, metrics: [] });
      },
    );
  } else if (m.type === 'stop') {
    stopped = true;
    if (timer) clearTimeout(timer);
    void (async () => {
      await attempt?.catch(() => {});
      await running?.stop().catch((err: unknown) => log.error({ err }, 'stopping the stream component failed'));
      send({ type: 'stopped' });
    })();
  }
});

tryStart();
