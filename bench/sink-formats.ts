// The sink's insert format, measured: the same rows into a fresh chDB data dir with the project's
// migrations (events, the sink's bookkeeping views and the daily rollups), timing the encoding
// and the inserts separately, in blocks like the sink's.
//
//   node --import tsx bench/sink-formats.ts            # every mode, each in its own child process
//   BENCH_FORMAT_ROWS=300000 node --import tsx bench/sink-formats.ts
//
// Modes:
//   tsv-client     TabSeparated through @clickhouse/client and chdb/connection: what the sink does
//                  today (the connection turns the body into a JS string and parses it as SQL text);
//   tsv-raw        TabSeparated handed to chDB's raw insert as one Buffer (no string, no copy);
//   rowbinary-raw  RowBinary, the same way (chdb-node's JS whitelist allows only text formats for
//                  raw inserts; its native entry takes any format, so it is called directly here).
//                  With chdb 3.4.0 it fails part-way through most blocks (CANNOT_READ_ALL_DATA,
//                  "data for INSERT was parsed from query"), although the same bytes read back
//                  whole through file(..., 'RowBinary'): the raw entry is for line-delimited text.
//                  The child then exits non-zero and the driver prints {"variant", "failed"}.
// Through chdb/connection (the client's path) no binary format can pass at all: the connection
// turns the body into a UTF-8 string and appends it to the SQL text.
// Native is not measured: @clickhouse/client 1.x has no Native encoder, and the sink would have to
// write columns rather than rows (a whole block per task) to send it. The HTTP path (a ClickHouse
// server) is not measured either: no ClickHouse server runs on this machine (Debian's is 18.16).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
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
import { eventFactory } from './sink-events.js';

const MODES = ['tsv-client', 'tsv-raw', 'rowbinary-raw'] as const;
type Mode = (typeof MODES)[number];

