// What chDB's insert of the sink's rows costs per part of the schema: the same TabSeparated blocks
// (the sink's call, bench/sink-events.ts rows, blocks of 53,000 like a sink round) into a fresh
// data dir with every migration, then with one change each, a child process per variant, the
// variants interleaved. CPU is the whole process's (chDB's threads included) while the inserts
// run, then again once background merges are done; disk is `events`' active parts.
//
//   node --import tsx bench/sink-schema.ts
//   BENCH_SCHEMA_ROWS=500000 BENCH_SCHEMA_ROUNDS=3 BENCH_SCHEMA_VARIANTS=base,lz4 node --import tsx bench/sink-schema.ts
//
// Variants: base (the migrations as shipped); lz4 (properties, traits and context in LZ4 instead
// of ZSTD(1)); norollups (the three daily rollups' views dropped); nobook (the sink's two
// bookkeeping views dropped); bare (all five views dropped).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { migrate, openClickHouse } from '../src/warehouse/index.js';
import { silentLogger } from '../src/common/log.js';
import { loadConfig } from '../src/config/index.js';
import { encodeTsvRow, EVENTS_INSERT_COLUMNS, type EventRecord } from '../src/schema/index.js';
import { insertSettings } from '../src/sink/index.js';
import { interleaved } from './lib/interleaved.js';
import { mergesSettled } from './lib/merges.js';
import { eventFactory } from './sink-events.js';

const ROLLUP_VIEWS = ['events_daily_by_event_mv', 'events_daily_by_category_mv', 'events_daily_by_group_mv'];
const BOOKKEEPING_VIEWS = ['sink_offsets_mv', 'sink_recent_ids_mv'];
const drop = (views: string[]) => views.map((v) => `DROP VIEW ${v}`);
/** Each variant: the statements run after the migrations. */
const VARIANTS: Record<string, string[]> = {
  base: [],
  lz4: ['properties', 'traits', 'context'].map((c) => `ALTER TABLE events MODIFY COLUMN ${c} String CODEC(LZ4)`),
  norollups: drop(ROLLUP_VIEWS),
  nobook: drop(BOOKKEEPING_VIEWS),
  bare: drop([...ROLLUP_VIEWS, ...BOOKKEEPING_VIEWS]),
};

async function child(variant: string, rows: number, batchRows: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-schema-'));
  const config = loadConfig({ TRACKHOUSE_DATA_DIR: dir, LOG_LEVEL: 'silent' });
  const ch = await openClickHouse(config.clickhouse, config.dataDir);
  try {
    await migrate(ch.client, silentLogger());
    for (const q of VARIANTS[variant]!) await ch.client.command({ query: q });
    const factory = eventFactory(7);
    const payloads: Buffer[] = [];
    for (let done = 0; done < rows; ) {
      const n = Math.min(batchRows, rows - done);
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(encodeTsvRow(factory.next() as EventRecord, 'trackhouse.events', i % 6, done + i));
      payloads.push(Buffer.from(parts.join('')));
      done += n;
    }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let block = 0;
    for (const payload of payloads) {
      await ch.client.insert({ table: 'events', columns: [...EVENTS_INSERT_COLUMNS], format: 'TabSeparated', values: Readable.from([payload], { objectMode: false }), clickhouse_settings: insertSettings(`codec-${variant}-${block++}`) });
    }
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    // Background merges of every table, counted in the second CPU figure.
    await mergesSettled(ch.client, { quietPolls: 1, maxPolls: 120, intervalMs: 250 });
    const c2 = process.cpuUsage(c0);
    const r = await ch.client.query({ query: "SELECT sum(bytes_on_disk) AS b, count() AS p FROM system.parts WHERE active AND database = currentDatabase() AND table = 'events'", format: 'JSONEachRow' });
    const { b, p } = (await r.json<{ b: string; p: string }>())[0]!;
    return {
      variant,
      rows,
      insert_rows_per_s: Math.round(rows / ((t1 - t0) / 1000)),
      insert_cpu_us_per_row: +(((c1.user + c1.system) / rows)).toFixed(2),
      with_merges_cpu_us_per_row: +(((c2.user + c2.system) / rows)).toFixed(2),
      events_bytes_per_row: +(Number(b) / rows).toFixed(1),
      parts: Number(p),
    };
  } finally {
    await ch.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = Number(process.env.BENCH_SCHEMA_ROWS ?? 500_000);
const batchRows = Number(process.env.BENCH_SCHEMA_BATCH_ROWS ?? 53_000);
const variants = (process.env.BENCH_SCHEMA_VARIANTS ?? Object.keys(VARIANTS).join(',')).split(',');
const unknown = variants.filter((v) => !Object.hasOwn(VARIANTS, v));
if (unknown.length > 0) throw new Error(`BENCH_SCHEMA_VARIANTS: no variant ${unknown.join(', ')} (there are ${Object.keys(VARIANTS).join(', ')})`);
await interleaved(
  fileURLToPath(import.meta.url),
  (a) => child(a.variant, a.rows, a.batchRows),
  Number(process.env.BENCH_SCHEMA_ROUNDS ?? 2),
  variants.map((variant) => ({ variant, rows, batchRows })),
);
