// The all-in-one's read-only SQL port for BI tools: ClickHouse's HTTP interface over the chDB
// engine of `trackhouse start`, so DBeaver, Metabase, Superset, clickhouse-connect or curl read the
// events and the rollups as they would from a ClickHouse server. With a ClickHouse server
// (CLICKHOUSE_URL) BI tools connect to it instead, and this port is not opened.
//
// - GET or POST, the statement in `query=` or the body (both: joined by a newline), `param_<name>`
//   for `{name:Type}` parameters, other URL parameters as settings of this query, `default_format`
//   or the X-ClickHouse-Format header (TabSeparated when neither it nor a FORMAT clause says),
//   `query_id`, `database` (only `default`: chDB keeps every table there); `/ping` and `GET /`
//   answer `Ok.`.
// - The password is a read key (TRACKHOUSE_READ_KEYS): X-ClickHouse-Key, HTTP Basic or
//   `password=`; any user name (or the key as the user name, with no password).
// - Only what ./readonly.ts lets through runs, under its limits, and at most MAX_IN_FLIGHT
//   statements wait for the engine (./sqlengine.ts, shared with the native protocol's port); more
//   are told 503 (TOO_MANY_SIMULTANEOUS_QUERIES) with Retry-After.
// - CORS as ClickHouse gives it: with `add_http_cors_header=1` every answer carries its headers,
//   and a browser's preflight (OPTIONS) is answered, so a web SQL tool of another origin can read
//   the port with its key (the key, not the origin, is what is checked).
// - Answers and errors as ClickHouse's server sends them (./http-interface.ts); with `compress=1`
//   (ClickHouse's JDBC driver asks for it) in its compressed blocks (./compressed.ts); Native in
//   the layout of the client_protocol_version sent (./native.ts: clickhouse-go sends one).
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { createCors } from '../common/cors.js';
import { basicCredentials, forMethod, readText, writeReply, type Headers } from '../common/http.js';
import { serve } from '../common/serve.js';
import { nativeCompressed } from './compressed.js';
import { nativeForRevision } from './native.js';
import { contentTypeOf, engineError, errorBody, paramsAndSettings, statusOf, type EngineError } from './http-interface.js';
import { BUSY, type BiPort, type BiPortOptions, type SqlStatement } from './sqlengine.js';

export type SqlPortOptions = BiPortOptions;
export type SqlPort = BiPort;

/** ClickHouse's own bound on a statement's text (max_query_size) is 256 KiB; a body may carry a little more. */
const MAX_BODY_BYTES = 1024 * 1024;
const OK = 'Ok.\n';
const TEXT = 'text/plain; charset=UTF-8';

/** What every answer to a request carries: its query id, its framing, its CORS headers. */
interface Reply {
  queryId: string;
  /** compress=1: the answer in ClickHouse's compressed blocks (./compressed.ts), as ClickHouse's JDBC driver asks. */
  compress: boolean;
  /** add_http_cors_header=1: CORS, so a page of any origin reads the answer (the key is its own). */
  cors: Headers;
}

/**
 * CORS for any origin (the read key, not the origin, decides), exposing what a page needs to read
 * an answer's format, summary and exception code: the query port's mechanism (../common/cors.ts).
 */
const CORS = createCors('*', ['X-ClickHouse-Format', 'X-ClickHouse-Query-Id', 'X-ClickHouse-Summary', 'X-ClickHouse-Exception-Code', 'X-ClickHouse-Timezone']);
/** What a preflight may ask for, in ClickHouse's order. */
const METHODS = 'POST, GET, OPTIONS';
/** A control character: what must not reach a header value. */
const CONTROL = /[\x00-\x1f\x7f]/;

interface Request extends Reply, SqlStatement {
  /** client_protocol_version, 0 when not sent. */
  protocol: number;
  /** Aborted when the client leaves: nothing is written to its response then. */
  signal: AbortSignal;
}

