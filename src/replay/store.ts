// Every ClickHouse call of a replay, each retried with jittered backoff until it succeeds or the
// round is aborted. Per replay run, two scratch Memory tables: `staging` takes a fetch's rows as
// decoded, `fresh` the ones `events` does not hold yet; only `fresh` goes into `events`, so the
// materialized views see only rows that really are new and the rollups stay exact.
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { EVENTS_INSERT_COLUMNS, USER_KEY_SQL } from '../schema/index.js';
import { insertSettings, retrying, type BackoffOptions } from '../sink/index.js';

const COLUMNS = EVENTS_INSERT_COLUMNS.join(', ');
/** chDB keeps a token passed with an earlier query on its session: every scratch call clears it. */
const NO_TOKEN = { insert_deduplication_token: '' };

export class ReplayStore {
  private readonly staging: string;
  private readonly fresh: string;

  constructor(
    private readonly client: ClickHouseClient,
    /** Names the scratch tables (letters and digits). */
    private readonly run: string,
    private readonly backoff: BackoffOptions,
    private readonly log: Logger,
  ) {
    this.staging = `trackhouse_replay_${run}`;
    this.fresh = `trackhouse_replay_${run}_new`;
  }

  async createScratch(): Promise<void> {
    for (const t of [this.staging, this.fresh]) {
      await this.client.command({ query: `CREATE TABLE ${t} ENGINE = Memory AS SELECT ${COLUMNS} FROM events WHERE 0`, clickhouse_settings: NO_TOKEN });
    }
  }

  async dropScratch(): Promise<void> {
    for (const t of [this.staging, this.fresh]) {
      await this.client.command({ query: `DROP TABLE IF EXISTS ${t}`, clickhouse_settings: NO_TOKEN }).catch(() => {});
    }
  }

  /**
   * Loads one fetch's TabSeparated rows into `staging` and keeps in `fresh` those whose
   * (user_key, event_id) `events` does not hold, each event once (its first offset wins).
   */
  stageNew(segments: readonly Uint8Array[], signal: AbortSignal): Promise<void> {
    return this.call('replay: stage rows', signal, async () => {
      await this.client.command({ query: `TRUNCATE TABLE ${this.staging}`, clickhouse_settings: NO_TOKEN });
      await this.client.command({ query: `TRUNCATE TABLE ${this.fresh}`, clickhouse_settings: NO_TOKEN });
      await this.client.insert({
        table: this.staging,
        columns: [...EVENTS_INSERT_COLUMNS],
        format: 'TabSeparated',
        values: Readable.from(segments, { objectMode: false }),
        clickhouse_settings: NO_TOKEN,
      });
      await this.client.command({
        query: `INSERT INTO ${this.fresh} (${COLUMNS})
                SELECT ${COLUMNS} FROM ${this.staging}
                WHERE (${USER_KEY_SQL}, event_id) NOT IN (
                  SELECT user_key, event_id FROM events WHERE user_key IN (SELECT ${USER_KEY_SQL} FROM ${this.staging}))
                ORDER BY kafka_partition, kafka_offset
                LIMIT 1 BY ${USER_KEY_SQL}, event_id`,
        clickhouse_settings: NO_TOKEN,
      });
    });
  }

  /** Inserts `fresh` into `events` under `token`; returns how many rows of each partition it held. */
  insertFresh(token: string, signal: AbortSignal): Promise<Map<number, number>> {
    return this.call('replay: insert new rows', signal, async () => {
      const rs = await this.client.query({
        query: `SELECT kafka_partition, count() AS n FROM ${this.fresh} GROUP BY kafka_partition`,
        format: 'JSONEachRow',
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      const counts = new Map((await rs.json<{ kafka_partition: number; n: number }>()).map((r) => [Number(r.kafka_partition), Number(r.n)]));
      // A fixed order on one thread makes the same blocks on a retry, so the token drops a
      // retry whose first attempt landed.
      await this.client.command({
        query: `INSERT INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM ${this.fresh} ORDER BY kafka_partition, kafka_offset`,
        clickhouse_settings: { ...insertSettings(token), max_threads: 1, max_insert_threads: '1' },
      });
      return counts;
    });
  }

  private call<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    return retrying(fn, {
      ...this.backoff,
      signal,
      onRetry: (err, attempt, wait) => this.log.warn({ what, attempt, retryInMs: wait, err: errorMessage(err) }, 'ClickHouse call failed; retrying'),
    });
  }
}
