// Byte bodies go to chDB as bytes: the insert of chdb/connection (what @clickhouse/client calls)
// turns every body into a JS string (each chunk decoded from UTF-8, concatenated, the SQL and
// `SET …;` statements put in front) and hands that to the engine, which encodes it back to UTF-8:
// for the sink that was ~4 CPU-s per million rows on the main thread plus the garbage of 64 MB
// strings, on the same 2 cores chDB's own insert needs (docs/architecture/sink.md). chDB's raw
// insert takes a Buffer as it is and parses it on its own thread; this wrapper routes an insert
// there when its body is bytes (a non-object-mode stream of Buffers: what the sink, replay and the
// import send) in a text format chDB's raw insert takes, and leaves everything else (string or
// object bodies, other formats, settings it cannot pass) to the connection's own insert.
//
// Differences, on purpose: the settings go into the statement's SETTINGS clause instead of
// session-wide SETs, so they do not stay set for later queries (every caller passes what it
// relies on anyway, see client.ts); errors are mapped to @clickhouse/client's ClickHouseError,
// as the connection's own insert does.
import { parseError } from '@clickhouse/client';

/** The formats chDB's raw insert accepts (chdb/dist/rawInsert.js RAW_FORMATS). */
const RAW_FORMATS = new Set(['TabSeparated', 'TSV', 'TabSeparatedWithNames', 'TSVWithNames', 'JSONEachRow', 'JSONCompactEachRow', 'CSV', 'CSVWithNames']);

/** Settings chdb/connection drops because only ClickHouse's HTTP layer knows them; dropped here too. */
const HTTP_ONLY = new Set([
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_response_buffer_size',
  'http_headers_progress_interval_ms',
  'http_send_progress_interval_ms',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_compression_method',
  'http_native_compression_disable_checksumming_on_decompress',
]);

/** `INSERT INTO <table>[ (<columns>)] FORMAT <format>`, as the client's getInsertQuery writes it. */
const INSERT_QUERY = /^INSERT INTO ([A-Za-z_][A-Za-z0-9_.]*)(?: \(([A-Za-z0-9_, ]+)\))? FORMAT ([A-Za-z]+)$/;

interface InsertParams {
  query: string;
  values: unknown;
  clickhouse_settings?: Record<string, unknown>;
  abort_signal?: AbortSignal;
  query_id?: string;
}

interface RawInsert {
  (params: {
    table: string;
    columns?: string[];
    format: string;
    values: Buffer;
    settings?: Record<string, string | number | boolean>;
    signal?: AbortSignal;
  }): Promise<{ rowsWritten: number; bytesWritten: number; elapsed: number }>;
}

export interface ChdbConnectionLike {
  insert(params: InsertParams): Promise<unknown>;
  readonly chdb: { rawInsert: RawInsert };
}

/** What the raw path will take from an insert call, or null: the connection's own insert does it. */
function rawPlan(params: InsertParams) {
  const m = INSERT_QUERY.exec(params.query);
  if (m === null || !RAW_FORMATS.has(m[3]!)) return null;
  const v = params.values as { readableObjectMode?: boolean; [Symbol.asyncIterator]?: unknown } | null;
  if (v === null || typeof v !== 'object' || typeof v[Symbol.asyncIterator] !== 'function' || v.readableObjectMode !== false) return null;
  const settings: Record<string, string | number | boolean> = {};
  for (const [k, s] of Object.entries(params.clickhouse_settings ?? {})) {
    if (s === undefined || HTTP_ONLY.has(k)) continue;
    if (typeof s !== 'string' && typeof s !== 'number' && typeof s !== 'boolean') return null;
    if (k === 'default_format') return null;
    settings[k] = s;
  }
  return {
    table: m[1]!,
    ...(m[2] !== undefined ? { columns: m[2].split(',').map((c) => c.trim()) } : {}),
    format: m[3]!,
    settings,
    stream: v as AsyncIterable<unknown>,
  };
}

/** Wraps `connection.insert` in place; returns the connection. */
export function withRawInserts<C extends ChdbConnectionLike>(connection: C): C {
  const ownInsert = connection.insert.bind(connection);
  const rawInsert = connection.chdb.rawInsert;
  connection.insert = async (params: InsertParams) => {
    const plan = rawPlan(params);
    if (plan === null) return ownInsert(params);
    const chunks: Buffer[] = [];
    let strings = false;
    for await (const c of plan.stream) {
      if (typeof c === 'string') strings = true;
      else if (c instanceof Uint8Array) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      else throw new Error(`Unsupported insert chunk type: ${typeof c}`);
      if (strings) break;
    }
    const query_id = params.query_id ?? crypto.randomUUID();
    if (strings) {
      // A text stream after all: the connection's own path, with what was read put back in front.
      const rest = plan.stream;
      const all = (async function* () {
        yield* chunks;
        yield* rest;
      })();
      return ownInsert({ ...params, values: all });
    }
    // One Buffer for the engine: the pieces are copied once (no UTF-8 decode or encode).
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (body.length === 0 || isBlank(body)) {
      return { query_id, response_headers: {}, http_status_code: 200, summary: summary(0, 0, 0) };
    }
    let r: { rowsWritten: number; bytesWritten: number; elapsed: number };
    try {
      r = await rawInsert({
        table: plan.table,
        ...(plan.columns ? { columns: plan.columns } : {}),
        format: plan.format,
        values: body,
        settings: plan.settings,
        ...(params.abort_signal ? { signal: params.abort_signal } : {}),
      });
    } catch (err) {
      const mapped = parseError(err instanceof Error && err.message ? err.message : String(err));
      if (mapped !== err) (mapped as { cause?: unknown }).cause = err;
      throw mapped;
    }
    return { query_id, response_headers: {}, http_status_code: 200, summary: summary(r.rowsWritten, r.bytesWritten, r.elapsed) };
  };
  return connection;
}

/** The connection's own insert treats a body of only whitespace as nothing to insert. */
function isBlank(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}

function summary(rows: number, bytes: number, elapsedSeconds: number) {
  const r = String(rows || 0);
  const b = String(bytes || 0);
  return {
    read_rows: r,
    read_bytes: b,
    written_rows: r,
    written_bytes: b,
    result_rows: '0',
    result_bytes: '0',
    total_rows_to_read: '0',
    elapsed_ns: String(Math.max(0, Math.round((elapsedSeconds || 0) * 1e9))),
  };
}
