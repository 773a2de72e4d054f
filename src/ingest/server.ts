// One ingest edge with everything it needs: the one place that picks the concrete parts (kafkajs
// producer, uWS app, codec) and wires them. Runs on the main thread (INGEST_THREADS=1) or in each
// worker thread.
import type { Registry } from 'prom-client';
import { TrackhouseError } from '../common/errors.js';
import { addOpsRoutes } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { serve, type Serving } from '../common/serve.js';
import type { Config } from '../config/index.js';
import { compressionType, createKafka, PRODUCER_RETRY } from '../kafka/index.js';
import { createRecordProducer } from '../kafka/producer.js';
import { EventCodec } from '../schema/index.js';
import { startErasureReader, type ErasureReader } from '../erasure/index.js';
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
  /** HTTPS port apart from `port` (INGEST_TLS_PORT, made concrete by the supervisor); null: none. */
  tlsPort: number | null;
  /** An edge thread: the supervisor claimed the ports, which every thread binds (SO_REUSEPORT). */
  portsClaimed?: boolean;
}

export interface EdgeServer {
  readonly port: number;
  /** The HTTPS port when apart from `port` (INGEST_TLS_PORT). */
  readonly tlsPort: number | null;
  /** Serves the certificate files as they are now to new connections (SIGHUP); open ones stay. */
  reloadTls(): Promise<void>;
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
    kafka: createKafka(config.kafka, log, opts.brokers, PRODUCER_RETRY),
    log,
    compression: compressionType(config.kafka.compression),
    ackTimeoutMs: ic.ackTimeoutMs,
    maxPendingBytes: ic.maxPendingBytes,
    maxRequestBytes: ic.produceMaxBytes,
    lanes: ic.producerLanes,
    lingerMs: ic.lingerMs,
    lingerBytes: ic.lingerBytes,
    probeTopic: config.kafka.topics.events,
    stats: metrics,
  });
  // The suppressed users: read from the erasure list's topic and kept current. /readyz is 503
  // until the list is loaded, so a load balancer sends nothing before this edge can refuse them.
  let erasures: ErasureReader;
  try {
    erasures = await startErasureReader(createKafka(config.kafka, log, opts.brokers), config.kafka.topics.regulations, log);
  } catch (err) {
    await producer.close(0);
    throw err;
  }
  let listLoaded = false;
  void erasures.loaded.then(() => (listLoaded = true));
  const edge = new IngestEdge({ config, log, producer, codec: new EventCodec(), metrics, suppressions: erasures.list });
  gauges.pendingBytes = () => producer.pendingBytes;
  gauges.inFlight = () => edge.inFlight;
  const ops = {
    registry: opts.metricsSource ?? opts.registry,
    checks: [
      { name: 'kafka', check: () => producer.probe() },
      {
        name: 'erasures',
        check: async () => {
          if (!listLoaded) throw new Error('the erasure list is loading from Kafka');
        },
      },
    ],
    draining: () => edge.isDraining,
  };
  let l: Serving;
  try {
    l = await serve({
      host: config.http.host,
      port: opts.port,
      portVariable: 'INGEST_PORT',
      tls: config.tls.files,
      tlsPort: opts.tlsPort,
      tlsPortVariable: 'INGEST_TLS_PORT',
      portsClaimed: opts.portsClaimed ?? false,
      routes: (app, secure) => {
        edge.register(app, secure);
        addOpsRoutes(app, ops);
      },
      log,
    });
  } catch (err) {
    await producer.close(0);
    await erasures.stop();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    port: l.port,
    tlsPort: l.tlsPort,
    reloadTls: () => l.reloadTls(),
    drain: () => edge.startDraining(),
    stop: () =>
      (stopping ??= (async () => {
        // /readyz says 503 and new requests get 503 + Connection: close while the ones in flight
        // finish (each is answered by its ack deadline at the latest); then the port closes.
        edge.startDraining();
        await edge.whenIdle(ic.ackTimeoutMs + 1_000);
        l.close();
        const left = await producer.close(ic.ackTimeoutMs);
        l.closeAll();
        await erasures.stop().catch(() => {});
        if (left.submissions > 0) {
          // Nothing acknowledged is lost (a 200 comes only after Kafka's ack), but these requests
          // were given up: the stop is not clean, and the exit code says so.
          const message =
            `stopped with ${left.records} events of ${left.submissions} requests not acknowledged by Kafka; ` +
            'their requests were answered 503 (retriable) and none was stored';
          log.error({ port: l.port, tlsPort: l.tlsPort, unacknowledgedEvents: left.records, unacknowledgedRequests: left.submissions }, message);
          throw new TrackhouseError('INGEST_UNFLUSHED', message);
        }
        log.info({ port: l.port, tlsPort: l.tlsPort }, 'ingest edge stopped');
      })()),
  };
}