/** RowBinary of one row in EVENTS_INSERT_COLUMNS order (String: varint length + bytes; DateTime64(3): Int64 ms). */
function writeRowBinary(r: EventRecord, topic: string, partition: number, offset: number, out: Buffer, at: number): number {
  const str = (s: string | null) => {
    const v = s ?? '';
    const n = Buffer.byteLength(v);
    let len = n;
    while (len >= 0x80) {
      out[at++] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    out[at++] = len;
    at += out.write(v, at, 'utf8');
  };
  const i64 = (v: number) => {
    out.writeBigInt64LE(BigInt(v), at);
    at += 8;
  };
  str(r.event_id);
  str(r.type);
  str(r.event);
  str(r.user_id);
  str(r.anonymous_id);
  i64(r.timestamp);
  if (r.sent_at === null) out[at++] = 1;
  else {
    out[at++] = 0;
    i64(r.sent_at);
  }
  i64(r.received_at);
  str(r.source);
  str(r.category);
  str(r.group_id);
  str(r.name);
  str(r.previous_id);
  str(r.properties);
  str(r.traits);
  str(r.context);
  str(topic);
  out.writeUInt32LE(partition, at);
  at += 4;
  out.writeBigUInt64LE(BigInt(offset), at);
  return at + 8;
}

interface Result {
  variant: Mode;
  rows: number;
  bytes_per_row: number;
  encode_rows_per_s: number;
  insert_rows_per_s: number;
  insert_seconds: number;
}

async function child(mode: Mode, rows: number, batchRows: number): Promise<Result> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-formats-'));
  const config = loadConfig({ TRACKHOUSE_DATA_DIR: dir, LOG_LEVEL: 'silent' });
  const ch = await openClickHouse(config.clickhouse, config.dataDir);
  const require = createRequire(import.meta.url);
  // A second session on the same data dir: chDB keeps one engine per process, both see the same tables.
  const { Session } = require('chdb') as { Session: new (p: string) => { connection: unknown; close(): void } };
  const native = (require(path.join(path.dirname(require.resolve('chdb')), 'dist/loader.js')) as { loadNative(): { InsertRawAsyncConnection(c: unknown, prefix: string, data: Buffer, countLines: boolean): Promise<unknown> } }).loadNative();
  let session: { connection: unknown; close(): void } | undefined;
  try {
    await migrate(ch.client, silentLogger());
    session = new Session(ch.location);
    const factory = eventFactory(7);
    let encodeS = 0;
    let insertS = 0;
    let bytes = 0;
    for (let done = 0, block = 0; done < rows; block++) {
      const n = Math.min(batchRows, rows - done);
      const records: EventRecord[] = [];
      for (let i = 0; i < n; i++) records.push(factory.next());
      const t0 = performance.now();
      let payload: Buffer;
      if (mode === 'rowbinary-raw') {
        let buf = Buffer.allocUnsafe(n * 1024);
        let at = 0;
        for (let i = 0; i < n; i++) {
          if (buf.length - at < 64 * 1024) {
            const next = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(next, 0, 0, at);
            buf = next;
          }
          at = writeRowBinary(records[i]!, 'trackhouse.events', i % 6, done + i, buf, at);
        }
        payload = buf.subarray(0, at);
      } else {
        let buf = Buffer.allocUnsafe(n * 1024);
        let at = 0;
        for (let i = 0; i < n; i++) {
          const line = encodeTsvRow(records[i]!, 'trackhouse.events', i % 6, done + i);
          if (buf.length - at < line.length * 3) {
            const next = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(next, 0, 0, at);
            buf = next;
          }
          at += buf.write(line, at);
        }
        payload = buf.subarray(0, at);
      }
      const t1 = performance.now();
      const settings = insertSettings(`formats-${mode}-${block}`);
      if (mode === 'tsv-client') {
        await ch.client.insert({
          table: 'events',
          columns: [...EVENTS_INSERT_COLUMNS],
          format: 'TabSeparated',
          values: Readable.from([payload], { objectMode: false }),
          clickhouse_settings: settings,
        });
      } else {
        const set = Object.entries(settings)
          .map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${String(v)}'`}`)
          .join(', ');
        const prefix = `INSERT INTO events (${EVENTS_INSERT_COLUMNS.join(', ')}) SETTINGS ${set} FORMAT ${mode === 'rowbinary-raw' ? 'RowBinary' : 'TabSeparated'}`;
        await native.InsertRawAsyncConnection(session.connection, prefix, payload, mode !== 'rowbinary-raw');
      }
      const t2 = performance.now();
      encodeS += (t1 - t0) / 1000;
      insertS += (t2 - t1) / 1000;
      bytes += payload.length;
      done += n;
    }
    const rs = await ch.client.query({ query: 'SELECT count() AS c, (SELECT sum(events) FROM events_daily_by_event) AS r FROM events', format: 'JSONEachRow' });
    const [{ c, r }] = (await rs.json<{ c: string | number; r: string | number }>()) as [{ c: string | number; r: string | number }];
    if (Number(c) !== rows || Number(r) !== rows) throw new Error(`${mode}: ${rows} rows sent, events has ${c}, the rollup counts ${r}`);
    return {
      variant: mode,
      rows,
      bytes_per_row: Math.round(bytes / rows),
      encode_rows_per_s: Math.round(rows / encodeS),
      insert_rows_per_s: Math.round(rows / insertS),
      insert_seconds: +insertS.toFixed(2),
    };
  } finally {
    session?.close();
    await ch.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = Number(process.env.BENCH_FORMAT_ROWS ?? 500_000);
const batchRows = Number(process.env.BENCH_FORMAT_BATCH_ROWS ?? 100_000);
await interleaved(
  fileURLToPath(import.meta.url),
  (a) => child(a.variant, a.rows, a.batchRows),
  Number(process.env.BENCH_FORMAT_ROUNDS ?? 2),
  MODES.map((variant) => ({ variant, rows, batchRows })),
);
