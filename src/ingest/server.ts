// One ingest edge with everything it needs: the one place that picks the concrete parts (kafkajs
// producer, uWS app, codec) and wires them. Runs on the main thread (INGEST_THREADS=1) or in each
// worker thread.
import type { Registry } from 'prom-client';
import { addOpsRoutes, listen } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { loadUws } from '../common/uws.js';
import type { Config } from '../config/index.js';
import { compressionType, createKafka } from '../kafka/index.js';
import { createRecordProducer, type RecordProducer } from '../kafka/producer.js';
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
  /** Graceful: /readyz 503, stop accepting, answer what is in flight, flush Kafka, close. */
  stop(): Promise<void>;
}

export async function startEdgeServer(opts: EdgeServerOptions): Promise<EdgeServer> {
  const { config, log } = opts;
  const ic = config.ingest;
  let producer: RecordProducer | undefined;
  let edge: IngestEdge | undefined;
  const metrics = new IngestMetrics(opts.registry, {
    pendingBytes: () => producer?.pendingBytes ?? 0,
    inFlight: () => edge?.inFlight ?? 0,
  });
  producer = await createRecordProducer({
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
  const p = producer;
  const e = (edge = new IngestEdge({ config, log, producer: p, codec: new EventCodec(), metrics }));
  const app = loadUws().App();
  e.register(app);
  addOpsRoutes(app, {
    registry: opts.metricsSource ?? opts.registry,
    checks: [{ name: 'kafka', check: () => p.probe() }],
    draining: () => e.isDraining,
  });
  let listening;
  try {
    listening = await listen(app, config.http.host, opts.port);
  } catch (err) {
    await p.close(0);
    throw err;
  }
  const l = listening;
  let stopping: Promise<void> | undefined;
  return {
    port: l.port,
    stop: () =>
      (stopping ??= (async () => {
        // /readyz says 503 and new requests get 503 + Connection: close while the ones in flight
        // finish (each is answered by its ack deadline at the latest); then the port closes.
        e.startDraining();
        await e.whenIdle(ic.ackTimeoutMs + 1_000);
        l.close();
        await p.close(ic.ackTimeoutMs);
        l.closeAll();
        log.info({ port: l.port }, 'ingest edge stopped');
      })()),
  };
}
