// Reads for the query API: runs the SQL of ./sql.ts and turns the RowBinary results into the
// reply bodies. Handlers see QueryStore; only createClickHouseRunner touches @clickhouse/client.
//
// A reply body is built once as bytes, so it can be cached and written as it is.
import type { ClickHouseClient } from '@clickhouse/client';
import { DependencyError } from '../common/errors.js';
import type { StoredRow } from '../schema/index.js';
import { encodeCursor, scopeFingerprint } from './cursor.js';
import { isValidJsonText } from './jsontext.js';
import type { EventsRequest, RollupsRequest } from './params.js';
import { RowBinaryReader } from './rowbinary.js';
import type { EventRow, UserWindow } from './userwindow.js';
import { READY_SQL, rollupsSql, userEventsSql, type Sql } from './sql.js';

export type QueryKind = 'events' | 'window' | 'rollups' | 'ready';

/** Runs one statement (FORMAT RowBinary) and returns its whole result. */
export interface SqlRunner {
  run(sql: Sql, kind: QueryKind): Promise<Buffer>;
}

export interface QueryStore {
  /** The JSON body `{"events":[...],"next_cursor":...}` of one page. */
  userEvents(r: EventsRequest): Promise<Buffer>;
  /** The newest `size` rows of a user (one more if there are more), for the cache. */
  userWindow(userKey: string, size: number): Promise<UserWindow>;
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

const str = JSON.stringify;
/** Optional strings are stored as '' when absent; the reply says null. */
const opt = (s: string) => (s === '' ? 'null' : JSON.stringify(s));
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One event's reply JSON. The JSON text columns are spliced in as stored when `ok` says they
 * parse (ClickHouse's isValidJSON on the SQL path), else null, so a reply is always JSON.
 *
 * Hot path: one template literal per event; no parse + stringify round trip of the texts.
 */
function eventJson(f: StoredRow, propertiesOk: boolean, traitsOk: boolean, contextOk: boolean): string {
  return (
    `{"event_id":${str(f.event_id)},"type":${str(f.type)},"event":${opt(f.event)},"user_id":${opt(f.user_id)},` +
    `"anonymous_id":${opt(f.anonymous_id)},"timestamp":"${iso(f.timestamp)}","received_at":"${iso(f.received_at)}",` +
    `"source":${str(f.source)},"category":${opt(f.category)},"group_id":${opt(f.group_id)},` +
    `"properties":${propertiesOk ? f.properties : 'null'},"traits":${traitsOk ? f.traits : 'null'},` +
    `"context":${contextOk ? f.context : 'null'},"name":${opt(f.name)},"previous_id":${opt(f.previous_id)}}`
  );
}

/** Rows of sql.ts EVENT_COLUMNS, each with its reply JSON rendered once. */
export function parseEventRows(result: Buffer): EventRow[] {
  const rd = new RowBinaryReader(result);
  const rows: EventRow[] = [];
  while (!rd.done) {
    const f: StoredRow = {
      event_id: rd.string(),
      type: rd.string(),
      event: rd.string(),
      user_id: rd.string(),
      anonymous_id: rd.string(),
      timestamp: rd.int64(),
      received_at: rd.int64(),
      source: rd.string(),
      category: rd.string(),
      group_id: rd.string(),
      properties: rd.string(),
      traits: rd.string(),
      context: rd.string(),
      name: rd.string(),
      previous_id: rd.string(),
    };
    const json = eventJson(f, rd.uint8() === 1, rd.uint8() === 1, rd.uint8() === 1);
    rows.push({ ts: f.timestamp, id: f.event_id, type: f.type, event: f.event, json: Buffer.from(json) });
  }
  return rows;
}

/**
 * A row the sink just inserted, rendered exactly as ClickHouse would return it, for the cache to
 * take in; null when that cannot be told for sure here (see ./jsontext.ts): then the cache
 * drops the user and reads them again.
 */
export function eventRowOf(f: StoredRow): EventRow | null {
  const p = isValidJsonText(f.properties);
  const t = isValidJsonText(f.traits);
  const c = isValidJsonText(f.context);
  if (p === null || t === null || c === null) return null;
  return { ts: f.timestamp, id: f.event_id, type: f.type, event: f.event, json: Buffer.from(eventJson(f, p, t, c)) };
}

const EVENTS_OPEN = Buffer.from('{"events":[');
const COMMA = Buffer.from(',');

/**
 * The parts of the reply for the first limit + 1 rows matching a request, newest first (from
 * ClickHouse or from a window: same rows, same bytes). Exact duplicates (same timestamp and
 * event_id, one event written twice) are adjacent in this order and collapse to one. A row beyond
 * `limit` only says that more follow; next_cursor points after the last row served, so the next
 * page starts right behind it.
 */
function pageParts(rows: readonly EventRow[], r: EventsRequest): { parts: Buffer[]; length: number } {
  const parts: Buffer[] = [EVENTS_OPEN];
  let length = EVENTS_OPEN.length;
  let kept = 0;
  let last: EventRow | null = null;
  for (const row of rows) {
    if (kept === r.limit) break;
    if (last !== null && row.ts === last.ts && row.id === last.id) continue;
    if (kept > 0) {
      parts.push(COMMA);
      length++;
    }
    parts.push(row.json);
    length += row.json.length;
    kept++;
    last = row;
  }
  const tail =
    rows.length > r.limit && last !== null ? Buffer.from(`],"next_cursor":"${encodeCursor({ ts: last.ts, id: last.id }, scopeFingerprint(r))}"}`) : NULL_TAIL;
  parts.push(tail);
  return { parts, length: length + tail.length };
}

const NULL_TAIL = Buffer.from('],"next_cursor":null}');

/** The reply as a Buffer of its own (to keep, or to send after an await). */
export function renderPage(rows: readonly EventRow[], r: EventsRequest): Buffer {
  const { parts, length } = pageParts(rows, r);
  return Buffer.concat(parts, length);
}

/**
 * Writes the reply into a reused buffer, for replies sent at once. uWS copies what it sends before
 * end() returns, so the scratch buffer can serve the next request: a cache hit then allocates no
 * reply-sized buffer (at tens of thousands of replies per second those cost GC pauses in the tail).
 */
export class PageWriter {
  private scratch = Buffer.allocUnsafeSlow(1 << 20);

  write(rows: readonly EventRow[], r: EventsRequest): Buffer {
    const { parts, length } = pageParts(rows, r);
    if (length > this.scratch.length) this.scratch = Buffer.allocUnsafeSlow(Math.max(length, this.scratch.length * 2));
    let off = 0;
    for (const p of parts) off += p.copy(this.scratch, off);
    return this.scratch.subarray(0, off);
  }
}

const DAY_MS = 86_400_000;

/** Rows of sql.ts rollupsSql: day, key column(s), events, users. */
export function renderRollups(result: Buffer, r: RollupsRequest): Buffer {
  const rd = new RowBinaryReader(result);
  const out: string[] = [];
  while (!rd.done) {
    const day = new Date(rd.uint16() * DAY_MS).toISOString().slice(0, 10);
    let head: string;
    if (r.by === 'event') {
      const type = rd.string();
      const event = rd.string();
      // Non-track rows have no event name: their key is their type ("page", "identify", ...).
      head = `"type":${str(type)},"key":${str(event === '' ? type : event)}`;
    } else {
      head = `"key":${str(rd.string())}`;
    }
    const events = rd.uint64();
    const users = rd.uint64();
    out.push(`{"day":"${day}",${head},"events":${events},"users":${users}}`);
  }
  return Buffer.from(`{"rows":[${out.join(',')}]}`);
}

const EMPTY_ROLLUPS = Buffer.from('{"rows":[]}');

export function createQueryStore(runner: SqlRunner, timeoutMs: number): QueryStore {
  return {
    async userEvents(r) {
      return renderPage(parseEventRows(await runner.run(userEventsSql(r, timeoutMs), 'events')), r);
    },
    async userWindow(userKey, size) {
      const all = { userKey, from: null, to: null, type: null, event: null, limit: size, cursor: null };
      const rows = parseEventRows(await runner.run(userEventsSql(all, timeoutMs), 'window'));
      return { rows, complete: rows.length <= size };
    },
    async dailyRollups(r) {
      if (r.empty) return EMPTY_ROLLUPS;
      return renderRollups(await runner.run(rollupsSql(r, timeoutMs), 'rollups'), r);
    },
    async ready() {
      const result = await runner.run({ query: READY_SQL, params: {} }, 'ready');
      // count() is a UInt64: 8 bytes little-endian.
      if (result.length !== 8 || result.readBigUInt64LE(0) !== 1n) {
        throw new DependencyError('CLICKHOUSE_NOT_MIGRATED', 'table events is missing: run `trackhouse migrate`');
      }
    },
  };
}
