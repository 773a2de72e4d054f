// GET /v1/volume and GET /v1/alerts, with the query API's rules: bearer read key (401 first),
// every parameter checked (400 naming it), the same strict ISO 8601 times (from inclusive, to
// exclusive), JSON bodies with a stable `error` code. Both are answered inside the uWS handler
// from the committed store (LMDB reads take microseconds; a range is bounded to MAX_BUCKETS).
//
// Registered on the query server's app (QUERY_STREAM=on) or on `trackhouse alerts`'s own.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { TrackhouseError } from '../common/errors.js';
import { endReply, statusLine } from '../common/http.js';
import { parseIsoTime } from '../common/time.js';
import { EVENT_TYPES, MAX_ID_LENGTH } from '../schema/index.js';
import type { Rule } from './rules.js';
import type { Note } from './store.js';
import { GRANULARITIES, granularityMs, type Granularity, type Volume, type VolumeQuery } from './volume.js';
import type { GroupState } from './window.js';

/** Buckets one /v1/volume request may span (a week of minutes, over a year of hours, 27 years of days). */
export const MAX_BUCKETS = 10_080;
/** Default span when `from` is left out. */
const DEFAULT_SPAN: Record<Granularity, number> = { minute: 3_600_000, hour: 86_400_000, day: 30 * 86_400_000 };
const GROUPS_SHOWN = 1_000;

export class ParamError extends TrackhouseError {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super('INVALID_PARAMETER', message, { details: { parameter } });
  }
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
  view(): StreamView | null;
  draining(): boolean;
  /** Recorded per answer (the host's request metrics). */
  done?(route: 'volume' | 'alerts', status: number, start: number): void;
}

const VOLUME_PARAMS = new Set(['by', 'window', 'from', 'to', 'source', 'event', 'type']);
const ALERTS_PARAMS = new Set(['rule']);
const SOURCE = /^[A-Za-z0-9._-]{1,64}$/;

function readQuery(query: string, allowed: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  if (query === '') return out;
  for (const [name, value] of new URLSearchParams(query)) {
    if (!allowed.has(name)) throw new ParamError(name, `unknown parameter ${JSON.stringify(name.slice(0, 100))}; allowed: ${[...allowed].join(', ')}`);
    if (out.has(name)) throw new ParamError(name, `${name} is given more than once`);
    if (value === '') throw new ParamError(name, `${name} is empty; leave it out instead`);
    out.set(name, value);
  }
  return out;
}

function time(q: Map<string, string>, name: string): number | null {
  const v = q.get(name);
  if (v === undefined) return null;
  const t = parseIsoTime(v);
  if (typeof t === 'string') throw new ParamError(name, `${name}: ${t}`);
  return t;
}

export type VolumeRequest = { kind: 'volume'; q: VolumeQuery } | { kind: 'reason'; window: Granularity; from: number; to: number; source: string | null };

/** Validates /v1/volume's query string; `now` fills a missing `to`. */
export function parseVolumeRequest(query: string, now: number): VolumeRequest {
  const q = readQuery(query, VOLUME_PARAMS);
  const by = q.get('by') ?? 'source';
  if (!['source', 'event', 'type', 'reason'].includes(by)) throw new ParamError('by', 'by must be one of source, event, type, reason');
  const window = (q.get('window') ?? 'minute') as Granularity;
  if (!(GRANULARITIES as readonly string[]).includes(window)) throw new ParamError('window', `window must be one of ${GRANULARITIES.join(', ')}`);
  const size = granularityMs(window);
  let to = time(q, 'to');
  let from = time(q, 'from');
  if (from !== null && to !== null && from >= to) throw new ParamError('from', 'from must be earlier than to (from is inclusive, to exclusive)');
  // Without `to`: up to the end of the current bucket; without `from`: the default span before `to`.
  to ??= Math.max(Math.floor(now / size) * size + size, from === null ? -Infinity : from + size);
  from ??= to - DEFAULT_SPAN[window];
  if ((to - from) / size > MAX_BUCKETS) throw new ParamError('from', `from..to spans more than ${MAX_BUCKETS} ${window}s; narrow it or use a larger window`);
  const source = q.get('source') ?? null;
  if (source !== null && !SOURCE.test(source)) throw new ParamError('source', 'source must be 1-64 letters, digits, dots, underscores or dashes');
  const event = q.get('event') ?? null;
  if (event !== null && event.length > MAX_ID_LENGTH) throw new ParamError('event', `event is longer than ${MAX_ID_LENGTH} characters`);
  const type = q.get('type') ?? null;
  if (type !== null && !(EVENT_TYPES as readonly string[]).includes(type)) throw new ParamError('type', `type must be one of ${EVENT_TYPES.join(', ')}`);
  if (by === 'reason') {
    if (event !== null) throw new ParamError('event', 'rejected records have no event name: by=reason takes source only');
    if (type !== null) throw new ParamError('type', 'rejected records have no type: by=reason takes source only');
    return { kind: 'reason', window, from, to, source };
  }
  return { kind: 'volume', q: { by: by as VolumeQuery['by'], window, from, to, source, event, type } };
}

