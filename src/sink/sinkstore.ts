// Everything the sink reads from and writes to ClickHouse, each call retried with jittered
// backoff until it succeeds or the round is aborted.
//
// chDB keeps settings passed with a query on its session for the queries after it, and the
// query API may share this client, so every call passes every setting it relies on.
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { EVENTS_INSERT_COLUMNS, rebuildRollups, ROLLUP_TIME_SQL } from '../schema/index.js';
import { retrying, type BackoffOptions } from './backoff.js';
import type { IntentRange } from './intent.js';
import type { SinkMetrics } from './metrics.js';

export interface InsertBlock {
  /** TabSeparated rows, in order; sent back to back without being joined. */
  segments: readonly Uint8Array[];
  rows: number;
  bytes: number;
  /**
   * Deduplication token: the same token always means the same rows, so a retry of an insert
   * whose first attempt did land (a timeout) is dropped, in events and in every rollup alike.
   */
  token: string;
}

/** Settings of every insert into events. */
export function insertSettings(token: string) {
  return {
    insert_deduplicate: 1,
    insert_deduplication_token: token,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    async_insert: 0,
    // A block must become the same parts on a retry: one squashed block per insert (the sink
    // keeps inserts below these sizes), split only by partition key.
    max_insert_block_size: '1048576',
    min_insert_block_size_rows: '1048576',
    min_insert_block_size_bytes: String(1024 ** 3),
    // Client clocks put events in any month; a batch must never be refused for that.
    max_partitions_per_insert_block: '0',
  } as const;
}

export interface RecentId {
  userKey: string;
  eventId: string;
  receivedAtMs: number;
}

