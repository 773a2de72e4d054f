// Inserts with a byte body reach chDB as bytes (src/warehouse/chdbinsert.ts), with the same
// outcome as the connection's own string path: rows, deduplication by token (in events and the
// rollups), errors as ClickHouseError. And the insert's settings stay with that insert.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseError } from '@clickhouse/client';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { encodeTsvRow, EVENTS_INSERT_COLUMNS, type EventRecord } from '../../src/schema/index.js';
import { insertSettings } from '../../src/sink/index.js';
import { tempDir, testConfig } from '../support/env.js';

const event = (i: number, over: Partial<EventRecord> = {}): EventRecord => ({
  event_id: `e-${i}`,
  type: 'track',
  event: 'Viewed',
  user_id: `u-${i % 3}`,
  anonymous_id: null,
  timestamp: 1_763_700_000_000 + i,
  sent_at: null,
  received_at: 1_763_700_000_000 + i,
  source: 'web',
  category: null,
  group_id: null,
  name: null,
  previous_id: null,
  properties: '{}',
  traits: '{}',
  context: '{}',
  ...over,
});

describe('inserts into chDB with a byte body', () => {
  const dir = tempDir();
  let ch: ClickHouseHandle;
  beforeAll(async () => {
    const cfg = testConfig(dir.path);
    ch = await openClickHouse(cfg.clickhouse, cfg.dataDir);
    await migrate(ch.client, silentLogger());
  });
  afterAll(async () => {
    await ch?.close();
    dir.remove();
  });

  const count = async (query: string) => {
    const rs = await ch.client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
    return Number((await rs.json<{ c: number }>())[0]!.c);
  };
  const insert = (rows: Buffer[], token: string) =>
    ch.client.insert({
      table: 'events',
      columns: [...EVENTS_INSERT_COLUMNS],
      format: 'TabSeparated',
      values: Readable.from(rows, { objectMode: false }),
      clickhouse_settings: insertSettings(token),
    });

  it('lands every row byte for byte, once per token, in events and the rollups', async () => {
    // In pieces, as the sink sends a block: escapes and non-ASCII text included.
    const rows = Array.from({ length: 50 }, (_, i) =>
      Buffer.from(encodeTsvRow(event(i, { properties: i === 7 ? '{"q":"tab\\there, ümlaut, 日本"}' : '{}' }), 'trackhouse.events', 0, i)),
    );
    await insert(rows, 'raw-1');
    await insert(rows, 'raw-1'); // a retry of a block that had landed: dropped
    await insert(rows.slice(0, 5), 'raw-2');
    expect(await count('SELECT count() AS c FROM events')).toBe(55);
    expect(await count("SELECT sum(events) AS c FROM events_daily_by_event WHERE event = 'Viewed'")).toBe(55);
    const rs = await ch.client.query({ query: "SELECT properties FROM events WHERE event_id = 'e-7' LIMIT 1", format: 'JSONEachRow' });
    expect((await rs.json<{ properties: string }>())[0]!.properties).toBe('{"q":"tab\\there, ümlaut, 日本"}');
  });

  it("keeps an insert's settings to that insert: the next query does not inherit its token", async () => {
    await insert([Buffer.from(encodeTsvRow(event(100), 'trackhouse.events', 1, 100))], 'raw-token-once');
    const rs = await ch.client.query({ query: "SELECT getSetting('insert_deduplication_token') AS t", format: 'JSONEachRow' });
    expect((await rs.json<{ t: string }>())[0]!.t).toBe('');
  });

  it('refuses a malformed body with a ClickHouseError naming the row, and inserts none of it', async () => {
    const before = await count('SELECT count() AS c FROM events');
    const err = await insert([Buffer.from(encodeTsvRow(event(200), 'trackhouse.events', 1, 200)), Buffer.from('not\ta\trow\n')], 'raw-bad').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseError);
    expect((err as ClickHouseError).code).toBe('27'); // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    expect(await count('SELECT count() AS c FROM events')).toBe(before);
  });

  it('still takes string and object bodies (the connection’s own path)', async () => {
    const before = await count('SELECT count() AS c FROM events');
    await ch.client.insert({
      table: 'events',
      columns: [...EVENTS_INSERT_COLUMNS],
      format: 'TabSeparated',
      values: Readable.from([encodeTsvRow(event(300), 'trackhouse.events', 2, 300)]),
      clickhouse_settings: insertSettings('string-1'),
    });
    await ch.client.command({ query: 'CREATE TABLE IF NOT EXISTS raw_insert_objects (a UInt32, b String) ENGINE = Memory' });
    await ch.client.insert({ table: 'raw_insert_objects', values: [{ a: 1, b: 'x' }], format: 'JSONEachRow' });
    expect(await count('SELECT count() AS c FROM events')).toBe(before + 1);
    expect(await count('SELECT count() AS c FROM raw_insert_objects')).toBe(1);
  });
});
