// One ingest edge with everything it needs: the one place that picks the concrete parts (kafkajs
// producer, uWS app, codec) and wires them. Runs on the main thread (INGEST_THREADS=1) or in each
// worker thread.
import type { Registry } from 'prom-client';
import { addOpsRoutes, listen, type Listening } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { loadUws } from '../common/uws.js';
import type { Config } from '../config/index.js';
import { compressionType, createKafka } from '../kafka/index.js';
import { createRecordProducer } from '../kafka/producer.js';
import { EventCodec } from '../schema/index.js';
import { IngestEdge } from './edge.js';
import { IngestMetrics } from './metrics.js';

export interface EdgeServerOptions {
  config: Config;
  log: Logger;
  /** Where this edge's metrics are recorded. */
  registry: Registry;
  /** What /metrics serves (defaults to `registry`; with threads, the sum of all threads). */
  metricsSource?: Registry;
  brokers: string[];
  port: number;
}

export interface EdgeServer {
  readonly port: number;
  /** /readyz 503 and new requests 503 + Connection: close; the port stays open (drain delay). */
  drain(): void;
  /** Graceful: /readyz 503, stop accepting, answer what is in flight, flush Kafka, close. */
  stop(): Promise<void>;
}

export async function startEdgeServer(opts: EdgeServerOptions): Promise<EdgeServer> {
  const { config, log } = opts;
  const ic = config.ingest;
  // The gauges read the producer and the edge, which need the metrics to be built first.
  const gauges = { pendingBytes: () => 0, inFlight: () => 0 };
  const metrics = new IngestMetrics(opts.registry, gauges);
  const producer = await createRecordProducer({
    kafka: createKafka(config.kafka, log, opts.brokers),
    log,
    compression: compressionType(config.kafka.compression),
    ackTimeoutMs: ic.ackTimeoutMs,
    maxPendingBytes: ic.maxPendingBytes,
    maxRequestBytes: ic.produceMaxBytes,
    lanes: ic.producerLanes,
    probeTopic: config.kafka.topics.events,
    stats: metrics,
  });
  const edge = new IngestEdge({ config, log, producer, codec: new EventCodec(), metrics });
  gauges.pendingBytes = () => producer.pendingBytes;
  gauges.inFlight = () => edge.inFlight;
  const app = loadUws(log).App();
  edge.register(app);
  addOpsRoutes(app, {
    registry: opts.metricsSource ?? opts.registry,
    checks: [{ name: 'kafka', check: () => producer.probe() }],
    draining: () => edge.isDraining,
  });
  let l: Listening;
  try {
    l = await listen(app, config.http.host, opts.port, 'INGEST_PORT');
  } catch (err) {
    await producer.close(0);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    port: l.port,
    drain: () => edge.startDraining(),
    stop: () =>
      (stopping ??= (async () => {
        // /readyz says 503 and new requests get 503 + Connection: close while the ones in flight
        // finish (each is answered by its ack deadline at the latest); then the port closes.
        edge.startDraining();
        await edge.whenIdle(ic.ackTimeoutMs + 1_000);
        l.close();
        await producer.close(ic.ackTimeoutMs);
        l.closeAll();
        log.info({ port: l.port }, 'ingest edge stopped');
      })()),
  };
}
