// The sink's Prometheus metrics, registered once on the process's registry. Labelled counters
// whose label values are known start at 0, so dashboards and alerts see a zero, not no series.
import { Counter, Gauge, Histogram, type Registry } from '../common/metrics.js';
import { DEAD_LETTER_CODES } from './deadletter.js';

/** Lag per partition of this member, read when scraped; must never reject. */
export type LagReader = () => Promise<readonly (readonly [partition: number, lag: number])[]>;

export interface SinkMetrics {
  rowsInserted: Counter;
  duplicates: Counter<'reason'>;
  erased: Counter;
  deadLetters: Counter<'code'>;
  insertRows: Histogram;
  insertBytes: Histogram;
  insertSeconds: Histogram;
  insertFailures: Counter;
  lag: Gauge<'partition'>;
  waitingForClickHouse: Gauge;
  workerHeap: Gauge<'thread'>;
  rounds: Counter;
  repairedInserts: Counter;
}

export function createSinkMetrics(registry: Registry, readLag: LagReader = async () => []): SinkMetrics {
  const registers = [registry];
  const metrics: SinkMetrics = {
    rowsInserted: new Counter({
      name: 'trackhouse_sink_rows_inserted_total',
      help: 'Rows ClickHouse confirmed in events (rate() gives rows/s)',
      registers,
    }),
    duplicates: new Counter({
      name: 'trackhouse_sink_duplicates_skipped_total',
      help: 'Records not inserted because ClickHouse already has them: redelivered (offset at or below the partition floor) or resent (same user_key and event_id in the window)',
      labelNames: ['reason'],
      registers,
    }),
    erased: new Counter({
      name: 'trackhouse_sink_erased_records_skipped_total',
      help: 'Records not inserted because their user is on the erasure list (POST /v1/regulations)',
      registers,
    }),
    deadLetters: new Counter({
      name: 'trackhouse_sink_dlq_records_total',
      help: 'Records sent to the dead-letter topic, by reason',
      labelNames: ['code'],
      registers,
    }),
    insertRows: new Histogram({
      name: 'trackhouse_sink_insert_rows',
      help: 'Rows per insert',
      buckets: [1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000],
      registers,
    }),
    insertBytes: new Histogram({
      name: 'trackhouse_sink_insert_bytes',
      help: 'Bytes of TabSeparated payload per insert',
      buckets: [1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 64e6, 256e6],
      registers,
    }),
    insertSeconds: new Histogram({
      name: 'trackhouse_sink_insert_duration_seconds',
      help: 'Time from sending an insert to ClickHouse confirming it (successful attempts)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    insertFailures: new Counter({
      name: 'trackhouse_sink_insert_failures_total',
      help: 'Insert attempts ClickHouse refused or did not answer (each is retried with backoff)',
      registers,
    }),
    lag: new Gauge({
      name: 'trackhouse_sink_consumer_lag',
      help: "Records in the partition not yet committed by the sink group (broker high watermark - committed offset), read when scraped (at most 1 s old); this member's partitions",
      labelNames: ['partition'],
      registers,
      async collect() {
        let values: Awaited<ReturnType<LagReader>> = [];
        try {
          values = await readLag();
        } catch {
          // A collect that throws fails the whole scrape; the reader is not supposed to, anyway.
        }
        this.reset();
        for (const [p, v] of values) this.set({ partition: String(p) }, v);
      },
    }),
    waitingForClickHouse: new Gauge({
      name: 'trackhouse_sink_waiting_for_clickhouse',
      help: '1 while consumption is held back because ClickHouse refuses inserts (retrying with backoff)',
      registers,
    }),
    workerHeap: new Gauge({
      name: 'trackhouse_sink_worker_heap_bytes',
      help: 'V8 heap used by each decode worker after its last task',
      labelNames: ['thread'],
      registers,
    }),
    rounds: new Counter({
      name: 'trackhouse_sink_fetches_total',
      help: 'Fetches processed (each becomes one or more inserts)',
      registers,
    }),
    repairedInserts: new Counter({
      name: 'trackhouse_sink_interrupted_inserts_repaired_total',
      help: 'Inserts the last process died in the middle of (chDB), undone at start and inserted again from Kafka',
      registers,
    }),
  };
  for (const code of DEAD_LETTER_CODES) metrics.deadLetters.inc({ code }, 0);
  for (const reason of ['redelivered', 'resent']) metrics.duplicates.inc({ reason }, 0);
  return metrics;
}
