// The query API server (uWebSockets.js): routes, bearer auth, the request path and graceful stop.
//
// Request path of GET /v1/users/{userId}/events, synchronous up to the view's answer:
//   auth -> validate every parameter -> user on another shard? forward it there
//   -> view caught up? read the page's rows from the view (LMDB, microseconds)
//      -> all of them there: write the reply and return (no promise, no timer, no copy)
//      -> else (the page reaches beyond the view's horizon): ClickHouse for the rest
//   -> else (view not caught up yet): ClickHouse.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Registry } from 'prom-client';
import { createCors, READ_API_EXPOSED_HEADERS, type Cors } from '../common/cors.js';
import { ConfigError, DependencyError } from '../common/errors.js';
import { heapSizes } from '../common/heap.js';
import { addOpsRoutes, bearerToken, forMethod, getAndHead, noRouteBody, NO_STORE, writeJson, type Headers, type HttpErrorReply, type ReadinessCheck, type ResponseState } from '../common/http.js';
import { apiRouter } from '../common/router.js';
import type { Logger } from '../common/log.js';
import { serve } from '../common/serve.js';
import type { Config } from '../config/index.js';
import { partitionForKey } from '../kafka/partitioner.js';
import type { View } from '../view/view.js';
import type { ViewReader, ViewRows } from '../view/viewstore.js';
import { DrainingError, MisroutedError, ShardUnavailableError, toHttpError, UnauthorizedError } from './errors.js';
import { getFromShard, shardEventsPath } from './forward.js';
import { createGate, type Gate } from './gate.js';
import { createQueryMetrics, type QueryMetrics, type Route } from './metrics.js';
import { parseEventsRequest, parseRollupsRequest, type EventsRequest, type Limits, type RollupsRequest } from './params.js';
import { createClickHouseRunner, createQueryStore, cursorTailText, NULL_TAIL, type PageRows, type SqlRunner } from './querystore.js';

/**
 * The 404 hint for a Segment (or Jitsu) event path: `npm start` prints both ports, and a call
 * meant for the ingest reaching this one said only "no route" (a new user's mix-up).
 */
const SENT_TO_QUERY_PORT = 'this is the query port; events go to the ingest port (INGEST_PORT, 8080 unless set)';
/**
 * The ingest's Segment call paths (/v1/<call>, analytics.js's one-letter forms, /v1/import) and
 * Jitsu's (/api/s/[s2s/]<call>), as src/ingest/routes.ts takes them; written here since the query
 * API does not import the ingest (docs/architecture.md). Only a 404's wording depends on it.
 */
const EVENT_PATH = /^\/(?:v1\/(?:track|identify|page|screen|group|alias|batch|import|[tipsgab])|api\/s\/(?:s2s\/)?(?:track|identify|page|screen|group|alias))\/?$/;

export interface QueryOptions {
  config: Config;
  /** Shared with the sink in the all-in-one: every setting a query relies on is in its own SQL. */
  clickhouse: ClickHouseClient;
  log: Logger;
  registry: Registry;
  /**
   * True when a view (src/view/) will be attached with attachView(): until then, and until it has
   * caught up, /readyz is 503 and pages come from ClickHouse. False or absent: every page comes
   * from ClickHouse and /readyz checks it (tests of the SQL path).
   */
  expectsView?: boolean;
  /**
   * Route sets other modules serve on this port (the dashboard's, wired by src/cli/components.ts),
   * registered before the catch-all, each given the API's own read-key check, drain state, error
   * replies, CORS and request metrics. Each of their patterns also answers with a trailing slash,
   * and OPTIONS (src/common/router.ts).
   */
  routes?: readonly QueryRoutes[];
}