export class SinkStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: ClickHouseClient,
    private readonly topic: string,
    private readonly backoff: BackoffOptions,
    private readonly log: Logger,
    private readonly metrics: SinkMetrics,
  ) {}

  /** Inserts one block into events; resolves once ClickHouse confirmed it. */
  insert(block: InsertBlock, signal: AbortSignal): Promise<number> {
    return this.retry('insert into events', signal, async () => {
      const started = performance.now();
      try {
        await this.client.insert({
          table: 'events',
          columns: [...EVENTS_INSERT_COLUMNS],
          format: 'TabSeparated',
          values: Readable.from(block.segments, { objectMode: false }),
          clickhouse_settings: insertSettings(block.token),
        });
      } catch (err) {
        this.metrics.insertFailures.inc();
        throw err;
      }
      const seconds = (performance.now() - started) / 1000;
      this.metrics.insertSeconds.observe(seconds);
      this.metrics.insertRows.observe(block.rows);
      this.metrics.insertBytes.observe(block.bytes);
      this.metrics.rowsInserted.inc(block.rows);
      return seconds;
    });
  }

  /** Resolves when ClickHouse answers (readiness: not queued behind a retrying insert). */
  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (!r.success) throw r.error;
  }

  /** Highest offset already in events per partition (absent: none). */
  floors(partitions: readonly number[], signal: AbortSignal): Promise<Map<number, number>> {
    return this.retry('read partition floors', signal, async () => {
      const rs = await this.client.query({
        query: `SELECT kafka_partition, max(max_offset) AS floor FROM sink_offsets
                WHERE kafka_topic = {topic:String} AND kafka_partition IN {partitions:Array(UInt32)}
                GROUP BY kafka_partition`,
        query_params: { topic: this.topic, partitions: [...partitions] },
        format: 'JSONEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      const rows = await rs.json<{ kafka_partition: number | string; floor: number | string }>();
      return new Map(rows.map((r) => [Number(r.kafka_partition), Number(r.floor)]));
    });
  }

  /** The identities of the partition's latest rows, newest first. */
  recentIds(partition: number, limit: number, signal: AbortSignal): Promise<RecentId[]> {
    return this.retry('read recent event ids', signal, async () => {
      const rs = await this.client.query({
        query: `SELECT user_key, event_id, toUnixTimestamp64Milli(received_at) AS r FROM sink_recent_ids
                WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
                ORDER BY kafka_offset DESC LIMIT ${Math.max(0, Math.floor(limit))}`,
        query_params: { topic: this.topic, partition },
        format: 'JSONCompactEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      const rows = await rs.json<[string, string, number | string]>();
      return rows.map(([userKey, eventId, r]) => ({ userKey, eventId, receivedAtMs: Number(r) }));
    });
  }

  /**
   * The identities of recent rows of other partitions whose user key the producers' partitioner
   * (Kafka's murmur2, ClickHouse's kafkaMurmurHash) now puts on `partition` out of `count`: the
   * users that moved there when partitions were added to the topic. Rows inserted at or after
   * `insertedSinceMs` (0: all the table keeps), newest first by received_at.
   */
  movedIds(partition: number, count: number, insertedSinceMs: number, limit: number, signal: AbortSignal): Promise<RecentId[]> {
    return this.retry('read recent event ids of users that moved partition', signal, async () => {
      const rs = await this.client.query({
        // inserted_at is the table's partition key: the days before it are not read at all.
        query: `SELECT user_key, event_id, toUnixTimestamp64Milli(received_at) AS r FROM sink_recent_ids
                WHERE kafka_topic = {topic:String} AND kafka_partition != {partition:UInt32}
                  AND inserted_at >= toDateTime(intDiv({since:Int64}, 1000), 'UTC')
                  AND kafkaMurmurHash(user_key) % {count:UInt32} = {partition:UInt32}
                ORDER BY received_at DESC LIMIT ${Math.max(0, Math.floor(limit))}`,
        query_params: { topic: this.topic, partition, count, since: Math.max(0, Math.floor(insertedSinceMs)) },
        format: 'JSONCompactEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      const rows = await rs.json<[string, string, number | string]>();
      return rows.map(([userKey, eventId, r]) => ({ userKey, eventId, receivedAtMs: Number(r) }));
    });
  }

  // ---- repair of an insert cut short (src/sink/repair.ts): once at start, before any floor is
  // read, so not queued or retried (a failure fails the start, and the next start repairs again).

  /** The rows of the block's ranges in `events`, and the days (UTC) the rollups count them on. */
  async blockRows(topic: string, ranges: readonly IntentRange[]): Promise<{ rows: number; days: string[] }> {
    const rs = await this.client.query({
      query: `SELECT count() AS n, groupUniqArrayIf(toString(toDate(timestamp)), ${ROLLUP_TIME_SQL}) AS days FROM events WHERE ${rangesSql(ranges)}`,
      query_params: { topic },
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const [r] = await rs.json<{ n: number | string; days: string[] }>();
    return { rows: Number(r?.n ?? 0), days: [...(r?.days ?? [])].sort() };
  }

  /**
   * Deletes the block's ranges from `sink_recent_ids` and, unless `events` is false (none there: a
   * mutation of a large table for nothing), from `events` (mutations: returns once done).
   */
  async deleteBlockRows(topic: string, ranges: readonly IntentRange[], events: boolean): Promise<void> {
    for (const table of events ? ['events', 'sink_recent_ids'] : ['sink_recent_ids']) {
      await this.client.command({ query: `ALTER TABLE ${table} DELETE WHERE ${rangesSql(ranges)}`, query_params: { topic }, clickhouse_settings: { mutations_sync: '2' } });
    }
  }

  /**
   * Sets the floor of each partition of the block to the offset before its first record: every
   * record before it was handled when the insert started (stages run one at a time, in order).
   */
  async resetFloors(topic: string, ranges: readonly IntentRange[]): Promise<void> {
    await this.client.command({
      query: 'ALTER TABLE sink_offsets DELETE WHERE kafka_topic = {topic:String} AND kafka_partition IN {partitions:Array(UInt32)}',
      query_params: { topic, partitions: ranges.map((r) => r[0]) },
      clickhouse_settings: { mutations_sync: '2' },
    });
    const floors = ranges.filter(([, first]) => first > 0);
    if (floors.length === 0) return;
    await this.client.command({
      query: `INSERT INTO sink_offsets (kafka_topic, kafka_partition, max_offset)
              SELECT {topic:String}, t.1, t.2 FROM (SELECT arrayJoin(arrayZip({partitions:Array(UInt32)}, {floors:Array(UInt64)})) AS t)`,
      query_params: { topic, partitions: floors.map((r) => r[0]), floors: floors.map((r) => r[1] - 1) },
      // The table drops a block equal to one inserted before (non_replicated_deduplication_window):
      // the same floor written by an earlier repair must go in again.
      clickhouse_settings: { insert_deduplicate: 0, insert_deduplication_token: '', async_insert: 0 },
    });
  }

  /** The three daily rollups of `days` rebuilt from `events`. */
  rebuildRollups(days: readonly string[]): Promise<void> {
    return rebuildRollups(this.client, days);
  }

  /**
   * One call at a time (chDB wants its calls from one place, and concurrent inserts would only
   * compete for the same cores), retried until it succeeds or `signal` aborts after a failure.
   */
  private retry<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      let failed = false;
      const out = await retrying(fn, {
        ...this.backoff,
        signal,
        onRetry: (err, attempt, retryInMs) => {
          failed = true;
          this.metrics.waitingForClickHouse.set(1);
          this.log.warn({ what, attempt, retryInMs, err: errorMessage(err) }, 'ClickHouse call failed; retrying');
        },
      }).finally(() => this.metrics.waitingForClickHouse.set(0));
      if (failed) this.log.info({ what }, 'ClickHouse answered again');
      return out;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }
}

/** The rows of `ranges` of the topic bound as {topic:String}; the offsets are checked integers (src/sink/intent.ts). */
function rangesSql(ranges: readonly IntentRange[]): string {
  const each = ranges.map(([p, first, last]) => `(kafka_partition = ${p} AND kafka_offset BETWEEN ${first} AND ${last})`);
  return `kafka_topic = {topic:String} AND (${each.join(' OR ')})`;
}
