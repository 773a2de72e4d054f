// System under test for the query benchmark's cached runs: the built query API (dist/, the same
// code `trackhouse query` runs) in one process with a change feed, as in the all-in-one where the
// sink shares the process. A stand-in for the sink may write W events/s: every 250 ms (the sink's SINK_BATCH_MS) it inserts
// a batch of new events for Zipf-drawn users and, once ClickHouse confirmed the insert, publishes
// the batch (its users and their rows), exactly as the sink does. So cached windows of hot users
// really change during the measurement.
//
//   node --import tsx bench/query-server.ts   (env: the usual TRACKHOUSE_* / QUERY_* variables,
//   plus BENCH_WRITE_RATE, BENCH_USERS, BENCH_SEED, BENCH_END_MS)
// Prints {"port":N} on stdout once listening; SIGTERM stops it gracefully and prints the writer's
// totals.
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type * as ClickHouseModule from '../src/warehouse/index.js';
import type * as ChangesModule from '../src/common/changefeed.js';
import type * as LogModule from '../src/common/log.js';
import type * as MetricsModule from '../src/common/metrics.js';
import type * as ConfigModule from '../src/config/index.js';
import type * as QueryModule from '../src/query/index.js';
import type * as GraphqlModule from '../src/graphql/index.js';
import type * as SchemaModule from '../src/schema/index.js';
import type { StoredRow } from '../src/schema/index.js';
import { EVENT_COLUMNS, EventGenerator } from './query-data.js';

const dist = path.resolve(fileURLToPath(new URL('../dist/', import.meta.url)));
const load = <T>(p: string) => import(path.join(dist, p)) as Promise<T>;
const { openClickHouse } = await load<typeof ClickHouseModule>('warehouse/index.js');
const { createChangeFeed } = await load<typeof ChangesModule>('common/changefeed.js');
const { createLogger } = await load<typeof LogModule>('common/log.js');
const { createRegistry } = await load<typeof MetricsModule>('common/metrics.js');
const { loadConfig } = await load<typeof ConfigModule>('config/index.js');
const { startQuery } = await load<typeof QueryModule>('query/index.js');
const { graphqlRoutes } = await load<typeof GraphqlModule>('graphql/index.js');
const { decodeTsvRow, userKeyOf } = await load<typeof SchemaModule>('schema/index.js');

const config = loadConfig();
const log = createLogger(config.logLevel, { component: 'bench-query-server' });
const ch = await openClickHouse(config.clickhouse, config.dataDir);
const feed = createChangeFeed<StoredRow>();
// With GraphQL on the port, as the query component wires it (bench/graphql.ts compares the two).
const routes = [graphqlRoutes({ config, log, stream: null })];
const server = await startQuery({ config, clickhouse: ch.client, log, registry: createRegistry('query'), changes: feed, routes });

const rate = Number(process.env.BENCH_WRITE_RATE ?? 0);
// An hour of new events, newer than everything seeded, one every 1/rate seconds.
const gen = new EventGenerator({
  rows: Math.max(1, rate * 3600),
  users: Number(process.env.BENCH_USERS ?? 1000),
  days: 1 / 24,
  endMs: Number(process.env.BENCH_END_MS ?? Date.now()) + 3_600_000,
  seed: Number(process.env.BENCH_SEED ?? 1) + 1,
});
let written = 0;
let published = 0;
let writerError: string | null = null;
let stopping = false;
const insertSql = `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) FORMAT TabSeparated`;
// Every 250 ms, as the sink inserts with its default SINK_BATCH_MS (the fetch waits that long).
const TICK_MS = 250;
const perTick = (rate * TICK_MS) / 1000;
let carry = 0;

async function writeLoop(): Promise<void> {
  while (!stopping && !gen.done) {
    const next = performance.now() + TICK_MS;
    carry += perTick;
    const n = Math.floor(carry);
    carry -= n;
    if (n > 0) {
      const { bytes } = gen.nextChunk(n);
      // The batch as the sink publishes it: its users and their rows (the generator's columns
      // begin with the sink's, so the sink's own row reader reads them).
      const rows = new Map<string, StoredRow[]>();
      for (let start = 0; start < bytes.length; ) {
        const end = bytes.indexOf(10, start) + 1;
        const row = decodeTsvRow(bytes, start, end);
        start = end;
        const key = userKeyOf(row);
        const list = rows.get(key);
        if (list === undefined) rows.set(key, [row]);
        else list.push(row);
      }
      try {
        await ch.client.exec({
          query: insertSql,
          values: Readable.from([bytes]),
          clickhouse_settings: { insert_deduplication_token: '', insert_deduplicate: 0, async_insert: 0, date_time_input_format: 'basic' },
        });
        written += n;
        feed.publish({ userKeys: { [Symbol.iterator]: () => rows.keys() }, rowsOf: (key) => rows.get(key) ?? [] });
        published += rows.size;
      } catch (err) {
        writerError = (err as Error).message;
      }
    }
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

const writer = rate > 0 ? writeLoop() : Promise.resolve();
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

process.once('SIGTERM', () => {
  stopping = true;
  void (async () => {
    await writer;
    await server.stop();
    await ch.close();
    process.stdout.write(`${JSON.stringify({ written, published_user_keys: published, writer_error: writerError })}\n`);
    process.exit(0);
  })();
});
