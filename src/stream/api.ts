// GET /v1/volume and GET /v1/alerts, with the query API's rules: bearer read key (401 first),
// every parameter checked (400 naming it), the same strict ISO 8601 times (from inclusive, to
// exclusive), JSON bodies with a stable `error` code: codes and statuses from HTTP_ERRORS
// (src/common/errors.ts), error bodies by httpErrorReply and every reply by writeJson
// (src/common/http.ts), as the query API's. Both are answered inside the uWS handler
// from the committed store (LMDB reads take microseconds; a range is bounded to MAX_BUCKETS).
//
// Registered on the query server's app (QUERY_STREAM=on) or on `trackhouse alerts`'s own, both
// through src/common/router.ts: a trailing slash, OPTIONS and CORS the same on either port.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Cors } from '../common/cors.js';
import { HTTP_ERRORS, HttpError, InvalidParameterError } from '../common/errors.js';
import { bearerToken, forMethod, getAndHead, httpErrorReply, NO_STORE, writeJson, type Headers, type ResponseState } from '../common/http.js';
import { parseIsoTime, typedTime, type IsoTimeProblem } from '../common/isotime.js';
import { readQuery } from '../common/querystring.js';
import { SOURCE_NAME, SOURCE_NAME_RULE } from '../config/index.js';
import { EVENT_TYPES, MAX_ID_LENGTH, STORABLE_TIMES } from '../schema/index.js';
import type { Rule } from './rules.js';
import type { Note } from './store.js';
import { GRANULARITIES, granularityMs, type Granularity, type Volume, type VolumeQuery } from './volume.js';
import type { GroupState } from './window.js';

/** Buckets one /v1/volume request may span (a week of minutes, over a year of hours, 27 years of days). */
export const MAX_BUCKETS = 10_080;
/** Default span when `from` is left out. */
const DEFAULT_SPAN: Record<Granularity, number> = { minute: 3_600_000, hour: 86_400_000, day: 30 * 86_400_000 };
const GROUPS_SHOWN = 1_000;

/** No bearer read key ('missing'), or one that is not configured ('invalid'): 401 with the bearer challenge. */
function unauthorized(reason: 'missing' | 'invalid'): HttpError {
  return new HttpError('unauthorized', reason === 'missing' ? 'a read key is required: Authorization: Bearer <key>' : 'unknown read key', { details: { reason } });
}

/** A bad request parameter: 400 `invalid_parameter` naming it. */
export function paramError(parameter: string, message: string): HttpError {
  return new InvalidParameterError(parameter, message);
}

/** What the API reads; null while the stream component is not running (503). */
export interface StreamView {
  volume: Volume;
  rules: readonly {
    rule: Rule;
    groups: ReadonlyMap<string, GroupState>;
    /** The group's value in its newest window (the one holding its newest bucket). */
    current(g: GroupState): number;
    late: number;
    overflow: number;
  }[];
  notes(): Note[];
  leader: boolean;
  caughtUp: boolean;
  replaying: boolean;
  watermark: number;
}

export interface StreamRoutesOptions {
  readKeys: ReadonlySet<string>;
  /** The body of an admitted request (streamAnswer), or its promise when another thread answers; throws HttpError. */
  answer(route: StreamRoute, query: string): string | Promise<string>;
  draining(): boolean;
  /** Counts an answer given after the handler returned as in flight (the host's stop waits for it) until the returned function runs. */
  begin?(): () => void;
  /** Recorded per answer (the host's request metrics). */
  done?(route: 'volume' | 'alerts', status: number, start: number): void;
  /**
   * The port's CORS (QUERY_CORS_ORIGINS, on the query port and `trackhouse alerts`' alike), whose
   * server answers OPTIONS (src/common/router.ts): its headers go on every answer, 405s list OPTIONS.
   */
  cors: Cors;
}

export const VOLUME_PARAMS = new Set(['by', 'window', 'from', 'to', 'source', 'event', 'type']);
export const ALERTS_PARAMS = new Set(['rule']);

/** `from` and `to`: typed by people, a zone required, within what events can hold (as the query API's). */
const TIME = typedTime(STORABLE_TIMES);

function time(q: Map<string, string>, name: string): number | null {
  const v = q.get(name);
  if (v === undefined) return null;
  const why: IsoTimeProblem = { reason: '' };
  const t = parseIsoTime(v, TIME, why);
  if (Number.isNaN(t)) throw paramError(name, `${name}: ${why.reason}`);
  return t;
}

