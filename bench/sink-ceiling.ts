// Child process of the sink benchmark: the direct-insert ceiling. Builds the same kind of rows
// the sink writes and bulk-inserts them straight into a fresh chDB data dir with the project's
// migrations (same tables, same materialized views), timing only the inserts. Run once per
// format, since chDB binds one data dir per process.
//
//   node --import tsx bench/sink-ceiling.ts '{"dir":"...","rows":1000000,"batchRows":100000,"format":"tsv"}'
import { Readable } from 'node:stream';
import { migrate, openClickHouse } from '../src/warehouse/index.js';
import { silentLogger } from '../src/common/log.js';
import { loadConfig } from '../src/config/index.js';
import { encodeTsvRow, EVENTS_INSERT_COLUMNS } from '../src/schema/index.js';
import { insertSettings } from '../src/sink/index.js';
import type { EventRecord } from '../src/schema/index.js';
import { eventFactory } from './sink-events.js';

/**
 * tsv: TabSeparated through client.insert, the sink's own call; tsv-string: the same bytes
 * through client.exec (what this ceiling used before; with chDB both become a JS string body);
 * json: JSONEachRow, also exec; tsv-back-to-back: as tsv, with every row built before the first
 * insert and no pause between inserts, so chDB's background merges fall inside the timed
 * inserts, as they do in a drain.
 */
export type CeilingFormat = 'tsv' | 'tsv-back-to-back' | 'tsv-string' | 'json' | 'tsv-without-sink-bookkeeping';

export interface CeilingArgs {
  dir: string;
  rows: number;
  batchRows: number;
  format: CeilingFormat;
  seed: number;
}

export interface CeilingResult {
  format: CeilingFormat;
  rows: number;
  inserts: number;
  payload_bytes: number;
  encode_seconds: number;
  insert_seconds: number;
  /** CPU seconds of this process (chDB's threads included) while inserting, per million rows. */
  insert_cpu_s_per_m_rows: number;
  rows_per_s: number;
  encode_rows_per_s: number;
}

function ms3(ms: number): string {
  const frac = ms % 1000;
  return `${(ms - frac) / 1000}.${String(frac).padStart(3, '0')}`;
}

/** JSONEachRow with the same values as encodeTsvRow (timestamps as the same text). */
function jsonRow(r: EventRecord, topic: string, partition: number, offset: number): string {
  return `${JSON.stringify({
    event_id: r.event_id,
    type: r.type,
    event: r.event ?? '',
    user_id: r.user_id ?? '',
    anonymous_id: r.anonymous_id ?? '',
    timestamp: ms3(r.timestamp),
    sent_at: r.sent_at === null ? null : ms3(r.sent_at),
    received_at: ms3(r.received_at),
    source: r.source,
    category: r.category ?? '',
    group_id: r.group_id ?? '',
    name: r.name ?? '',
    previous_id: r.previous_id ?? '',
    properties: r.properties,
    traits: r.traits,
    context: r.context,
    kafka_topic: topic,
    kafka_partition: partition,
    kafka_offset: offset,
  })}\n`;
}

