// The daily rollups (clickhouse/002, 004) rebuilt from `events` for some days: after an erasure
// (src/regulations/) and after a sink died in the middle of an insert (src/sink/repair.ts). One
// home for both, so a rebuilt day is what the materialized views would have counted.
//
// Rollups hold aggregate states (uniqExact of users), from which rows cannot be subtracted: each
// day is deleted from the three rollup tables and inserted again from `events` with the
// materialized views' own SELECTs. The rebuild counts only events in the rollups' day range
// (ROLLUP_TIME_SQL, as the views of clickhouse/004 do): toDate() of a time outside ClickHouse
// Date's range is another day.
import type { ClickHouseClient } from '@clickhouse/client';
import { ROLLUP_TIME_SQL } from './row.js';

/** The rollup tables and the SELECT of the materialized view that fills each (clickhouse/004), for `days`. */
const ROLLUPS = [
  {
    table: 'events_daily_by_event',
    select: `SELECT toDate(timestamp) AS day, source, type, event, count() AS events, uniqExactState(user_key) AS users FROM events WHERE ${ROLLUP_TIME_SQL} AND toDate(timestamp) IN {days:Array(Date)} GROUP BY day, source, type, event`,
  },
  {
    table: 'events_daily_by_category',
    select: `SELECT toDate(timestamp) AS day, source, category, count() AS events, uniqExactState(user_key) AS users FROM events WHERE category != '' AND ${ROLLUP_TIME_SQL} AND toDate(timestamp) IN {days:Array(Date)} GROUP BY day, source, category`,
  },
  {
    table: 'events_daily_by_group',
    select: `SELECT toDate(timestamp) AS day, source, group_id, count() AS events, uniqExactState(user_key) AS users FROM events WHERE group_id != '' AND ${ROLLUP_TIME_SQL} AND toDate(timestamp) IN {days:Array(Date)} GROUP BY day, source, group_id`,
  },
] as const;

/**
 * Rebuilds the three daily rollups of `days` (YYYY-MM-DD) from `events`. Safe to run twice: each
 * run deletes the days first (a mutation, mutations_sync = 2: it returns once every part is rewritten).
 */
export async function rebuildRollups(client: ClickHouseClient, days: readonly string[]): Promise<void> {
  if (days.length === 0) return;
  for (const r of ROLLUPS) {
    await client.command({ query: `ALTER TABLE ${r.table} DELETE WHERE day IN {days:Array(Date)}`, query_params: { days }, clickhouse_settings: { mutations_sync: '2' } });
    // Not deduplicated: a rebuilt day may equal a block inserted before (the window would drop it).
    // Any number of months at once: the tables are partitioned by month, and a user's days may
    // span years (a ClickHouse server refuses more than 100 partitions per INSERT by default).
    // Explicit settings: chDB keeps a previous call's settings on its session.
    await client.command({
      query: `INSERT INTO ${r.table} ${r.select}`,
      query_params: { days },
      clickhouse_settings: { insert_deduplicate: 0, insert_deduplication_token: '', max_partitions_per_insert_block: '0' },
    });
  }
}
