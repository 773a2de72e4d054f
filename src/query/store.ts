// Reads for the query API: runs the SQL of ./sql.ts and turns the RowBinary results into the
// reply bodies. Handlers see QueryStore; only createClickHouseRunner touches @clickhouse/client.
//
// Bodies are built as bytes: ClickHouse renders each event's JSON, and a page is the bytes of
// those objects joined with commas between a fixed prefix and suffix, so a reply costs one
// Buffer.concat and can be cached and written as is.
import type { ClickHouseClient } from '@clickhouse/client';
import { DependencyError } from '../common/errors.js';
import { encodeCursor } from './cursor.js';
import type { EventsRequest, RollupsRequest } from './params.js';
import { RowBinaryReader } from './rowbinary.js';
import { READY_SQL, rollupsSql, userEventsSql, type Sql } from './sql.js';

export type QueryKind = 'events' | 'rollups' | 'ready';

/** Runs one statement (FORMAT RowBinary) and returns its whole result. */
export interface SqlRunner {
  run(sql: Sql, kind: QueryKind): Promise<Buffer>;
}

export interface QueryStore {
  /** The JSON body `{"events":[...],"next_cursor":...}` of one page. */
  userEvents(r: EventsRequest): Promise<Buffer>;
  /** The JSON body `{"rows":[...]}`. */
  dailyRollups(r: RollupsRequest): Promise<Buffer>;
  /** Resolves when ClickHouse answers and the tables exist. */
  ready(): Promise<void>;
}

export function createClickHouseRunner(client: ClickHouseClient): SqlRunner {
  return {
    async run(sql) {
      try {
        const result = await client.exec({ query: sql.query, query_params: sql.params });
        const chunks: Buffer[] = [];
        for await (const chunk of result.stream) chunks.push(chunk as Buffer);
        return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      } catch (err) {
        throw new DependencyError('CLICKHOUSE_QUERY_FAILED', `ClickHouse query failed: ${(err as Error).message}`, {
          retriable: true,
          cause: err,
        });
      }
    },
  };
}

const EVENTS_OPEN = Buffer.from('{"events":[');
const EVENTS_NEXT = Buffer.from('],"next_cursor":');
const NULL_CLOSE = Buffer.from('null}');
const COMMA = Buffer.from(',');
const ROWS_OPEN = Buffer.from('{"rows":[');
const ROWS_CLOSE = Buffer.from(']}');

/**
 * Builds a page from up to limit + 1 rows (json, ts, event_id), newest first. Exact duplicates
 * (same timestamp and event_id, e.g. one event written twice) are adjacent in this order and
 * collapse to one. The extra row only says that more follow; next_cursor points after the last
 * row served, so the next page starts right behind it.
 */
export function renderEventsPage(result: Buffer, r: EventsRequest): Buffer {
  const reader = new RowBinaryReader(result);
  const parts: Buffer[] = [EVENTS_OPEN];
  let raw = 0;
  let kept = 0;
  let lastTs = NaN;
  let lastId = '';
  while (!reader.done) {
    const json = reader.bytes();
    const ts = reader.int64();
    const id = reader.string();
    raw++;
    if (kept === r.limit) continue;
    if (ts === lastTs && id === lastId) continue;
    if (kept > 0) parts.push(COMMA);
    parts.push(json);
    kept++;
    lastTs = ts;
    lastId = id;
  }
  parts.push(EVENTS_NEXT);
  if (raw > r.limit && kept > 0) {
    parts.push(Buffer.from(`"${encodeCursor({ ts: lastTs, id: lastId }, r.fingerprint)}"}`));
  } else {
    parts.push(NULL_CLOSE);
  }
  return Buffer.concat(parts);
}

export function renderRollups(result: Buffer): Buffer {
  const reader = new RowBinaryReader(result);
  const parts: Buffer[] = [ROWS_OPEN];
  let first = true;
  while (!reader.done) {
    if (!first) parts.push(COMMA);
    parts.push(reader.bytes());
    first = false;
  }
  parts.push(ROWS_CLOSE);
  return Buffer.concat(parts);
}

const EMPTY_ROLLUPS = Buffer.from('{"rows":[]}');

export function createQueryStore(runner: SqlRunner, timeoutMs: number): QueryStore {
  return {
    async userEvents(r) {
      return renderEventsPage(await runner.run(userEventsSql(r, timeoutMs), 'events'), r);
    },
    async dailyRollups(r) {
      if (r.empty) return EMPTY_ROLLUPS;
      return renderRollups(await runner.run(rollupsSql(r, timeoutMs), 'rollups'));
    },
    async ready() {
      const result = await runner.run({ query: READY_SQL, params: {} }, 'ready');
      // count() is a UInt64: 8 bytes little-endian.
      if (result.length !== 8 || result.readBigUInt64LE(0) !== 1n) {
        throw new Error('table events is missing: run `trackhouse migrate`');
      }
    },
  };
}