export async function ceiling(args: CeilingArgs): Promise<CeilingResult> {
  const config = loadConfig({ TRACKHOUSE_DATA_DIR: args.dir, LOG_LEVEL: 'silent' });
  const ch = await openClickHouse(config.clickhouse, config.dataDir);
  try {
    await migrate(ch.client, silentLogger());
    if (args.format === 'tsv-without-sink-bookkeeping') {
      for (const v of ['sink_offsets_mv', 'sink_recent_ids_mv']) await ch.client.command({ query: `DROP VIEW ${v}` });
    }
    const factory = eventFactory(args.seed);
    const encode = args.format === 'json' ? jsonRow : encodeTsvRow;
    const fmt = args.format === 'json' ? 'JSONEachRow' : 'TabSeparated';
    /** One insert's rows, built like the sink does: written into buffers of about 4 MB, sent back to back. */
    const encodeBatch = (done: number, n: number): Buffer[] => {
      const records: EventRecord[] = [];
      for (let i = 0; i < n; i++) records.push(factory.next());
      const chunks: Buffer[] = [];
      let buf = Buffer.allocUnsafe(4 * 1024 * 1024);
      let used = 0;
      for (let i = 0; i < n; i++) {
        const line = encode(records[i]!, 'trackhouse.events', i % 6, done + i);
        if (buf.length - used < line.length * 3) {
          chunks.push(buf.subarray(0, used));
          buf = Buffer.allocUnsafe(4 * 1024 * 1024);
          used = 0;
        }
        used += buf.write(line, used);
      }
      chunks.push(buf.subarray(0, used));
      return chunks;
    };
    // tsv-back-to-back: every insert's rows built first, then the inserts one after another with
    // no pause, timed as a whole (background merges included, as in a drain); the other formats
    // build each insert's rows between inserts, untimed, so merges may run in those pauses.
    const backToBack = args.format === 'tsv-back-to-back';
    const prebuilt: Buffer[][] = [];
    let encodeSeconds = 0;
    if (backToBack) {
      const t0 = performance.now();
      for (let done = 0; done < args.rows; done += args.batchRows) prebuilt.push(encodeBatch(done, Math.min(args.batchRows, args.rows - done)));
      encodeSeconds = (performance.now() - t0) / 1000;
    }
    let insertSeconds = 0;
    let insertCpuUs = 0;
    let bytes = 0;
    let inserts = 0;
    for (let done = 0; done < args.rows; ) {
      const n = Math.min(args.batchRows, args.rows - done);
      const t0 = performance.now();
      const chunks = backToBack ? prebuilt[inserts]! : encodeBatch(done, n);
      const t1 = performance.now();
      const cpu1 = process.cpuUsage();
      if (args.format === 'json' || args.format === 'tsv-string') {
        // exec with a raw body: the client's insert() wants objects for JSON formats.
        const res = await ch.client.exec({
          query: `INSERT INTO events (${EVENTS_INSERT_COLUMNS.join(', ')}) FORMAT ${fmt}`,
          values: Readable.from(chunks, { objectMode: false }),
          clickhouse_settings: insertSettings(`ceiling-${done}`),
        });
        res.stream.resume();
      } else {
        // The sink's call (src/sink/sinkstore.ts): a byte stream of the rows, in pieces.
        await ch.client.insert({
          table: 'events',
          columns: [...EVENTS_INSERT_COLUMNS],
          format: 'TabSeparated',
          values: Readable.from(chunks, { objectMode: false }),
          clickhouse_settings: insertSettings(`ceiling-${done}`),
        });
      }
      const t2 = performance.now();
      const cpu2 = process.cpuUsage(cpu1);
      insertCpuUs += cpu2.user + cpu2.system;
      if (!backToBack) encodeSeconds += (t1 - t0) / 1000;
      insertSeconds += (t2 - t1) / 1000;
      bytes += chunks.reduce((a, c) => a + c.length, 0);
      inserts++;
      done += n;
    }
    const rs = await ch.client.query({ query: 'SELECT count() AS c FROM events', format: 'JSONEachRow' });
    const count = Number((await rs.json<{ c: number | string }>())[0]!.c);
    if (count !== args.rows) throw new Error(`ceiling inserted ${args.rows} rows but events has ${count}`);
    return {
      format: args.format,
      rows: args.rows,
      inserts,
      payload_bytes: bytes,
      encode_seconds: +encodeSeconds.toFixed(3),
      insert_seconds: +insertSeconds.toFixed(3),
      insert_cpu_s_per_m_rows: +((insertCpuUs / 1e6) * (1e6 / args.rows)).toFixed(2),
      rows_per_s: Math.round(args.rows / insertSeconds),
      encode_rows_per_s: Math.round(args.rows / encodeSeconds),
    };
  } finally {
    await ch.close();
  }
}

// Run as a child with its arguments as JSON (bench/sink.ts imports only the types).
if (process.argv[2]) process.stdout.write(`${JSON.stringify(await ceiling(JSON.parse(process.argv[2]) as CeilingArgs))}\n`);
