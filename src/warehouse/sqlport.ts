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
// - Only what ./readonly.ts lets through runs, under its limits. chDB runs one statement at a
//   time, for this port, the sink and the query API alike, so at most MAX_IN_FLIGHT wait here;
//   more are told 503 (TOO_MANY_SIMULTANEOUS_QUERIES) with Retry-After. Meanwhile the sink's
//   inserts wait their turn: nothing is lost, Kafka holds the events (chaos case bi-heavy).
// - Answers and errors as ClickHouse's server sends them (./http-interface.ts); with `compress=1`
//   (ClickHouse's JDBC driver asks for it) in its compressed blocks (./compressed.ts).
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { ClickHouseClient, DataFormat } from '@clickhouse/client';
import { basicCredentials, forMethod, readText, writeReply, type Headers } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { Counter, Histogram, type Registry } from '../common/metrics.js';
import { serve } from '../common/serve.js';
import type { TlsFiles } from '../common/tls.js';
import { nativeCompressed } from './compressed.js';
import { nativeForRevision } from './native.js';
import { contentTypeOf, engineError, errorBody, paramsAndSettings, statusOf, type EngineError } from './http-interface.js';
import { DEFAULT_READ_ONLY_LIMITS, readOnlyStatement, resultText, type ReadOnlyLimits } from './readonly.js';

export interface SqlPortOptions {
  client: ClickHouseClient;
  host: string;
  port: number;
  /** The setting `port` came from (BI_PORT), for errors. */
  portVariable: string;
  readKeys: ReadonlySet<string>;
  log: Logger;
  limits?: ReadOnlyLimits;
  /** TLS_CERT_FILE / TLS_KEY_FILE: the port speaks HTTPS with them (the read key travels in each request). */
  tls?: TlsFiles | null;
  /** Where its statements are counted and timed (the query API's /metrics in the all-in-one). */
  registry?: Registry;
}

export interface SqlPort {
  readonly port: number;
  /** True when it speaks HTTPS. */
  readonly secure: boolean;
  /** Loads the certificate files again (SIGHUP); open connections keep theirs. */
  reloadTls(): Promise<void>;
  /** Stops taking connections and closes the open ones. */
  close(): void;
}

/**
 * Statements waiting for or holding the engine at once; the rest are told to come back. A
 * dashboard sends its cards' statements together, each usually milliseconds on the rollups; the
 * bound keeps a pile of slow ones from holding the sink's inserts for longer than 8 time limits.
 */
const MAX_IN_FLIGHT = 8;
/** ClickHouse's own bound on a statement's text (max_query_size) is 256 KiB; a body may carry a little more. */
const MAX_BODY_BYTES = 1024 * 1024;
const OK = 'Ok.\n';
const TEXT = 'text/plain; charset=UTF-8';

/** Refused by this port: READONLY, or over a limit (TIMEOUT_EXCEEDED, TOO_MANY_ROWS_OR_BYTES, MEMORY_LIMIT_EXCEEDED). */
const REFUSED_CODES: ReadonlySet<number> = new Set([164, 159, 396, 241]);

interface Request {
  sql: string;
  /** client_protocol_version, 0 when not sent. */
  protocol: number;
  /** compress=1: the answer in ClickHouse's compressed blocks (./compressed.ts), as ClickHouse's JDBC driver asks. */
  compress: boolean;
  params: Record<string, string>;
  settings: Record<string, string>;
  defaultFormat: string;
  queryId: string;
}

