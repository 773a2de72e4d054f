// The query API server (uWebSockets.js): routes, bearer auth, the request path and graceful stop.
//
// Request path of GET /v1/users/{userId}/events, all synchronous up to the cache lookup:
//   auth -> validate every parameter -> cache hit? write the reply and return
//   -> else (onAborted first) gate -> ClickHouse -> RowBinary -> reply bytes -> maybe cache.
// A cache hit never leaves the handler: no promise, no timer, no reply-sized allocation.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Registry } from 'prom-client';
import type { ChangeFeed } from '../common/changefeed.js';
import { ConfigError } from '../common/errors.js';
import { addOpsRoutes, listen, writeJson, type Headers, type Listening, type ResponseState } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { loadUws } from '../common/uws.js';
import type { Config } from '../config/index.js';
import type { StoredRow } from '../schema/index.js';
import { UserCache } from './cache.js';
import { DrainingError, toHttpError, UnauthorizedError } from './errors.js';
import { createGate, type Gate } from './gate.js';
import { createQueryMetrics, type QueryMetrics, type Route } from './metrics.js';
import { eventsCacheKey, parseEventsRequest, parseRollupsRequest, type EventsRequest, type Limits, type RollupsRequest } from './params.js';
import { createClickHouseRunner, createQueryStore, eventRowOf, PageWriter, renderPage, type SqlRunner } from './querystore.js';
import { pageFromWindow } from './userwindow.js';

export interface QueryOptions {
  config: Config;
  /** Shared with the sink in the all-in-one: every setting a query relies on is in its own SQL. */
  clickhouse: ClickHouseClient;
  log: Logger;
  registry: Registry;
  /**
   * The sink's change feed when it runs in this process. Given: replies are cached per user and
   * invalidated from the feed. Absent: nothing is cached (nobody would tell us about new rows).
   */
  changes?: ChangeFeed<StoredRow>;
  /**
   * Route sets other modules serve on this port (the dashboard's, wired by src/cli/components.ts),
   * registered before the catch-all, each given the API's own read-key check, drain state, error
   * replies and request metrics.
   */
  routes?: readonly QueryRoutes[];
}

/** What added routes get from the query server so that they answer as its API does. */
export interface RouteGuard {
  /** Throws the API's own error when the request may not read data (draining, no or unknown read key). */
  admit(req: HttpRequest): void;
  /** Writes that error (or any other) as the API does, counted as route 'other'; inside a handler or a cork. */
  fail(res: HttpResponse, err: unknown): void;
  /** True once the server drains: new requests get 503. */
  draining(): boolean;
  /** Records an answer in this server's request metrics. */
  done(route: Route, status: number, start: number): void;
}

/**
 * The API's reads, for route sets that answer the same data another way (GraphQL): the same code
 * path as the REST routes (cache, gate, ClickHouse), the same reply bodies.
 */
export interface QueryReader {
  /**
   * The REST reply body of one page. A Buffer when answered at once (a cache hit): it may be the
   * server's reused reply buffer, valid until the next call, so read or copy it at once.
   */
  events(r: EventsRequest): Buffer | Promise<Buffer>;
  /** The REST reply body `{"rows":[...]}`. */
  rollups(r: RollupsRequest): Promise<Buffer>;
  /** QUERY_DEFAULT_LIMIT and QUERY_MAX_LIMIT, for parseEventsRequest. */
  readonly limits: Limits;
}

export type QueryRoutes = (app: TemplatedApp, guard: RouteGuard, reader: QueryReader) => void;

export interface QueryServer {
  readonly port: number;
  /** True when replies are cached (a change feed was given and QUERY_CACHE_MAX_BYTES > 0). */
  readonly caching: boolean;
  /**
   * First phase of a stop: /readyz answers 503 and new API requests get 503 + Retry-After +
   * Connection: close, while the port stays open (for SHUTDOWN_DRAIN_DELAY_MS, so load balancers
   * notice). stop() does this too if it was not called.
   */
  drain(): void;
  /** readyz turns 503, new requests get 503, in-flight ones are answered, then the port closes. */
  stop(): Promise<void>;
}

