// Reads for the query API: runs the SQL of ./sql.ts and turns the RowBinary results into the
// reply bodies. Handlers see QueryStore; only createClickHouseRunner touches @clickhouse/client.
//
// A reply body is built once as bytes, so it can be cached and written as it is.
import type { ClickHouseClient } from '@clickhouse/client';
import { DependencyError, statementFailed } from '../common/errors.js';
import type { StoredRow } from '../schema/index.js';
import { eventJson } from '../view/render.js';
import { encodeCursor, scopeFingerprint } from './cursor.js';
import type { EventsRequest, RollupsRequest } from './params.js';
import { RowBinaryReader } from './rowbinary.js';
import { READY_SQL, rollupsSql, userEventsSql, type Sql } from './sql.js';

export type QueryKind = 'events' | 'rollups' | 'ready';

/** Runs one statement (FORMAT RowBinary) and returns its whole result. */
export interface SqlRunner {
  run(sql: Sql, kind: QueryKind): Promise<Buffer>;
}

/**
 * Rows of a page, newest first: their reply JSON and timestamps, and their event ids where known
 * (ClickHouse's rows; the view's are read from their JSON when a cursor needs one).
 */
export interface PageRows {
  json: Buffer[];
  ts: number[];
  ids: (string | null)[];
}

export interface QueryStore {
  /** The JSON body `{"events":[...],"next_cursor":...}` of one page. */
  userEvents(r: EventsRequest): Promise<Buffer>;
  /**
   * A page that begins with `head` (the view's rows, all newer than `before`) and goes on with
   * ClickHouse's rows older than `before` (the view's horizon).
   */
  userEventsBelow(r: EventsRequest, head: PageRows, before: number): Promise<Buffer>;
  /** The JSON body `{"rows":[...]}`. */
  dailyRollups(r: RollupsRequest): Promise<Buffer>;
  /** Resolves when ClickHouse answers and the tables exist. */
  ready(): Promise<void>;
}

/**
 * `timeoutMs` (QUERY_TIMEOUT_MS) bounds each statement from the moment it is sent, its wait for
 * the engine included: on chDB, which runs one statement at a time, a statement still waiting
 * behind another (a BI tool's, up to its own 30 s) when it passes is dropped, and the request
 * gets a 503 then rather than an answer much later.
 */
export function createClickHouseRunner(client: ClickHouseClient, timeoutMs: number): SqlRunner {
  return {
    async run(sql, kind) {
      const deadline = AbortSignal.timeout(timeoutMs);
      try {
        const result = await client.exec({ query: sql.query, query_params: sql.params, abort_signal: deadline });
        const chunks: Buffer[] = [];
        for await (const chunk of result.stream) chunks.push(chunk as Buffer);
        return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      } catch (err) {
        throw statementFailed(err, `the ${kind} query`, deadline, timeoutMs);
      }
    },
  };
}

const str = JSON.stringify;

/** Rows of sql.ts EVENT_COLUMNS, appended to `out`, each with its reply JSON rendered once. */
export function parseEventRows(result: Buffer, out: PageRows = { json: [], ts: [], ids: [] }): PageRows {
  const rd = new RowBinaryReader(result);
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
    out.json.push(Buffer.from(json));
    out.ts.push(f.timestamp);
    out.ids.push(f.event_id);
  }
  return out;
}

const ID_START = Buffer.byteLength('{"event_id":');
const AFTER_ID = Buffer.from(',"type":');

/**
 * The event_id of a rendered event: every reply object starts with it. Inside a JSON string a quote
 * is escaped, so the first `,"type":` after it ends the id.
 */
export function eventIdOf(json: Buffer): string {
  return JSON.parse(json.toString('utf8', ID_START, json.indexOf(AFTER_ID, ID_START))) as string;
}

const EVENTS_OPEN = Buffer.from('{"events":[');
const COMMA = Buffer.from(',');
/** The end of a reply with no next page. */
export const NULL_TAIL = Buffer.from('],"next_cursor":null}');

/** The end of a reply whose last row served is (ts, id): the cursor of the next page. */
export function cursorTail(r: EventsRequest, ts: number, id: string): Buffer {
  return Buffer.from(cursorTailText(r, ts, id), 'latin1');
}

/** cursorTail() as text: ASCII (the cursor is base64url), to write into a reply buffer as latin1. */
export function cursorTailText(r: EventsRequest, ts: number, id: string): string {
  return `],"next_cursor":"${encodeCursor({ ts, id }, scopeFingerprint(r))}"}`;
}

/**
 * The parts of the reply for the first limit + 1 rows matching a request, newest first (from the
 * view, from ClickHouse, or both across the view's horizon: same rows, same bytes). Exact
 * duplicates (same timestamp and event_id, one event written twice; only ClickHouse can hold
 * them) are adjacent in this order and collapse to one. A row beyond `limit` only says that more
 * follow; next_cursor points after the last row served, so the next page starts right behind it.
 */
function pageParts(rows: PageRows, r: EventsRequest): { parts: Buffer[]; length: number } {
  const parts: Buffer[] = [EVENTS_OPEN];
  let length = EVENTS_OPEN.length;
  let kept = 0;
  let last = -1;
  const n = rows.json.length;
  for (let i = 0; i < n; i++) {
    if (kept === r.limit) break;
    const id = rows.ids[i];
    if (last >= 0 && id !== null && rows.ids[last] === id && rows.ts[last] === rows.ts[i]) continue;
    if (kept > 0) {
      parts.push(COMMA);
      length++;
    }
    const json = rows.json[i]!;
    parts.push(json);
    length += json.length;
    kept++;
    last = i;
  }
  let tail: Buffer = NULL_TAIL;
  if (n > r.limit && last >= 0) tail = cursorTail(r, rows.ts[last]!, rows.ids[last] ?? eventIdOf(rows.json[last]!));
  parts.push(tail);
  return { parts, length: length + tail.length };
}

/** The reply as a Buffer of its own (to send after an await). */
export function renderPage(rows: PageRows, r: EventsRequest): Buffer {
  const { parts, length } = pageParts(rows, r);
  return Buffer.concat(parts, length);
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
    async userEventsBelow(r, head, before) {
      const want = r.limit + 1 - head.json.length;
      const below: EventsRequest = {
        ...r,
        to: r.to === null ? before : Math.min(r.to, before),
        // A cursor at or above `before` is behind every row below it.
        cursor: r.cursor !== null && r.cursor.ts < before ? r.cursor : null,
        limit: want - 1,
      };
      if (want > 0 && (below.from === null || below.from < below.to!)) {
        parseEventRows(await runner.run(userEventsSql(below, timeoutMs), 'events'), head);
      }
      return renderPage(head, r);
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