/** What added routes get from the query server so that they answer as its API does. */
export interface RouteGuard {
  /**
   * Throws the API's own error when the request may not read data (draining, no or unknown read
   * key); else returns its Authorization header (passed on when a read goes to another shard).
   */
  admit(req: HttpRequest): string;
  /**
   * Writes that error (or any other) as the API does, counted as route 'other'; inside a handler
   * or a cork. `cors`: cors.of() of the request, read in its handler. `body`: the answer's body
   * from the API's (an emulated API's error envelope beside it).
   */
  fail(res: HttpResponse, err: unknown, cors: Headers, body?: (reply: HttpErrorReply) => string): void;
  /**
   * The port's CORS (QUERY_CORS_ORIGINS): every answer carries cors.of(req)'s headers, read in the
   * handler and kept for an answer given later. OPTIONS is answered by the server.
   */
  readonly cors: Cors;
  /** True once the server drains: new requests get 503. */
  draining(): boolean;
  /**
   * Counts an admitted request as in flight until the returned function is called (once; later
   * calls do nothing): stop() answers it before it closes connections. For requests answered
   * after their handler returns (a body still arriving, an asynchronous read).
   */
  begin(): () => void;
  /** Records an answer in this server's request metrics. */
  done(route: Route, status: number, start: number): void;
}

/**
 * The REST request a page read stands for: what goes to the shard holding the user (its path is
 * made from the request's user key, ./forward.ts).
 */
export interface RestEventsRequest {
  /** The query string, without '?'. */
  query: string;
  /** The caller's Authorization header. */
  authorization: string;
}

/**
 * The API's reads, for route sets that answer the same data another way (GraphQL): the same code
 * path as the REST routes (view, ClickHouse beyond it, the shard holding the user), the same reply
 * bodies.
 */
export interface QueryReader {
  /**
   * The REST reply body of one page. A Buffer when answered at once (from the view): it is the
   * view reader's reused buffer, valid until the next call, so read or copy it at once.
   * `rest` is used only when another shard holds the user.
   */
  events(r: EventsRequest, rest: RestEventsRequest): Buffer | Promise<Buffer>;
  /**
   * The page when this shard's view answers it alone (as events() would), its rows left in the
   * view's reader to copy values out of (valid until the next read: use them at once); else null,
   * having read nothing that counts as an answer: ask events() then.
   */
  viewPage(r: EventsRequest): ViewPage | null;
  /** The REST reply body `{"rows":[...]}`. */
  rollups(r: RollupsRequest): Promise<Buffer>;
  /** QUERY_DEFAULT_LIMIT and QUERY_MAX_LIMIT, for parseEventsRequest. */
  readonly limits: Limits;
}

/**
 * A page read from the view: its first `count` rows are in `rows` (ViewReader's start/end/rowHeaders/time).
 * Until the next read, `rows.buffer` past the last of them is free for the caller's own bytes (the
 * GraphQL fast page writes its answer there, next to the rows it copies from).
 */
export interface ViewPage {
  rows: ViewReader;
  count: number;
  /** Whether another page follows (REST's next_cursor is not null). */
  hasNext: boolean;
}

export type QueryRoutes = (app: TemplatedApp, guard: RouteGuard, reader: QueryReader) => void;

export interface QueryServer {
  readonly port: number;
  /**
   * The per-user view and the events topic's partition count, once started (the server listens
   * before, so a port problem is reported before Kafka is asked anything).
   */
  attachView(view: View, partitionCount: number): void;
  /** The HTTPS port when apart from `port` (QUERY_TLS_PORT), else null. */
  readonly tlsPort: number | null;
  /** Serves the certificate files as they are now to new connections (SIGHUP); open ones stay. */
  reloadTls(): Promise<void>;
  /**
   * First phase of a stop: /readyz answers 503 and new API requests get 503 + Retry-After +
   * Connection: close, while the port stays open (for SHUTDOWN_DRAIN_DELAY_MS, so load balancers
   * notice). stop() does this too if it was not called.
   */
  drain(): void;
  /** readyz turns 503, new requests get 503, in-flight ones are answered, then the port closes. */
  stop(): Promise<void>;
}