export type VolumeRequest = { kind: 'volume'; q: VolumeQuery } | { kind: 'reason'; window: Granularity; from: number; to: number; source: string | null };

/** Validates /v1/volume's query string; `now` fills a missing `to`. */
export function parseVolumeRequest(query: string, now: number): VolumeRequest {
  const q = readQuery(query, VOLUME_PARAMS);
  const by = q.get('by') ?? 'source';
  if (!['source', 'event', 'type', 'reason'].includes(by)) throw paramError('by', 'by must be one of source, event, type, reason');
  const window = (q.get('window') ?? 'minute') as Granularity;
  if (!(GRANULARITIES as readonly string[]).includes(window)) throw paramError('window', `window must be one of ${GRANULARITIES.join(', ')}`);
  const size = granularityMs(window);
  let to = time(q, 'to');
  let from = time(q, 'from');
  if (from !== null && to !== null && from >= to) throw paramError('from', 'from must be earlier than to (from is inclusive, to exclusive)');
  // Without `to`: up to the end of the current bucket; without `from`: the default span before `to`.
  to ??= Math.max(Math.floor(now / size) * size + size, from === null ? -Infinity : from + size);
  from ??= to - DEFAULT_SPAN[window];
  if ((to - from) / size > MAX_BUCKETS) throw paramError('from', `from..to spans more than ${MAX_BUCKETS} ${window}s; narrow it or use a larger window`);
  const source = q.get('source') ?? null;
  if (source !== null && !SOURCE_NAME.test(source)) throw paramError('source', `source must be ${SOURCE_NAME_RULE}`);
  const event = q.get('event') ?? null;
  if (event !== null && event.length > MAX_ID_LENGTH) throw paramError('event', `event is longer than ${MAX_ID_LENGTH} characters`);
  const type = q.get('type') ?? null;
  if (type !== null && !(EVENT_TYPES as readonly string[]).includes(type)) throw paramError('type', `type must be one of ${EVENT_TYPES.join(', ')}`);
  if (by === 'reason') {
    if (event !== null) throw paramError('event', 'rejected records have no event name: by=reason takes source only');
    if (type !== null) throw paramError('type', 'rejected records have no type: by=reason takes source only');
    return { kind: 'reason', window, from, to, source };
  }
  return { kind: 'volume', q: { by: by as VolumeQuery['by'], window, from, to, source, event, type } };
}

const REPLY_HEADERS: Headers = [NO_STORE];

/** Status, extra headers and body of an error, through the registry's one mapping. */
function errorReply(err: unknown): { status: number; body: string; headers: Headers } {
  const e = err instanceof HttpError ? err : new HttpError('internal_error', 'internal error');
  const r = httpErrorReply(e);
  return { status: r.status, body: r.body, headers: [NO_STORE, ...r.headers] };
}

const iso = (ms: number): string | null => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);

export function volumeBody(view: StreamView, r: VolumeRequest): string {
  const rows = r.kind === 'reason' ? view.volume.reasons(r.window, r.from, r.to, r.source) : view.volume.query(r.q);
  return JSON.stringify({ rows, watermark: iso(view.watermark), caught_up: view.caughtUp });
}

export function alertsBody(view: StreamView, only: string | null): string {
  const rules = view.rules
    .filter((r) => only === null || r.rule.name === only)
    .map(({ rule, groups, current, late, overflow }) => {
      const alerting: { group: string | null; window_start: string | null; window_end: string | null; value: number; current: number }[] = [];
      let count = 0;
      for (const [key, g] of groups) {
        if (!g.alert) continue;
        count++;
        if (alerting.length < GROUPS_SHOWN) {
          alerting.push({
            group: rule.groupBy.kind === 'none' ? null : key,
            window_start: iso(g.transitionEnd - rule.spec.size),
            window_end: iso(g.transitionEnd),
            value: g.value,
            current: current(g),
          });
        }
      }
      return { name: rule.name, definition: rule.definition, groups_tracked: groups.size, alerting_count: count, alerting, late_records: late, overflow_records: overflow };
    });
  const notifications = view.notes().map((n) => ({
    id: n.id,
    rule: n.rule,
    group: n.group === '' ? null : n.group,
    status: n.kind,
    window_start: iso(n.windowStart),
    window_end: iso(n.windowEnd),
    value: n.value,
    early: n.early,
    delivery: n.status,
    attempts: n.attempts,
    last_error: n.lastError,
    created_at: iso(n.createdAt),
    done_at: n.doneAt === null ? null : iso(n.doneAt),
    delivered_by: n.by === 'self' ? 'this replica' : n.by === 'log' ? 'the leader' : null,
  }));
  return JSON.stringify({ leader: view.leader, caught_up: view.caughtUp, replaying_history: view.replaying, watermark: iso(view.watermark), rules, notifications });
}

