// Erasure in ClickHouse: a user's rows out of `events` (and out of the sink's recent identities),
// and the daily rollups of every day they had events rebuilt from what `events` holds then.
//
// ALTER TABLE ... DELETE (a mutation, mutations_sync = 2: the call returns once every part is
// rewritten) rather than a lightweight DELETE: a lightweight delete only masks rows until a merge
// rewrites their part, while a mutation writes new parts without them, and the old parts are
// removed from disk after old_parts_lifetime (8 minutes by default). Checked on chDB 3.4
// (engine 26.7); the same statements are valid on a ClickHouse server 24.8+.
//
// Rollups hold aggregate states (uniqExact of users), from which one user cannot be subtracted:
// each affected day is deleted from the three rollup tables and inserted again from `events` with
// the materialized views' own SELECTs (src/schema/rollups.ts, shared with the sink's repair). Rows the sink inserts for such a day between the delete and
// the rebuild would be counted twice there (the mutation does not touch parts written after it);
// docs/data-protection.md says so.
// The rebuild counts only events in the rollups' day range (ROLLUP_TIME_SQL, as the views of
// clickhouse/004 do): toDate() of a time outside ClickHouse Date's range is another day.
import type { ClickHouseClient } from '@clickhouse/client';
import { rebuildRollups, ROLLUP_TIME_SQL } from '../schema/index.js';

const SYNC = { mutations_sync: '2' } as const;

export interface ErasedRows {
  events: number;
  days: string[];
}

export class ErasureStore {
  constructor(private readonly client: ClickHouseClient) {}

  /**
   * How many rows the users have, and the days (UTC) the rollups count them on (an event outside
   * the rollups' day range is counted on none).
   */
  async findUsers(userKeys: readonly string[]): Promise<ErasedRows> {
    const rs = await this.client.query({
      query: `SELECT toString(toDate(timestamp)) AS day, count() AS n, countIf(${ROLLUP_TIME_SQL}) AS counted FROM events WHERE user_key IN {keys:Array(String)} GROUP BY day ORDER BY day`,
      query_params: { keys: userKeys },
      format: 'JSONEachRow',
    });
    const found = await rs.json<{ day: string; n: string | number; counted: string | number }>();
    return { events: found.reduce((a, r) => a + Number(r.n), 0), days: found.filter((r) => Number(r.counted) > 0).map((r) => r.day) };
  }

  /**
   * Deletes the users' rows; returns how many there were and the days the rollups counted them on
   * (findUsers's answer: pass it when the caller asked already, to act on the days before the rows go).
   */
  async deleteUsers(userKeys: readonly string[], found?: ErasedRows): Promise<ErasedRows> {
    const rows = found ?? (await this.findUsers(userKeys));
    if (rows.events > 0) {
      await this.client.command({ query: 'ALTER TABLE events DELETE WHERE user_key IN {keys:Array(String)}', query_params: { keys: userKeys }, clickhouse_settings: SYNC });
    }
    await this.client.command({ query: 'ALTER TABLE sink_recent_ids DELETE WHERE user_key IN {keys:Array(String)}', query_params: { keys: userKeys }, clickhouse_settings: SYNC });
    return rows;
  }

  /** Rows of the users still in `events` (after a delete: rows the sink had in flight). */
  async countUsers(userKeys: readonly string[]): Promise<number> {
    const rs = await this.client.query({ query: 'SELECT count() AS n FROM events WHERE user_key IN {keys:Array(String)}', query_params: { keys: userKeys }, format: 'JSONEachRow' });
    const [r] = await rs.json<{ n: string | number }>();
    return Number(r?.n ?? 0);
  }

  /** Rebuilds the three daily rollups of `days` (YYYY-MM-DD) from `events` (src/schema/rollups.ts). */
  rebuildRollups(days: readonly string[]): Promise<void> {
    return rebuildRollups(this.client, days);
  }
}