export async function serveSqlPort(opts: SqlPortOptions): Promise<SqlPort> {
  const limits = opts.limits ?? DEFAULT_READ_ONLY_LIMITS;
  const version = (await resultText(opts.client, 'SELECT version()', {}, 'RawBLOB')).trim();
  let inFlight = 0;
  const registers = opts.registry ? [opts.registry] : [];
  // Time on the engine is time the sink's inserts wait: what to look at when the rollups lag.
  const statements = new Counter({
    name: 'trackhouse_sql_statements_total',
    help: 'Statements sent to the read-only SQL port, by outcome: ok, refused (not read-only, or over a limit), failed (the engine said no), busy (503), unauthorized',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of ['ok', 'refused', 'failed', 'busy', 'unauthorized']) statements.inc({ outcome }, 0);
  const engineSeconds = new Histogram({
    name: 'trackhouse_sql_statement_seconds',
    help: 'Time from a statement being taken to its answer, waiting for the engine included (the sink waits while one runs)',
    buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 30, 60],
    registers,
  });

  /** An error answer; with `compress`, framed like a result, except 401 and 403, which a server sends before it compresses. */
  const fail = (res: HttpResponse, e: EngineError, queryId: string, compress = false, extra: Headers = []) => {
    const status = statusOf(e.code);
    const body = errorBody(e, version);
    writeReply(res, status, TEXT, compress && status !== 401 && status !== 403 ? nativeCompressed(Buffer.from(body)) : body, [
      ['X-ClickHouse-Exception-Code', String(e.code)],
      ['X-ClickHouse-Query-Id', queryId],
      ...extra,
    ]);
  };

  const run = async (res: HttpResponse, state: { aborted: boolean }, r: Request) => {
    const stopTimer = engineSeconds.startTimer();
    try {
      const ran = await readOnlyStatement(opts.client, r.sql, r.params, r.settings, limits);
      const format = ran.format ?? r.defaultFormat;
      const result = await opts.client.exec({ query: ran.statement, query_params: r.params, query_id: r.queryId, clickhouse_settings: { default_format: r.defaultFormat as DataFormat } });
      const chunks: Buffer[] = [];
      for await (const chunk of result.stream) chunks.push(chunk as Buffer);
      if (state.aborted) return;
      // chDB writes Native as revision 0 reads it; clickhouse-go (Grafana's plugin) sends 54460.
      const engineBody = Buffer.concat(chunks);
      const body = r.protocol > 0 && format.toLowerCase() === 'native' ? nativeForRevision(engineBody, r.protocol) : engineBody;
      res.cork(() =>
        writeReply(res, 200, contentTypeOf(format), r.compress ? nativeCompressed(body) : body, [
          ['X-ClickHouse-Format', format],
          ['X-ClickHouse-Query-Id', r.queryId],
          ['X-ClickHouse-Timezone', 'UTC'],
          ['X-ClickHouse-Server-Display-Name', 'trackhouse'],
          ['X-ClickHouse-Summary', JSON.stringify(result.summary ?? {})],
        ]),
      );
      statements.inc({ outcome: 'ok' });
    } catch (err) {
      const e = engineError(err);
      statements.inc({ outcome: REFUSED_CODES.has(e.code) ? 'refused' : 'failed' });
      opts.log.debug({ code: e.code, type: e.type, queryId: r.queryId }, 'SQL port: statement not run');
      if (!state.aborted) res.cork(() => fail(res, e, r.queryId, r.compress));
    } finally {
      stopTimer();
    }
  };

  const handle = (res: HttpResponse, req: HttpRequest) => {
    const method = req.getMethod();
    const url = req.getUrl();
    const search = new URLSearchParams(req.getQuery() ?? '');
    const queryId = search.get('query_id') ?? randomUUID();
    const compress = search.get('compress') === '1' || search.get('compress') === 'true';
    if (url === '/ping' || url === '/replicas_status' || (url === '/' && (method === 'get' || method === 'head') && !search.has('query'))) {
      // HEAD too, without the body (a load balancer's health check).
      writeReply(forMethod(res, req), 200, TEXT, OK);
      return;
    }
    if (url !== '/' || (method !== 'get' && method !== 'post')) {
      fail(forMethod(res, req), { code: 48, type: 'NOT_IMPLEMENTED', message: `there is no handler for ${method.toUpperCase()} ${url.slice(0, 200)}: statements go to GET or POST /` }, queryId, compress, [['Allow', 'GET, POST']]);
      return;
    }
    const basic = basicCredentials(req.getHeader('authorization'));
    // A tool with only a user name field may carry the key there, as Segment's SDKs do theirs.
    const key = req.getHeader('x-clickhouse-key') || basic?.password || search.get('password') || (basic !== null && opts.readKeys.has(basic.user) ? basic.user : '');
    if (key === '') {
      statements.inc({ outcome: 'unauthorized' });
      fail(res, { code: 194, type: 'REQUIRED_PASSWORD', message: 'a password is required: a read key of this trackhouse (TRACKHOUSE_READ_KEYS), with any user name' }, queryId, compress, [
        ['WWW-Authenticate', 'Basic realm="trackhouse", charset="UTF-8"'],
      ]);
      return;
    }
    if (!opts.readKeys.has(key)) {
      statements.inc({ outcome: 'unauthorized' });
      fail(res, { code: 516, type: 'AUTHENTICATION_FAILED', message: 'the password is not a read key of this trackhouse (TRACKHOUSE_READ_KEYS)' }, queryId, compress);
      return;
    }
    const encoding = req.getHeader('content-encoding').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      fail(res, { code: 48, type: 'NOT_IMPLEMENTED', message: `request bodies with Content-Encoding ${encoding.slice(0, 50)} are not served here; send the statement uncompressed` }, queryId, compress);
      return;
    }
    // chDB keeps every table in `default`; another database would be an answer from the wrong tables.
    const database = search.get('database') || req.getHeader('x-clickhouse-database') || 'default';
    if (database !== 'default') {
      fail(res, { code: 81, type: 'UNKNOWN_DATABASE', message: `Database ${database.slice(0, 100)} does not exist here: trackhouse's tables are in default` }, queryId, compress);
      return;
    }
    const { params, settings } = paramsAndSettings(search);
    const inUrl = search.get('query') ?? '';
    // X-ClickHouse-Format is the header form of default_format (ClickHouse's Java client sends it).
    const defaultFormat = search.get('default_format') || req.getHeader('x-clickhouse-format') || 'TabSeparated';
    const request = (body: string): Request => ({
      sql: inUrl !== '' && body !== '' ? `${inUrl}\n${body}` : inUrl + body,
      protocol: Number(search.get('client_protocol_version')) || 0,
      compress,
      params,
      settings,
      defaultFormat,
      queryId,
    });
    if (inFlight >= MAX_IN_FLIGHT) {
      statements.inc({ outcome: 'busy' });
      fail(res, { code: 202, type: 'TOO_MANY_SIMULTANEOUS_QUERIES', message: `${MAX_IN_FLIGHT} statements are already running or waiting here (chDB runs one at a time)` }, queryId, compress, [['Retry-After', '1']]);
      return;
    }
    // One place in the count per request, given back once: when it is answered, or when its
    // client leaves before the body is whole (its statement then never runs).
    inFlight++;
    let counted = true;
    const release = () => {
      if (counted) inFlight--;
      counted = false;
    };
    const state = { aborted: false };
    let running = false;
    res.onAborted(() => {
      state.aborted = true;
      if (!running) release();
    });
    const start = (body: string) => {
      const r = request(body);
      if (r.sql.trim() === '') {
        release();
        if (!state.aborted) res.cork(() => fail(res, { code: 62, type: 'SYNTAX_ERROR', message: 'Empty query' }, queryId, compress));
        return;
      }
      running = true;
      void run(res, state, r).finally(release);
    };
    if (method === 'get') start('');
    else
      readText(res, MAX_BODY_BYTES, start, () => {
        release();
        if (!state.aborted) fail(res, { code: 393, type: 'QUERY_IS_TOO_LARGE', message: `the statement is over ${MAX_BODY_BYTES} bytes` }, queryId, compress);
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