/** The routes a stream answers, and what answers them (GraphQL asks the same). */
export type StreamRoute = 'volume' | 'alerts';

/**
 * The body of GET /v1/volume or /v1/alerts for `query` (the query string), from a running stream's
 * view; throws the API's HttpError (stream_unavailable while it is not running, invalid_parameter).
 */
export function streamAnswer(view: StreamView | null, route: StreamRoute, query: string, now: number): string {
  if (view === null) throw new HttpError('stream_unavailable', 'the stream processor is not running yet (starting, or Kafka unreachable); retry shortly');
  if (route === 'volume') return volumeBody(view, parseVolumeRequest(query, now));
  const q = readQuery(query, ALERTS_PARAMS);
  const rule = q.get('rule') ?? null;
  if (rule !== null && !view.rules.some((r) => r.rule.name === rule)) throw paramError('rule', `no rule is called ${JSON.stringify(rule.slice(0, 64))}`);
  return alertsBody(view, rule);
}

export function registerStreamRoutes(app: TemplatedApp, opts: StreamRoutesOptions): void {
  const authorize = (req: HttpRequest) => {
    const header = req.getHeader('authorization');
    if (header === '') throw unauthorized('missing');
    const token = bearerToken(header);
    if (token === null) throw unauthorized('missing');
    if (!opts.readKeys.has(token)) throw unauthorized('invalid');
  };
  const corsOf = opts.cors.of;
  const reply = opts.cors.with(REPLY_HEADERS);
  const fail = (res: HttpResponse, err: unknown, cors: Headers): number => {
    const e = errorReply(err);
    // Closing the connection when draining moves a keep-alive client to another instance.
    writeJson(res, e.status, e.body, [...cors, ...e.headers], err instanceof HttpError && err.code === 'draining');
    return e.status;
  };
  const handle = (route: StreamRoute) => (res: HttpResponse, req: HttpRequest) => {
    const start = performance.now();
    const cors = corsOf(req);
    let status = 200;
    try {
      if (opts.draining()) throw new HttpError('draining', 'the server is shutting down; retry on another instance');
      authorize(req);
      const body = opts.answer(route, req.getQuery() ?? '');
      if (typeof body !== 'string') {
        // Answered by the stream's own thread (the hosted stream): the client may leave meanwhile.
        const state: ResponseState = { aborted: false };
        res.onAborted(() => (state.aborted = true));
        const end = opts.begin?.() ?? (() => {});
        body.then(
          (text) => {
            if (!state.aborted) res.cork(() => writeJson(res, 200, text, reply(cors)));
            opts.done?.(route, 200, start);
          },
          (err: unknown) => {
            let s = errorReply(err).status;
            if (!state.aborted) res.cork(() => (s = fail(res, err, cors)));
            opts.done?.(route, s, start);
          },
        ).finally(end);
        return;
      }
      writeJson(res, 200, body, reply(cors));
    } catch (err) {
      status = fail(res, err, cors);
    }
    opts.done?.(route, status, start);
  };
  getAndHead(app, '/v1/volume', handle('volume'));
  getAndHead(app, '/v1/alerts', handle('alerts'));
  const methodNotAllowed = JSON.stringify({ error: 'method_not_allowed', message: 'only GET and HEAD are supported here' });
  const allow: Headers = [NO_STORE, ['Allow', 'GET, HEAD, OPTIONS']];
  for (const path of ['/v1/volume', '/v1/alerts']) {
    app.any(path, (res, req) => {
      writeJson(forMethod(res, req), HTTP_ERRORS.method_not_allowed, methodNotAllowed, [...corsOf(req), ...allow]);
    });
  }
}
