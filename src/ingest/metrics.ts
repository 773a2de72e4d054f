// The edge's Prometheus metrics. Labelled children are looked up once and cached, and what is
// counted per request (requests by route and status, answer times) is kept in plain numbers that
// reach prom-client only when /metrics is read (../common/metrics.ts: prom-client hashes the labels
// on every call), so counting a request on the hot path is two Map reads and an add.
import { BufferedHistogram, Counter, Gauge, Histogram, PendingCount, type Registry } from '../common/metrics.js';
import type { ProducerStats } from '../kafka/producer.js';

export class IngestMetrics implements ProducerStats {
  private readonly requests: Counter<'route' | 'status'>;
  private readonly requestChildren = new Map<string, Map<number, PendingCount>>();
  private readonly accepted: PendingCount;
  private readonly rejected: Counter<'code'>;
  private readonly rejectedChildren = new Map<string, Counter.Internal>();
  private readonly rejectedBodies: Counter<'code'>;
  private readonly unauthenticated: Counter<'code'>;
  private readonly answerSeconds: BufferedHistogram;
  private readonly produceSeconds: Histogram<'result'>;
  private readonly batchRecords: Histogram;
  private readonly batchBytes: Histogram;

  constructor(registry: Registry, gauges: { pendingBytes(): number; inFlight(): number }) {
    const registers = [registry];
    const requestChildren = this.requestChildren;
    this.requests = new Counter({
      name: 'trackhouse_ingest_requests_total',
      help: 'HTTP requests to the ingest API by route and status',
      labelNames: ['route', 'status'],
      registers,
      collect() {
        for (const byStatus of requestChildren.values()) for (const c of byStatus.values()) c.flush();
      },
    });
    const accepted = new Counter({
      name: 'trackhouse_ingest_events_accepted_total',
      help: 'Events acknowledged by Kafka',
      registers,
      collect() {
        pendingAccepted.flush();
      },
    });
    const pendingAccepted = (this.accepted = new PendingCount(accepted));
    this.rejected = new Counter({
      name: 'trackhouse_ingest_events_rejected_total',
      help: 'Invalid events, written to the rejected topic, by reason',
      labelNames: ['code'],
      registers,
    });
    this.rejectedBodies = new Counter({
      name: 'trackhouse_ingest_bodies_rejected_total',
      help: 'Whole request bodies refused (malformed JSON, not UTF-8, too large, an encoding not taken, ...), by reason',
      labelNames: ['code'],
      registers,
    });
    this.unauthenticated = new Counter({
      name: 'trackhouse_ingest_unauthenticated_total',
      help: 'Requests without a valid write key (answered 401, never written to Kafka)',
      labelNames: ['code'],
      registers,
    });
    this.answerSeconds = new BufferedHistogram({
      name: 'trackhouse_ingest_answer_seconds',
      help: 'Time from a request body being complete to its answer (includes waiting for Kafka)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.produceSeconds = new Histogram({
      name: 'trackhouse_ingest_produce_seconds',
      help: 'Duration of Kafka produce requests (acks=all)',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.batchRecords = new Histogram({
      name: 'trackhouse_ingest_produce_batch_records',
      help: 'Records per Kafka produce request (requests from many HTTP calls are packed together)',
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers,
    });
    this.batchBytes = new Histogram({
      name: 'trackhouse_ingest_produce_batch_bytes',
      help: 'Record bytes (before compression) per Kafka produce request',
      buckets: [1024, 8192, 65536, 262144, 524288, 1048576, 4194304],
      registers,
    });
    new Gauge({
      name: 'trackhouse_ingest_pending_bytes',
      help: 'Bytes of records waiting for a Kafka acknowledgement (bounded by INGEST_MAX_PENDING_BYTES)',
      registers,
      collect() {
        this.set(gauges.pendingBytes());
      },
    });
    new Gauge({
      name: 'trackhouse_ingest_requests_in_flight',
      help: 'Requests received and not yet answered (most wait for Kafka to acknowledge)',
      registers,
      collect() {
        this.set(gauges.inFlight());
      },
    });
  }

  request(route: string, status: number): void {
    // Two lookups by constant strings and a number: a key built per request is hashed per request.
    let byStatus = this.requestChildren.get(route);
    if (byStatus === undefined) this.requestChildren.set(route, (byStatus = new Map()));
    let c = byStatus.get(status);
    if (c === undefined) byStatus.set(status, (c = new PendingCount(this.requests.labels(route, String(status)))));
    c.n++;
  }

  answered(seconds: number): void {
    this.answerSeconds.observe(seconds);
  }

  eventsAccepted(n: number): void {
    this.accepted.n += n;
  }

  eventRejected(code: string): void {
    let c = this.rejectedChildren.get(code);
    if (c === undefined) this.rejectedChildren.set(code, (c = this.rejected.labels(code)));
    c.inc();
  }

  bodyRejected(code: string): void {
    this.rejectedBodies.labels(code).inc();
  }

  unauthenticatedRequest(code: string): void {
    this.unauthenticated.labels(code).inc();
  }

  onSend(records: number, bytes: number, seconds: number, ok: boolean): void {
    this.produceSeconds.labels(ok ? 'ok' : 'error').observe(seconds);
    this.batchRecords.observe(records);
    this.batchBytes.observe(bytes);
  }
}