export async function serveSqlPort(opts: SqlPortOptions): Promise<SqlPort> {
  const { engine } = opts;
  const version = engine.version;

  /** An error answer; with `compress`, framed like a result, except 401 and 403, which a server sends before it compresses. */
  const fail = (res: HttpResponse, e: EngineError, r: Reply, extra: Headers = []) => {
    const status = statusOf(e.code);
    const body = errorBody(e, version);
    writeReply(res, status, TEXT, r.compress && status !== 401 && status !== 403 ? nativeCompressed(Buffer.from(body)) : body, [
      ['X-ClickHouse-Exception-Code', String(e.code)],
      ['X-ClickHouse-Query-Id', r.queryId],
      ...r.cors,
      ...extra,
    ]);
  };

  const run = async (res: HttpResponse, r: Request) => {
    try {
      const result = await engine.run(r);
      if (r.signal.aborted) return;
      const format = result.format;
      // chDB writes Native as revision 0 reads it; clickhouse-go (Grafana's plugin) sends 54460.
      const body = r.protocol > 0 && format.toLowerCase() === 'native' ? nativeForRevision(result.body, r.protocol) : result.body;
      res.cork(() =>
        writeReply(res, 200, contentTypeOf(format), r.compress ? nativeCompressed(body) : body, [
          ['X-ClickHouse-Format', format],
          ['X-ClickHouse-Query-Id', r.queryId],
          ['X-ClickHouse-Timezone', 'UTC'],
          ['X-ClickHouse-Server-Display-Name', 'trackhouse'],
          ['X-ClickHouse-Summary', JSON.stringify(result.summary)],
          ...r.cors,
        ]),
      );
    } catch (err) {
      const e = engineError(err);
      opts.log.debug({ code: e.code, type: e.type, queryId: r.queryId }, 'SQL port: statement not run');
      if (!r.signal.aborted) res.cork(() => fail(res, e, r));
    }
  };

  const handle = (res: HttpResponse, req: HttpRequest) => {
    const method = req.getMethod();
    const url = req.getUrl();
    const search = new URLSearchParams(req.getQuery() ?? '');
    const askedId = search.get('query_id');
    // The id is echoed in X-ClickHouse-Query-Id, before the key is checked: a control character
    // (a percent-encoded CR LF) would end the header there and write the caller's own headers and body.
    const badId = askedId !== null && CONTROL.test(askedId);
    const queryId = askedId === null || badId ? randomUUID() : askedId;
    const on = (name: string) => search.get(name) === '1' || search.get(name) === 'true';
    const compress = on('compress');
    const reply: Reply = { queryId, compress, cors: on('add_http_cors_header') ? CORS.of(req) : [] };
    if (badId) {
      fail(forMethod(res, req), { code: 36, type: 'BAD_ARGUMENTS', message: 'query_id holds a control character (a line break?); send printable characters only' }, reply);
      return;
    }
    if (url === '/ping' || url === '/replicas_status' || (url === '/' && (method === 'get' || method === 'head') && !search.has('query'))) {
      // HEAD too, without the body (a load balancer's health check).
      writeReply(forMethod(res, req), 200, TEXT, OK, reply.cors);
      return;
    }
    if (method === 'options') {
      // A browser's preflight, before a request with the key in a header: what ClickHouse answers
      // when http_options_response holds CORS headers.
      CORS.preflight(res, req, METHODS);
      return;
    }
    if (url !== '/' || (method !== 'get' && method !== 'post')) {
      fail(forMethod(res, req), { code: 48, type: 'NOT_IMPLEMENTED', message: `there is no handler for ${method.toUpperCase()} ${url.slice(0, 200)}: statements go to GET or POST /` }, reply, [['Allow', METHODS]]);
      return;
    }
    const basic = basicCredentials(req.getHeader('authorization'));
    // A tool with only a user name field may carry the key there, as Segment's SDKs do theirs.
    const key = req.getHeader('x-clickhouse-key') || basic?.password || search.get('password') || (basic !== null && opts.readKeys.has(basic.user) ? basic.user : '');
    if (key === '') {
      engine.unauthorized();
      fail(res, { code: 194, type: 'REQUIRED_PASSWORD', message: 'a password is required: a read key of this trackhouse (TRACKHOUSE_READ_KEYS), with any user name' }, reply, [
        ['WWW-Authenticate', 'Basic realm="trackhouse", charset="UTF-8"'],
      ]);
      return;
    }
    if (!opts.readKeys.has(key)) {
      engine.unauthorized();
      fail(res, { code: 516, type: 'AUTHENTICATION_FAILED', message: 'the password is not a read key of this trackhouse (TRACKHOUSE_READ_KEYS)' }, reply);
      return;
    }
    const encoding = req.getHeader('content-encoding').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      fail(res, { code: 48, type: 'NOT_IMPLEMENTED', message: `request bodies with Content-Encoding ${encoding.slice(0, 50)} are not served here; send the statement uncompressed` }, reply);
      return;
    }
    // chDB keeps every table in `default`; another database would be an answer from the wrong tables.
    const database = search.get('database') || req.getHeader('x-clickhouse-database') || 'default';
    if (database !== 'default') {
      fail(res, { code: 81, type: 'UNKNOWN_DATABASE', message: `Database ${database.slice(0, 100)} does not exist here: trackhouse's tables are in default` }, reply);
      return;
    }
    const { params, settings } = paramsAndSettings(search);
    const inUrl = search.get('query') ?? '';
    // X-ClickHouse-Format is the header form of default_format (ClickHouse's Java client sends it).
    const defaultFormat = search.get('default_format') || req.getHeader('x-clickhouse-format') || 'TabSeparated';
    const request = (body: string, signal: AbortSignal): Request => ({
      ...reply,
      signal,
      sql: inUrl !== '' && body !== '' ? `${inUrl}\n${body}` : inUrl + body,
      protocol: Number(search.get('client_protocol_version')) || 0,
      params,
      settings,
      defaultFormat,
    });
    const release = engine.admit();
    if (release === null) {
      fail(res, BUSY, reply, [['Retry-After', '1']]);
      return;
    }
    // The place is given back once: when the request is answered, or when its client leaves
    // before the body is whole (its statement then never runs). A client that leaves later aborts
    // `gone`: a statement still waiting for the engine is then dropped, not run for no one.
    let running = false;
    const gone = new AbortController();
    res.onAborted(() => {
      gone.abort();
      if (!running) release();
    });
    const start = (body: string) => {
      const r = request(body, gone.signal);
      if (r.sql.trim() === '') {
        release();
        if (!gone.signal.aborted) res.cork(() => fail(res, { code: 62, type: 'SYNTAX_ERROR', message: 'Empty query' }, reply));
        return;
      }
      running = true;
      void run(res, r).finally(release);
    };
    if (method === 'get') start('');
    else
      readText(res, MAX_BODY_BYTES, start, () => {
        release();
        if (!gone.signal.aborted) fail(res, { code: 393, type: 'QUERY_IS_TOO_LARGE', message: `the statement is over ${MAX_BODY_BYTES} bytes` }, reply);
      });
  };

  const served = await serve({
    host: opts.host,
    port: opts.port,
    portVariable: opts.portVariable,
    tls: opts.tls ?? null,
    tlsPort: null,
    tlsPortVariable: opts.portVariable,
    routes: (app) => app.any('/*', handle),
    log: opts.log,
  });
  opts.log.info({ port: served.port, https: served.secure, engine: `chDB ${version}` }, 'read-only SQL port (ClickHouse HTTP interface) listening');
  return { port: served.port, secure: served.secure, reloadTls: () => served.reloadTls(), close: () => served.closeAll() };
}
