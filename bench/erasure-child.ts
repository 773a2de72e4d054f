// Child process of the erasure benchmark (chDB binds one data dir per process): seeds `events`
// (through the project's migrations, so every rollup view fills as the sink would) with N events
// of U users over 90 days, then erases one user with the project's own ErasureStore (ALTER DELETE
// on events and sink_recent_ids, the affected days' rollups rebuilt), and, for comparison, another
// user with a lightweight DELETE (rows masked, not rewritten: the floor of what a delete can cost).
// Checks that the user is gone and every rollup equals an aggregation of `events`.
//
//   node --import tsx bench/erasure-child.ts '{"dir":"...","events":10000000,"users":100000}'
import { migrate, openClickHouse } from '../src/warehouse/index.js';
import { silentLogger } from '../src/common/log.js';
import { ErasureStore } from '../src/regulations/store.js';
import { ROLLUP_TIME_SQL } from '../src/schema/index.js';

export interface ErasureArgs {
  dir: string;
  events: number;
  users: number;
}

export interface ErasureResult {
  events: number;
  users: number;
  seed_seconds: number;
  /** OPTIMIZE TABLE events FINAL after the seed: the table at rest. */
  merge_seconds: number;
  parts_before: number;
  user_events: number;
  rollup_days: number;
  delete_seconds: number;
  rollups_seconds: number;
  erasure_seconds: number;
  lightweight_delete_seconds: number;
  rollups_equal_rebuild: boolean;
  left_of_user: number;
}

const SEED_CHUNK = 1_000_000;
const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 8, 1);

async function run(args: ErasureArgs): Promise<ErasureResult> {
  const ch = await openClickHouse({ url: null } as never, args.dir);
  const c = ch.client;
  const n = async (sql: string) => Number(Object.values((await (await c.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, string | number>>())[0] ?? { n: 0 })[0]);
  try {
    await migrate(c, silentLogger());
    const t0 = performance.now();
    for (let from = 0; from < args.events; from += SEED_CHUNK) {
      const rows = Math.min(SEED_CHUNK, args.events - from);
      await c.command({
        query: `INSERT INTO events (event_id, type, event, user_id, anonymous_id, timestamp, sent_at, received_at, source, category, group_id, name, previous_id, properties, traits, context, kafka_topic, kafka_partition, kafka_offset)
          SELECT concat('e', toString(number)), 'track', concat('Event ', toString(number % 20)), concat('user-', toString(number % ${args.users})), concat('anon-', toString(number % ${args.users})),
                 fromUnixTimestamp64Milli(toInt64(${START} + (number * 7919) % ${90 * DAY_MS}), 'UTC') AS ts, NULL, ts, 'bench', concat('cat-', toString(number % 10)), concat('org-', toString(number % 50)),
                 '', '', '{"price":1.5,"sku":"a1"}', '{}', '{"ip":"10.0.0.1","page":{"path":"/p"}}', 'bench', toUInt32(number % 6), number
          FROM numbers(${from}, ${rows})`,
        clickhouse_settings: { insert_deduplicate: 0, insert_deduplication_token: '', max_partitions_per_insert_block: '0' },
      });
    }
    const seedSeconds = (performance.now() - t0) / 1000;
    // The table at rest, as a store holding 10 M events for a while is: its parts merged (one per
    // month). Measured on a freshly seeded table instead, the erasure also waits behind the
    // background merges of the seed's 30 parts, which a table in service has long finished.
    const t0m = performance.now();
    await c.command({ query: 'OPTIMIZE TABLE events FINAL', clickhouse_settings: { mutations_sync: '2' } });
    const mergeSeconds = (performance.now() - t0m) / 1000;
    const parts = await n("SELECT count() FROM system.parts WHERE table = 'events' AND active");
    const target = `user-${Math.floor(args.users / 3)}`;
    const other = `user-${Math.floor(args.users / 3) + 1}`;
    const userEvents = await n(`SELECT count() FROM events WHERE user_key = '${target}'`);
    const store = new ErasureStore(c);
    const t1 = performance.now();
    const erased = await store.deleteUsers([target]);
    const t2 = performance.now();
    await store.rebuildRollups(erased.days);
    const t3 = performance.now();
    // Every rollup equals an aggregation of what `events` holds now in the rollups' day range (what a rebuild gives).
    const pairs: [string, string][] = [
      ['SELECT toString(day) d, source, type, event, events, users FROM events_daily_by_event_v ORDER BY d, source, type, event',
        `SELECT toString(toDate(timestamp)) d, source, type, event, count() events, uniqExact(user_key) users FROM events WHERE ${ROLLUP_TIME_SQL} GROUP BY d, source, type, event ORDER BY d, source, type, event`],
      ['SELECT toString(day) d, source, category, events, users FROM events_daily_by_category_v ORDER BY d, source, category',
        `SELECT toString(toDate(timestamp)) d, source, category, count() events, uniqExact(user_key) users FROM events WHERE category != '' AND ${ROLLUP_TIME_SQL} GROUP BY d, source, category ORDER BY d, source, category`],
      ['SELECT toString(day) d, source, group_id, events, users FROM events_daily_by_group_v ORDER BY d, source, group_id',
        `SELECT toString(toDate(timestamp)) d, source, group_id, count() events, uniqExact(user_key) users FROM events WHERE group_id != '' AND ${ROLLUP_TIME_SQL} GROUP BY d, source, group_id ORDER BY d, source, group_id`],
    ];
    let equal = true;
    for (const [a, b] of pairs) {
      const ra = JSON.stringify(await (await c.query({ query: a, format: 'JSONEachRow' })).json());
      const rb = JSON.stringify(await (await c.query({ query: b, format: 'JSONEachRow' })).json());
      if (ra !== rb) equal = false;
    }
    const leftOfUser = await n(`SELECT count() FROM events WHERE user_key = '${target}'`);
    const t4 = performance.now();
    await c.command({ query: `DELETE FROM events WHERE user_key = '${other}'`, clickhouse_settings: { mutations_sync: '2' } });
    const t5 = performance.now();
    return {
      events: args.events,
      users: args.users,
      seed_seconds: +seedSeconds.toFixed(1),
      merge_seconds: +mergeSeconds.toFixed(1),
      parts_before: parts,
      user_events: userEvents,
      rollup_days: erased.days.length,
      delete_seconds: +((t2 - t1) / 1000).toFixed(2),
      rollups_seconds: +((t3 - t2) / 1000).toFixed(2),
      erasure_seconds: +((t3 - t1) / 1000).toFixed(2),
      lightweight_delete_seconds: +((t5 - t4) / 1000).toFixed(2),
      rollups_equal_rebuild: equal,
      left_of_user: leftOfUser,
    };
  } finally {
    await ch.close();
  }
}

if (process.argv[2]) process.stdout.write(`${JSON.stringify(await run(JSON.parse(process.argv[2]) as ErasureArgs))}\n`);