const NO_STORE = ['Cache-Control', 'no-store'] as const;
const REPLY_HEADERS: Headers = [NO_STORE];
const METHOD_NOT_ALLOWED: Headers = [NO_STORE, ['Allow', 'GET']];

/** Writes a whole reply (never cached by the client); inside a handler or a cork. */
function send(res: HttpResponse, status: number, body: string | Uint8Array, headers: Headers = REPLY_HEADERS, head = false, close = false): void {
  writeJson(res, status, body, headers, head, close);
}

export async function startQuery(opts: QueryOptions): Promise<QueryServer> {
  const { config, log } = opts;
  const q = config.query;
  const readKeys = config.keys.read;
  if (readKeys.size === 0) {
    throw new ConfigError('TRACKHOUSE_READ_KEYS is empty: the query API needs at least one read key', { variable: 'TRACKHOUSE_READ_KEYS' });
  }
  const uws = loadUws(log);
  const gate = createGate(q.maxConcurrent, q.maxQueued);
  const useCache = opts.changes !== undefined && q.cacheMaxBytes > 0;
  let cache: UserCache | null = null;
  const metrics: QueryMetrics = createQueryMetrics(opts.registry, { gate, cache: () => cache });
  if (useCache) {
    cache = new UserCache({
      maxBytes: q.cacheMaxBytes,
      maxUsers: q.cacheMaxUsers,
      ttlMs: q.cacheTtlMs,
      // A window grows with the rows the sink writes, up to twice its load size.
      maxWindowRows: 2 * q.cacheWindow,
      observer: metrics.cacheObserver,
    });
  }
  const runner = gatedRunner(createClickHouseRunner(opts.clickhouse), gate, metrics);
  const store = createQueryStore(runner, q.timeoutMs);
  const unsubscribe = cache && opts.changes ? opts.changes.subscribe((batch) => cache!.apply(batch, eventRowOf)) : () => {};
  const limits: Limits = { defaultLimit: q.defaultLimit, maxLimit: q.maxLimit };
  const pages = new PageWriter();

  let draining = false;
  let inflight = 0;
  let idle: (() => void) | null = null;
  const finished = () => {
    inflight--;
    if (inflight === 0 && idle) idle();
  };

  const app: TemplatedApp = uws.App();
  addOpsRoutes(app, {
    registry: opts.registry,
    draining: () => draining,
    checks: [{ name: 'clickhouse', check: () => store.ready() }],
  });

  const fail = (res: HttpResponse, route: Route, start: number, err: unknown) => {
    const e = toHttpError(err);
    if (e.status >= 500 && !(err instanceof DrainingError)) log.warn({ err, route }, 'query failed');
    // Closing the connection when draining moves a keep-alive client to another instance.
    send(res, e.status, e.body, [NO_STORE, ...e.headers], false, err instanceof DrainingError);
    metrics.done(route, e.status, start);
  };

  /** Runs an async reply: the response may be gone by the time the body is ready. */
  const respondLater = (res: HttpResponse, route: Route, start: number, body: Promise<Uint8Array>) => {
    const state: ResponseState = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    inflight++;
    body.then(
      (bytes) => {
        if (!state.aborted) res.cork(() => send(res, 200, bytes));
        metrics.done(route, 200, start);
      },
      (err: unknown) => {
        if (!state.aborted) res.cork(() => fail(res, route, start, err));
        else metrics.done(route, toHttpError(err).status, start);
      },
    ).finally(finished);
  };

  /**
   * A cache miss: load the user's window (or wait for a load in flight) and answer from it; the
   * page gets its own query when it reaches beyond the window or the user is new to the cache.
   */
  const cachedEvents = async (c: UserCache, r: EventsRequest, key: string): Promise<Buffer> => {
    if (!c.hasWindow(r.userKey) && c.admit(r.userKey)) {
      const fill = c.fill(r.userKey, () => store.userWindow(r.userKey, q.cacheWindow));
      if (fill.joined) metrics.cacheJoined();
      else metrics.cacheMiss();
      const rows = pageFromWindow(await fill.promise, r);
      if (rows !== null) return renderPage(rows, r);
    }
    metrics.cacheExact();
    return c.exact(r.userKey, key, () => store.userEvents(r));
  };

  /**
   * One page's reply body: from the cache inside this call when it can (a hit never leaves the
   * caller's handler), else a promise. Shared by the REST route and the reader given to route sets.
   */
  const readEvents = (r: EventsRequest): Buffer | Promise<Buffer> => {
    if (cache === null) return store.userEvents(r);
    const key = eventsCacheKey(r);
    const hit = cache.answer(r, key);
    if (hit !== undefined) {
      metrics.cacheHit();
      return Array.isArray(hit) ? pages.write(hit, r) : hit;
    }
    return cachedEvents(cache, r, key);
  };
  const reader: QueryReader = {
    events: readEvents,
    rollups: (r: RollupsRequest) => store.dailyRollups(r),
    limits,
  };

  const authorize = (req: HttpRequest) => {
    const header = req.getHeader('authorization');
    if (header === '') throw new UnauthorizedError('missing');
    // RFC 6750: scheme is case-insensitive, one or more spaces before the token.
    const m = /^bearer +(\S+) *$/i.exec(header);
    if (!m) throw new UnauthorizedError('missing');
    if (!readKeys.has(m[1]!)) throw new UnauthorizedError('invalid');
  };

  app.get('/v1/users/:userId/events', (res, req) => {
    const start = performance.now();
    try {
      if (draining) throw new DrainingError();
      authorize(req);
      const r = parseEventsRequest(req.getParameter(0) ?? '', req.getQuery() ?? '', limits);
      const body = readEvents(r);
      if (body instanceof Promise) {
        respondLater(res, 'events', start, body);
        return;
      }
      send(res, 200, body);
      metrics.done('events', 200, start);
    } catch (err) {
      fail(res, 'events', start, err);
    }
  });

  app.get('/v1/rollups/daily', (res, req) => {
    const start = performance.now();
    try {
      if (draining) throw new DrainingError();
      authorize(req);
      const r = parseRollupsRequest(req.getQuery() ?? '');
      respondLater(res, 'rollups', start, store.dailyRollups(r));
    } catch (err) {
      fail(res, 'rollups', start, err);
    }
  });

  const guard: RouteGuard = {
    admit: (req) => {
      if (draining) throw new DrainingError();
      authorize(req);
    },
    fail: (res, err) => fail(res, 'other', performance.now(), err),
    draining: () => draining,
    done: (route, status, start) => metrics.done(route, status, start),
  };
  for (const add of opts.routes ?? []) add(app, guard, reader);

  for (const path of ['/v1/users/:userId/events', '/v1/rollups/daily']) {
    app.any(path, (res, req) => {
      const head = req.getMethod() === 'head';
      send(res, 405, JSON.stringify({ error: 'method_not_allowed', message: 'only GET is supported here' }), METHOD_NOT_ALLOWED, head);
      metrics.done('other', 405, performance.now());
    });
  }
  app.any('/*', (res, req) => {
    const start = performance.now();
    const method = req.getMethod();
    send(res, 404, JSON.stringify({ error: 'not_found', message: `no route for ${method.toUpperCase()} ${req.getUrl()}` }), undefined, method === 'head');
    metrics.done('other', 404, start);
  });

  let listening: Listening;
  try {
    listening = await listen(app, config.http.host, config.http.queryPort, 'QUERY_PORT');
  } catch (err) {
    unsubscribe();
    throw err;
  }
  log.info({ port: listening.port, host: config.http.host, cache: useCache }, 'query API listening');

  let stopping: Promise<void> | null = null;
  return {
    port: listening.port,
    caching: useCache,
    drain() {
      draining = true;
    },
    stop() {
      stopping ??= (async () => {
        draining = true;
        listening.close();
        if (inflight > 0) await new Promise<void>((resolve) => (idle = resolve));
        unsubscribe();
        listening.closeAll();
        cache?.clear();
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
