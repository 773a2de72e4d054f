// Every event time the ingest accepts (1900-01-01 to 2299-12-31) is written by the sink in a form
// ClickHouse reads back as the same millisecond. A form it misreads or refuses fails the whole
// insert, and the sink retries that batch forever: one event from 1971 or 2290 used to stall the
// pipeline (ClickHouse reads Unix seconds of other than 9 or 10 digits as a date, or not at all).
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { encodeTsvRow, EVENTS_INSERT_COLUMNS } from '../../src/schema/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { testEvent } from './sink-helpers.js';

let dir: ReturnType<typeof tempDir>;
let ch: ClickHouseHandle;

beforeAll(async () => {
  dir = tempDir('trackhouse-sink-times-');
  const config = testConfig(dir.path);
  ch = await openClickHouse(config.clickhouse, config.dataDir);
  await migrate(ch.client, silentLogger());
});

afterAll(async () => {
  await ch?.close();
  dir?.remove();
});

const TIMES = [
  Date.UTC(1900, 0, 1),
  Date.UTC(1969, 11, 31, 23, 59, 59, 999),
  0,
  1,
  Date.UTC(1970, 0, 2),
  Date.UTC(1971, 5, 1, 12, 0, 0, 7),
  Date.UTC(1972, 1, 29, 23, 59, 59, 999),
  99_999_999_999, // 1973-03-03 09:46:39.999: the last time whose Unix seconds have 8 digits
  100_000_000_000,
  Date.UTC(2001, 8, 9, 1, 46, 40, 123),
  Date.UTC(2026, 10, 20, 10, 0, 0, 5),
  9_999_999_999_999, // 2286-11-20 17:46:39.999: the last time whose Unix seconds have 10 digits
  10_000_000_000_000,
  Date.UTC(2299, 11, 31, 23, 59, 59, 999),
];

it('reads back every accepted event time exactly, as timestamp, sent_at and received_at', async () => {
  const rows = TIMES.map((ms, i) => {
    const r = testEvent(i, { event_id: `time-${i}`, user_id: 'sink-times', timestamp: ms, sent_at: ms, received_at: ms });
    return encodeTsvRow(r, 'sink-times', 0, i);
  });
  // The sink's own insert call (src/sink/sinkstore.ts): same table, columns and format.
  await ch.client.insert({
    table: 'events',
    columns: [...EVENTS_INSERT_COLUMNS],
    format: 'TabSeparated',
    values: Readable.from([Buffer.from(rows.join(''))], { objectMode: false }),
    clickhouse_settings: { async_insert: 0 },
  });
  const res = await ch.client.query({
    query: `SELECT event_id, toString(toUnixTimestamp64Milli(timestamp)) AS ts, toString(toUnixTimestamp64Milli(sent_at)) AS sent,
                   toString(toUnixTimestamp64Milli(received_at)) AS recv
            FROM events WHERE user_key = 'sink-times' ORDER BY kafka_offset`,
    format: 'JSONEachRow',
  });
  const got = (await res.json()) as { event_id: string; ts: string; sent: string; recv: string }[];
  expect(got.map((r) => r.event_id)).toEqual(TIMES.map((_, i) => `time-${i}`));
  expect(got.map((r) => Number(r.ts))).toEqual(TIMES);
  expect(got.map((r) => Number(r.sent))).toEqual(TIMES);
  expect(got.map((r) => Number(r.recv))).toEqual(TIMES);
});
