// Pieces of ClickHouse's HTTP interface (https://clickhouse.com/docs/interfaces/http) that a
// server in front of chDB answers with, so ClickHouse's own clients read its answers as a
// server's: parameters, error bodies and their statuses, content types.

/** ClickHouse's escape sequences in its quoted and escaped text forms, by the letter after the backslash. */
export const UNESCAPES: Readonly<Record<string, string>> = { t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f', "'": "'", '\\': '\\' };

/** A `param_<name>` URL parameter's value, sent in ClickHouse's escaped text form, back to the value. */
export function unescapeParam(text: string): string {
  return text.replace(/\\(.)/gs, (m, c: string) => UNESCAPES[c] ?? m);
}

/** URL parameters of the interface itself, not settings; `http_*` ones neither (chDB refuses those as unknown settings). */
const INTERFACE_PARAMETERS: ReadonlySet<string> = new Set([
  'query',
  'query_id',
  'database',
  'default_format',
  'user',
  'password',
  'quota_key',
  'session_id',
  'session_timeout',
  'session_check',
  'role',
  'compress',
  'decompress',
  'buffer_size',
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'enable_http_compression',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
  'client_protocol_version',
]);

/** A request's `{name:Type}` parameters (`param_<name>`, unescaped) and its settings (the other URL parameters but the interface's own). */
export function paramsAndSettings(search: URLSearchParams): { params: Record<string, string>; settings: Record<string, string> } {
  const params: Record<string, string> = {};
  const settings: Record<string, string> = {};
  for (const [k, v] of search) {
    if (k.startsWith('param_')) params[k.slice(6)] = unescapeParam(v);
    else if (!INTERFACE_PARAMETERS.has(k) && !k.startsWith('http_')) settings[k] = v;
  }
  return { params, settings };
}

/** A ClickHouse exception: its number, its name, its message. */
export interface EngineError {
  code: number;
  type: string;
  message: string;
}

/** An exception this process raises in ClickHouse's terms: its code and name go to the client as a server's would. */
export class ClickHouseException extends Error implements EngineError {
  constructor(
    readonly code: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

interface ErrorLike {
  code?: string | number;
  type?: string;
  message?: string;
  cause?: unknown;
}

/** What the engine (through @clickhouse/client's ClickHouseError) or this process threw, as ClickHouse names it; `stated`: it carries a ClickHouse code (not a client-side failure, such as an aborted request). */
export function engineError(err: unknown): EngineError & { stated: boolean } {
  const e = (err ?? {}) as ErrorLike;
  const text = (e.cause as ErrorLike | undefined)?.message ?? e.message ?? String(err);
  const stated = /^Code: (\d+)\. DB::Exception: ([\s\S]*?)(?: \(([A-Z_0-9]+)\))?\s*$/.exec(text);
  if (stated) return { code: Number(stated[1]), type: stated[3] ?? e.type ?? 'UNKNOWN_EXCEPTION', message: stated[2]!.trim(), stated: true };
  const coded = typeof e.code === 'number' || (typeof e.code === 'string' && /^\d+$/.test(e.code));
  return { code: coded ? Number(e.code) : 1001, type: e.type ?? 'STD_EXCEPTION', message: text.trim(), stated: coded };
}

/** The body ClickHouse sends with an error, which its clients parse for the code. */
export function errorBody(e: EngineError, version: string): string {
  return `Code: ${e.code}. DB::Exception: ${displayText(e)} (version ${version})\n`;
}

/** An exception's text as a server shows it: the message, then its name (`... not Drop. (READONLY)`). */
export function displayText(e: Pick<EngineError, 'type' | 'message'>): string {
  return `${e.message.replace(/[.\s]+$/, '')}. (${e.type})`;
}

// CANNOT_PARSE_TEXT, _QUOTED_STRING, _INPUT_ASSERTION_FAILED, BAD_ARGUMENTS, CANNOT_PARSE_DATE,
// _DATETIME, NUMBER_OF_ARGUMENTS_DOESNT_MATCH, ILLEGAL_TYPE_OF_ARGUMENT, ILLEGAL_COLUMN, TYPE_MISMATCH,
// SYNTAX_ERROR, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE, CANNOT_PARSE_NUMBER, NOT_AN_AGGREGATE,
// UNKNOWN_QUERY_PARAMETER, BAD_QUERY_PARAMETER, TOO_MANY_ROWS_OR_BYTES (a result past its limit)
const BAD_REQUEST: ReadonlySet<number> = new Set([6, 26, 27, 36, 38, 41, 42, 43, 44, 53, 62, 69, 70, 72, 215, 456, 457, 396]);
// UNKNOWN_FUNCTION, _IDENTIFIER, _TYPE, _STORAGE, _TABLE, _AGGREGATE_FUNCTION, _FORMAT, _DATABASE, _SETTING
const NOT_FOUND: ReadonlySet<number> = new Set([46, 47, 50, 56, 60, 63, 73, 81, 115]);

/**
 * The HTTP status of an exception, as ClickHouse's server picks it (exceptionCodeToHTTPStatus),
 * except that what is about the request rather than the server is a 4xx here: a statement
 * refused as read-only (READONLY) is 403, a few analysis errors it leaves at 500 are 400.
 */
export function statusOf(code: number): number {
  if (code === 194) return 401; // REQUIRED_PASSWORD
  if (code === 192 || code === 193 || code === 497 || code === 516 || code === 164) return 403; // UNKNOWN_USER, WRONG_PASSWORD, ACCESS_DENIED, AUTHENTICATION_FAILED, READONLY
  if (code === 159) return 408; // TIMEOUT_EXCEEDED
  if (code === 202) return 503; // TOO_MANY_SIMULTANEOUS_QUERIES
  if (code === 48) return 501; // NOT_IMPLEMENTED
  if (code === 393) return 413; // QUERY_IS_TOO_LARGE
  if (BAD_REQUEST.has(code)) return 400;
  if (NOT_FOUND.has(code)) return 404;
  return 500;
}

/** The Content-Type ClickHouse sends with a result in `format`. */
export function contentTypeOf(format: string): string {
  const f = format.toLowerCase();
  if (f.startsWith('json') || f === 'ndjson' || f === 'jsonl') return 'application/json; charset=UTF-8';
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('csv')) return 'text/csv; charset=UTF-8; header=absent';
  if (/^(native|rowbinary|parquet|arrow|orc|avro|msgpack|protobuf|capnproto|bson|npy|rawblob)/.test(f)) return 'application/octet-stream';
  return 'text/plain; charset=UTF-8';
}
