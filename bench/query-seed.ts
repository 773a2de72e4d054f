// Child process of the query benchmark: fills a fresh chDB data dir with synthetic events
// (bench/query-data.ts), waits for merges to settle, and prints one JSON line with the table's
// size. A process of its own because chDB binds one data dir per process, and so the query server
// measured next opens the dir alone.
//
//   node --import tsx bench/query-seed.ts <dataDir> <rows> <users> <seed> <endMs>
import { Readable } from 'node:stream';
import { migrate, openClickHouse } from '../src/warehouse/index.js';
import { silentLogger } from '../src/common/log.js';
import { loadConfig } from '../src/config/index.js';
import { mergesSettled } from './lib/merges.js';
import { EVENT_COLUMNS, EventGenerator } from './query-data.js';

const [dataDir, rowsText, usersText, seedText, endText] = process.argv.slice(2);
const rows = Number(rowsText);
const users = Number(usersText);
const config = loadConfig({ TRACKHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
const ch = await openClickHouse(config.clickhouse, config.dataDir);
const started = performance.now();
try {
  await migrate(ch.client, silentLogger());
  const gen = new EventGenerator({ rows, users, days: 90, endMs: Number(endText), seed: Number(seedText) });
  const insertSql = `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) FORMAT TabSeparated`;
  // Each insert runs on a libuv thread while the next chunk is generated on this one.
  let pending: Promise<unknown> | null = null;
  let sent = 0;
  while (!gen.done) {
    const chunk = gen.nextChunk(100_000);
    if (pending) await pending;
    pending = ch.client.exec({
      query: insertSql,
      values: Readable.from([chunk.bytes]),
      // Settings stick to a chDB session: give every one the insert relies on.
      clickhouse_settings: { insert_deduplication_token: '', insert_deduplicate: 0, async_insert: 0, date_time_input_format: 'basic' },
    });
    sent += chunk.rows;
    if (sent % 1_000_000 === 0) process.stderr.write(`[seed] ${sent} rows, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  }
  await pending;
  const insertedS = (performance.now() - started) / 1000;

  // Let background merges finish here, so the server measured next does not merge under load.
  await mergesSettled(ch.client, { table: 'events', quietPolls: 3, maxPolls: 240, intervalMs: 500 });
  const stats = await ch.client.query({
    query: `SELECT sum(rows) AS rows, sum(bytes_on_disk) AS bytes_on_disk, sum(data_uncompressed_bytes) AS uncompressed_bytes,
              count() AS parts, uniqExact(partition) AS partitions
            FROM system.parts WHERE active AND database = currentDatabase() AND table = 'events'`,
    format: 'JSONEachRow',
  });
  const s = (await stats.json<Record<string, number>>())[0]!;
  const u = await ch.client.query({
    query: 'SELECT uniqExact(user_key) AS users, max(c) AS max_events_per_user, quantileExact(0.5)(c) AS median_events_per_user FROM (SELECT user_key, count() AS c FROM events GROUP BY user_key)',
    format: 'JSONEachRow',
  });
  const us = (await u.json<Record<string, number>>())[0]!;
  process.stdout.write(
    `${JSON.stringify({
      rows: Number(s.rows),
      bytes_on_disk: Number(s.bytes_on_disk),
      uncompressed_bytes: Number(s.uncompressed_bytes),
      parts: Number(s.parts),
      partitions: Number(s.partitions),
      users: Number(us.users),
      max_events_per_user: Number(us.max_events_per_user),
      median_events_per_user: Number(us.median_events_per_user),
      insert_seconds: Math.round(insertedS * 10) / 10,
      total_seconds: Math.round((performance.now() - started) / 100) / 10,
    })}\n`,
  );
} finally {
  await ch.close();
}