interface Reply {
  status: number;
  body: string;
  headers: [string, string][];
}

function errorReply(err: unknown): Reply {
  if (err instanceof ParamError) return { status: 400, body: JSON.stringify({ error: 'invalid_parameter', parameter: err.parameter, message: err.message }), headers: [] };
  if (err instanceof Unauthorized) {
    const challenge = err.reason === 'missing' ? 'Bearer realm="trackhouse"' : 'Bearer realm="trackhouse", error="invalid_token"';
    return { status: 401, body: JSON.stringify({ error: 'unauthorized', message: err.message }), headers: [['WWW-Authenticate', challenge]] };
  }
  if (err instanceof Unavailable) return { status: 503, body: JSON.stringify({ error: err.code.toLowerCase(), message: err.message }), headers: [['Retry-After', '1']] };
  return { status: 500, body: JSON.stringify({ error: 'internal', message: 'internal error' }), headers: [] };
}

class Unauthorized extends TrackhouseError {
  constructor(readonly reason: 'missing' | 'invalid') {
    super('UNAUTHORIZED', reason === 'missing' ? 'a read key is required: Authorization: Bearer <key>' : 'unknown read key');
  }
}

class Unavailable extends TrackhouseError {
  constructor(code: 'DRAINING' | 'STREAM_UNAVAILABLE', message: string) {
    super(code, message, { retriable: true });
  }
}

function write(res: HttpResponse, r: Reply, head: boolean): void {
  res.writeStatus(statusLine(r.status)).writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store');
  for (const [k, v] of r.headers) res.writeHeader(k, v);
  endReply(res, r.body, head);
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

export function registerStreamRoutes(app: TemplatedApp, opts: StreamRoutesOptions): void {
  const authorize = (req: HttpRequest) => {
    const header = req.getHeader('authorization');
    if (header === '') throw new Unauthorized('missing');
    const m = /^bearer +(\S+) *$/i.exec(header);
    if (!m) throw new Unauthorized('missing');
    if (!opts.readKeys.has(m[1]!)) throw new Unauthorized('invalid');
  };
  const handle = (route: 'volume' | 'alerts', answer: (view: StreamView, query: string) => string) => (res: HttpResponse, req: HttpRequest) => {
    const start = performance.now();
    const head = req.getMethod() === 'head';
    let reply: Reply;
    try {
      if (opts.draining()) throw new Unavailable('DRAINING', 'the server is shutting down; retry on another instance');
      authorize(req);
      const query = req.getQuery() ?? '';
      const view = opts.view();
      if (view === null) throw new Unavailable('STREAM_UNAVAILABLE', 'the stream processor is not running yet (starting, or Kafka unreachable); retry shortly');
      reply = { status: 200, body: answer(view, query), headers: [] };
    } catch (err) {
      reply = errorReply(err);
    }
    write(res, reply, head);
    opts.done?.(route, reply.status, start);
  };
  const volume = handle('volume', (view, query) => volumeBody(view, parseVolumeRequest(query, Date.now())));
  const alerts = handle('alerts', (view, query) => {
    const q = readQuery(query, ALERTS_PARAMS);
    const rule = q.get('rule') ?? null;
    if (rule !== null && !view.rules.some((r) => r.rule.name === rule)) throw new ParamError('rule', `no rule is called ${JSON.stringify(rule.slice(0, 64))}`);
    return alertsBody(view, rule);
  });
  app.get('/v1/volume', volume);
  app.get('/v1/alerts', alerts);
  for (const path of ['/v1/volume', '/v1/alerts']) {
    app.any(path, (res, req) => {
      const head = req.getMethod() === 'head';
      write(res, { status: 405, body: JSON.stringify({ error: 'method_not_allowed', message: 'only GET is supported here' }), headers: [['Allow', 'GET']] }, head);
    });
  }
}