const REPLY_HEADERS: Headers = [NO_STORE];
const METHOD_NOT_ALLOWED: Headers = [NO_STORE, ['Allow', 'GET, HEAD, OPTIONS']];
const FORWARDED = 'x-trackhouse-forwarded';

/** Writes a whole reply (never cached by the client); inside a handler or a cork. */
function send(res: HttpResponse, status: number, body: string | Uint8Array, headers: Headers = REPLY_HEADERS, close = false): void {
  writeJson(res, status, body, headers, close);
}

export async function startQuery(opts: QueryOptions): Promise<QueryServer> {
  const { config, log } = opts;
  const q = config.query;
  const readKeys = config.keys.read;
  if (readKeys.size === 0) {
    throw new ConfigError('TRACKHOUSE_READ_KEYS is empty: the query API needs at least one read key', { variable: 'TRACKHOUSE_READ_KEYS' });
  }
  const gate = createGate(q.maxConcurrent, q.maxQueued);
  const metrics: QueryMetrics = createQueryMetrics(opts.registry, { gate });
  const runner = gatedRunner(createClickHouseRunner(opts.clickhouse, q.timeoutMs), gate, metrics);
  const store = createQueryStore(runner, q.timeoutMs);
  const limits: Limits = { defaultLimit: q.defaultLimit, maxLimit: q.maxLimit };
  const cors = createCors(q.corsOrigins, READ_API_EXPOSED_HEADERS);
  const corsOf = cors.of;
  /** A 200's headers: made once per CORS answer, so a page costs no array. */
  const reply = cors.with(REPLY_HEADERS);
  let view: View | null = null;
  let partitionCount = 1;
  // The topic's count as the view last saw it (partitions added while running included), so every
  // replica forwards by the partitioner the producers use now. With counts that are multiples of
  // QUERY_SHARDS the shard of a user does not change with the count (view.md, Adding partitions).
  const shardOf = (userKey: string) => partitionForKey(userKey, view?.partitionCount() ?? partitionCount) % q.shards;

  let draining = false;
  let inflight = 0;
  let idle: (() => void) | null = null;
  const finished = () => {
    inflight--;
    if (inflight === 0 && idle) idle();
  };

  const checks: ReadinessCheck[] = [];
  if (opts.expectsView === true) {
    // The view answers pages on its own; ClickHouse only beyond its horizon and for rollups, so
    // its outage does not take this replica out of the load balancer.
    checks.push({
      name: 'view',
      async check() {
        if (view === null) throw new Error('the view is starting');
        if (view.caughtUp()) return;
        const r = view.report();
        const lag = r === null ? null : r.partitions.reduce((n, p) => n + Math.max(0, p.high - p.next), 0);
        if (r?.bulk === 'merging') throw new Error(`the view is merging its bulk build's runs (${r.counts.applied} events)`);
        throw new Error(lag === null ? 'the view is starting' : `the view is catching up with Kafka (${lag} records to go)`);
      },
    });
  } else {
    checks.push({ name: 'clickhouse', check: () => store.ready() });
  }
  const ops = { registry: opts.registry, draining: () => draining, checks };

  const fail = (res: HttpResponse, route: Route, start: number, err: unknown, cors: Headers, body?: (reply: HttpErrorReply) => string) => {
    const e = toHttpError(err);
    // A dependency's failure is expected and its message says all (ClickHouse down, not migrated):
    // one line without a stack; anything else with its stack, to be looked into.
    if (err instanceof DependencyError) log.warn({ route, code: err.code, err: err.message }, 'query failed');
    else if (e.status >= 500 && !(err instanceof DrainingError)) log.warn({ err, route }, 'query failed');
    // Closing the connection when draining moves a keep-alive client to another instance.
    send(res, e.status, body ? body(e) : e.body, [...cors, NO_STORE, ...e.headers], err instanceof DrainingError);
    metrics.done(route, e.status, start);
  };

  /** Runs an async reply: the response may be gone by the time the body is ready. */
  const respondLater = (res: HttpResponse, route: Route, start: number, body: Promise<Uint8Array>, cors: Headers) => {
    const state: ResponseState = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    inflight++;
    body.then(
      (bytes) => {
        if (!state.aborted) res.cork(() => send(res, 200, bytes, reply(cors)));
        metrics.done(route, 200, start);
      },
      (err: unknown) => {
        if (!state.aborted) res.cork(() => fail(res, route, start, err, cors));
        else metrics.done(route, toHttpError(err).status, start);
      },
    ).finally(finished);
  };

  /**
   * Asks the shard holding the user of `r` for its page (`query`, as the client sent it) with the
   * caller's key: its status, body and the headers a client acts on. Rejects with
   * ShardUnavailableError when it cannot be reached or its answer cannot be read.
   */
  const askShard = async (shard: number, r: EventsRequest, query: string, authorization: string) => {
    metrics.answered('forwarded');
    try {
      const answer = await getFromShard(q.shardUrl!.replaceAll('{i}', String(shard)), shardEventsPath(r.userKey, query), { authorization, [FORWARDED]: '1' }, q.timeoutMs);
      const headers: (readonly [string, string])[] = [NO_STORE];
      for (const h of ['retry-after', 'www-authenticate']) {
        const v = answer.headers[h];
        if (typeof v === 'string') headers.push([h, v]);
      }
      return { status: answer.status, body: answer.body, headers };
    } catch (err) {
      throw new ShardUnavailableError(shard, err);
    }
  };

  /** Passes a request on to the shard holding the user, and its answer back as it is. */
  const forward = (res: HttpResponse, shard: number, r: EventsRequest, query: string, authorization: string, start: number, cors: Headers) => {
    const state: ResponseState = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    inflight++;
    askShard(shard, r, query, authorization)
      .then(
        (answer) => {
          if (!state.aborted) res.cork(() => send(res, answer.status, answer.body, [...cors, ...answer.headers]));
          metrics.done('events', answer.status, start);
        },
        (err: unknown) => {
          if (!state.aborted) res.cork(() => fail(res, 'events', start, err, cors));
          else metrics.done('events', 503, start);
        },
      )
      .finally(finished);
  };

  /** The shard holding a user's partition when it is not this one, else null. */
  const otherShard = (r: EventsRequest): number | null => {
    if (view === null || q.shards <= 1) return null;
    const shard = shardOf(r.userKey);
    return shard === q.shardIndex ? null : shard;
  };

  /** The view's horizon as the last fromView() read it. */
  let horizon = 0;
  /**
   * A page's rows (limit + 1) read from the view into its reader, for a user this shard holds; null
   * when the view cannot answer: not caught up yet, or behind after its Kafka reader crashed
   * (ClickHouse has what the sink inserted, which the view may not have). The horizon and the rows
   * are read in one synchronous turn: one LMDB snapshot. The one path of readEvents and viewPage.
   */
  const fromView = (r: EventsRequest): ViewRows | null => {
    if (view === null || !view.following()) return null;
    horizon = view.reader.horizon();
    return view.reader.rows(r, r.limit + 1, horizon);
  };

  /**
   * One page's reply body, for a user this shard holds: from the view inside this call when it
   * can (the reader's reused buffer, read before the next call), else a promise (ClickHouse, for
   * what lies beyond the view's horizon or while it catches up). Shared by the REST route and the
   * reader given to route sets.
   */
  const readEvents = (r: EventsRequest): Buffer | Promise<Buffer> => {
    const found = fromView(r);
    if (found === null) {
      metrics.answered('clickhouse');
      return store.userEvents(r);
    }
    const reader = view!.reader;
    if (found.complete) {
      metrics.answered('view');
      const tail = found.count > r.limit ? cursorTailText(r, reader.time(r.limit - 1), reader.id(r.limit - 1)) : NULL_TAIL;
      return reader.reply(r.limit, tail);
    }
    // Older rows are needed: keep the view's (copies: the reader's buffer serves the next page).
    const rows: PageRows = { json: [], ts: [], ids: [] };
    for (let i = 0; i < found.count; i++) {
      rows.json.push(Buffer.from(reader.row(i)));
      rows.ts.push(reader.time(i));
      rows.ids.push(null);
    }
    metrics.answered(found.count > 0 ? 'view_clickhouse' : 'clickhouse');
    return store.userEventsBelow(r, rows, horizon);
  };


  /** A page from the shard holding the user, as its REST reply body (route sets: GraphQL). */
  const fetchFromShard = async (shard: number, r: EventsRequest, rest: RestEventsRequest): Promise<Buffer> => {
    const answer = await askShard(shard, r, rest.query, rest.authorization);
    // Parameters and keys were checked here already: anything but 200 is the shard's trouble.
    if (answer.status !== 200) throw new ShardUnavailableError(shard, new Error(`it answered ${answer.status}: ${answer.body.toString('utf8', 0, 200)}`));
    return answer.body;
  };

  const reader: QueryReader = {
    events(r, rest) {
      const shard = otherShard(r);
      return shard === null ? readEvents(r) : fetchFromShard(shard, r, rest);
    },
    viewPage(r) {
      // readEvents' view path, up to the reply (events() reads the rows again when this is null).
      if (otherShard(r) !== null) return null;
      const found = fromView(r);
      if (found === null || !found.complete) return null;
      metrics.answered('view');
      return { rows: view!.reader, count: Math.min(r.limit, found.count), hasNext: found.count > r.limit };
    },
    rollups: (r: RollupsRequest) => store.dailyRollups(r),
    limits,
  };

  // The last header accepted: a client sends the same one on every request, so most requests are
  // admitted by one string comparison instead of a regular expression and a set lookup.
  let accepted = '';
  const authorize = (req: HttpRequest): string => {
    const header = req.getHeader('authorization');
    if (header === accepted && header !== '') return header;
    if (header === '') throw new UnauthorizedError('missing');
    const token = bearerToken(header);
    if (token === null) throw new UnauthorizedError('missing');
    if (!readKeys.has(token)) throw new UnauthorizedError('invalid');
    accepted = header;
    return header;
  };

  const guard: RouteGuard = {
    admit: (req) => {
      if (draining) throw new DrainingError();
      return authorize(req);
    },
    fail: (res, err, cors, body) => fail(res, 'other', performance.now(), err, cors, body),
    cors,
    draining: () => draining,
    begin: () => {
      inflight++;
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        finished();
      };
    },
    done: (route, status, start) => metrics.done(route, status, start),
  };

  /**
   * Every route, on one app (the HTTP port's, the HTTPS port's, each reloaded certificate's). The
   * API's through apiRouter (a trailing slash, OPTIONS, the catch-alls); the ops routes as on every
   * port: no key, so no CORS (a page of any site could read /metrics through an operator's browser).
   */
  const routes = (uwsApp: TemplatedApp) => {
    addOpsRoutes(uwsApp, ops);
    const router = apiRouter(uwsApp);
    const app = router.app;
    // GET's handler is the route itself; HEAD gets it through headResponse (common/http.ts).
    getAndHead(app, '/v1/users/:userId/events', (res, req) => {
      const start = performance.now();
      // A constant array; with QUERY_CORS_ORIGINS=* the Origin header is not even read.
      const cors = corsOf(req);
      try {
        if (draining) throw new DrainingError();
        const authorization = authorize(req);
        const r = parseEventsRequest(req.getParameter(0) ?? '', req.getQuery() ?? '', limits);
        const shard = otherShard(r);
        if (shard !== null) {
          if (req.getHeader(FORWARDED) !== '') throw new MisroutedError(shard, q.shardIndex);
          forward(res, shard, r, req.getQuery() ?? '', authorization, start, cors);
          return;
        }
        const body = readEvents(r);
        if (body instanceof Promise) {
          respondLater(res, 'events', start, body, cors);
          return;
        }
        // The reply is built in the view reader's buffer; uWS copies it before end() returns.
        send(res, 200, body, reply(cors));
        metrics.done('events', 200, start);
      } catch (err) {
        fail(res, 'events', start, err, cors);
      }
    });

    getAndHead(app, '/v1/rollups/daily', (res, req) => {
      const start = performance.now();
      const cors = corsOf(req);
      try {
        if (draining) throw new DrainingError();
        authorize(req);
        const r = parseRollupsRequest(req.getQuery() ?? '');
        respondLater(res, 'rollups', start, store.dailyRollups(r), cors);
      } catch (err) {
        fail(res, 'rollups', start, err, cors);
      }
    });

    for (const add of opts.routes ?? []) add(app, guard, reader);

    for (const path of ['/v1/users/:userId/events', '/v1/rollups/daily']) {
      app.any(path, (res, req) => {
        send(forMethod(res, req), 405, JSON.stringify({ error: 'method_not_allowed', message: 'only GET and HEAD are supported here' }), [...corsOf(req), ...METHOD_NOT_ALLOWED]);
        metrics.done('other', 405, performance.now());
      });
    }
    router.finish(cors, (res, req) => {
      const start = performance.now();
      // With CORS headers: a page that called a wrong path can read why.
      send(forMethod(res, req), 404, noRouteBody(req, EVENT_PATH.test(req.getUrl()) ? SENT_TO_QUERY_PORT : ''), [...corsOf(req), ...REPLY_HEADERS]);
      metrics.done('other', 404, start);
    });
  };

  const listening = await serve({
    host: config.http.host,
    port: config.http.queryPort,
    portVariable: 'QUERY_PORT',
    tls: config.tls.files,
    tlsPort: config.tls.files ? config.tls.queryPort : null,
    tlsPortVariable: 'QUERY_TLS_PORT',
    routes,
    log,
  });
  // What V8 gave the HTTP thread: QUERY_NODE_OPTIONS raise the heap limit by three times 48 MB.
  const heap = heapSizes();
  log.info(
    {
      port: listening.port,
      tlsPort: listening.tlsPort,
      https: listening.secure,
      host: config.http.host,
      view: opts.expectsView === true,
      shard: q.shards > 1 ? `${q.shardIndex}/${q.shards}` : undefined,
      newSpaceMb: heap.newSpaceMb,
      heapLimitMb: heap.heapLimitMb,
    },
    'query API listening',
  );

  let stopping: Promise<void> | null = null;
  return {
    port: listening.port,
    attachView(v, partitions) {
      view = v;
      partitionCount = partitions;
    },
    tlsPort: listening.tlsPort,
    reloadTls: () => listening.reloadTls(),
    drain() {
      draining = true;
    },
    stop() {
      stopping ??= (async () => {
        draining = true;
        listening.close();
        if (inflight > 0) await new Promise<void>((resolve) => (idle = resolve));
        listening.closeAll();
        log.info('query API stopped');
      })();
      return stopping;
    },
  };
}

/** Bounds concurrent ClickHouse queries and times each one. */
function gatedRunner(inner: SqlRunner, gate: Gate, metrics: QueryMetrics): SqlRunner {
  return {
    run(sql, kind) {
      // Readiness probes skip the gate: a full queue must not make the instance look dead.
      if (kind === 'ready') return inner.run(sql, kind);
      return gate.run(async () => {
        const start = performance.now();
        try {
          const out = await inner.run(sql, kind);
          metrics.clickhouseDone(kind, start, true);
          return out;
        } catch (err) {
          metrics.clickhouseDone(kind, start, false);
          throw err;
        }
      });
    },
  };
}
