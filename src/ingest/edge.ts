// The HTTP edge: Segment Tracking API requests in, Kafka records out, an answer once Kafka has
// acknowledged them. One instance per thread; it owns no sockets or clients, only the request
// path, so tests and the thread runner build it with whatever producer they like.
//
// Request path (all synchronous until the producer takes the records):
//   headers -> route, content encoding, write key from Basic auth (refused early, body unread)
//   body    -> gathered (one chunk: read in place; several: copied into a buffer of the declared
//              size, bounded in total by INGEST_MAX_PENDING_BYTES)
//           -> inflated (bounded) -> UTF-8 checked -> parsed (./jsontext.ts, else JSON.parse)
//           -> write key from body if needed
//           -> each event validated + normalized (one pass) -> Avro-encoded into a slab
//           -> invalid events / unreadable bodies become records for the rejected topic
//   producer.submit(request) -> settle() once Kafka acked every record -> 200 / 400 / 503.
//
// Status of a batch with invalid events: 400 after its valid events are durable; why, and what
// Segment's SDKs do with it: docs/architecture/ingest.md, "Answers".
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { HTTP_ERRORS, HttpError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { decodedParameter, forMethod, getAndHead, headResponse, NOSNIFF, statusLine, writeJson, writeReply, type Headers } from '../common/http.js';
import { EVENT_TIME, parseIsoTime } from '../common/isotime.js';
import type { Config } from '../config/index.js';
import type { OutRecord, ProduceError, RecordProducer, Submission } from '../kafka/producer.js';
import { userKeyOf, type EventCodec, type EventRecord, type EventType } from '../schema/index.js';
import { WriteKeys } from './auth.js';
import { clientIp, peerAddress, PEER, segmentServerLibrary, withoutLastPart } from './clientip.js';
import { contentEncoding, decodeUtf8, inflate, tooLarge, withoutBom, type ContentEncoding } from './body.js';
import { errorBody, problem, type EventProblem } from './problems.js';
import type { IngestMetrics } from './metrics.js';
import { mayHoldWide, objectOf, parseEventJson } from './jsontext.js';
import { emptyRecord, normalizeEvent, notATime, type NormalizeContext } from './normalize.js';
import { eventBytes, rejectRecord } from './rejects.js';
import { CALLS, callForPath, isJitsuPath, isJitsuServerPath, type CallKind } from './routes.js';
import { JITSU_SCRIPT_CACHE, readJitsuScript } from './jitsu-script.js';
import { posthogScriptRoutes } from './posthog-script.js';
import { AnalyticsScriptRoutes } from './analytics-script.js';
import { decodeRequest, defaultReplies, formatRoute, Refused, type FormatRoute, type Replies, type SegmentCall, type Vendor } from './formats/index.js';
import { COOKIELESS, COOKIELESS_SENTINEL, CookielessIds } from './formats/cookieless.js';
import { vendorRefusal } from './formats/refusal.js';
import { POSTHOG_UNKNOWN_TOKEN, type CookielessCall } from './formats/posthog.js';
import { posthogConfigJson, posthogConfigScript, POSTHOG_FLAGS } from './formats/posthog-sdk.js';
import { RecordSlab } from './slab.js';
import { analyticsSettings, apiHostOf, pageProtocol, UNKNOWN_KEY_BODY } from './settings.js';

export interface EdgeDeps {
  config: Config;
  log: Logger;
  producer: RecordProducer;
  codec: EventCodec;
  metrics: IngestMetrics;
  /** The erasure list's suppressed users (src/erasure/): their events are refused. */
  suppressions: { suppressed(userKey: string): boolean };
}

const OK_BODY = '{"success":true}';
/** Per-record overhead counted against the pending-bytes bound (object, key, bookkeeping). */
const RECORD_MEMORY = 96;
/** Bodies kept in the pool for multi-chunk uploads; more at once are allocated and dropped. */
const POOL_SIZE = 16;
/** First buffer for a multi-chunk body without Content-Length; doubled as it fills. */
const CHUNKED_START = 64 * 1024;

interface BodyRefusal {
  /** Size of the whole body when only its start is at hand. */
  total?: number;
  /** The rest of the body will not be read. */
  unread?: boolean;
  receivedAt?: number;
}

interface RejectedEvent {
  index: number;
  code: string;
  error: string;
  /** The vendor's field at fault (other formats). */
  field?: string;
}

const NO_BODY = Buffer.alloc(0);

/** One HTTP request from headers to answer. It is also the producer's Submission for its records. */
class IngestRequest implements Submission {
  readonly records: OutRecord[] = [];
  bytes = 0;
  accepted = 0;
  /** Valid events left out because the vendor refuses a request whole (Amplitude); still counted in its answer's total. */
  dropped = 0;
  rejected: RejectedEvent[] | null = null;
  /** A whole-body rejection whose record goes to the rejected topic before it is answered. */
  bodyError: HttpError | null = null;
  source: string | null = null;
  encoding: ContentEncoding = 'identity';
  origin = '';
  /** The caller's address for context.ip (INGEST_CLIENT_IP): PEER until read, or null. */
  ip: string | typeof PEER | null = null;
  /** Jitsu's `X-IP-Policy: stripLastOctet`: the address is stored with its last part zeroed. */
  stripIp = false;
  /** A Segment server library's User-Agent: the address goes only into events with `channel` (RudderStack's, sharing it). */
  ipNeedsChannel = false;
  /** The User-Agent header of a Snowplow request (its events' user agent when they send no `ua`); else ''. */
  userAgent = '';
  limit = 0;
  /** Content-Length, or -1. */
  declared = -1;
  /** Bytes of the body gathered so far and where (null: none yet, or a single chunk). */
  received = 0;
  buf: Buffer | null = null;
  /** Body complete (or refused): further chunks are ignored. */
  read = false;
  answered = false;
  aborted = false;
  /** The body was not read to its end: close the connection with the answer. */
  closeAfter = false;
  readAt = 0;
  /** Another vendor's format (PostHog, Amplitude, ...): its route, query and answers; null for Segment's API. */
  route: FormatRoute | null = null;
  query = '';
  replies: Replies | null = null;
  receivedAt = 0;
  /** Bytes of the body as received (other formats' answers report it). */
  size = 0;

  constructor(
    readonly edge: IngestEdge,
    readonly res: HttpResponse,
    readonly kind: CallKind,
    readonly path: string,
  ) {}

  settle(error: ProduceError | null): void {
    this.edge.settled(this, error);
  }
}

export class IngestEdge {
  private readonly keys: WriteKeys;
  /** PostHog cookieless visitors' ids; startIngest gives every thread the process's secret. */
  private readonly cookielessIds: CookielessIds;
  private readonly slab: RecordSlab;
  private readonly scratch: EventRecord = emptyRecord();
  private readonly nctx: NormalizeContext = { receivedAt: 0, source: '', sentAt: null, context: null, ip: null, ipNeedsChannel: false, msTimes: false };
  /** Full-size (maxBatchBytes) buffers for multi-chunk bodies. */
  private readonly pool: Buffer[] = [];
  /**
   * Bytes held by bodies still arriving in pieces. Bounded by INGEST_MAX_PENDING_BYTES, so many
   * slow uploads cannot hold unbounded memory: past it, a new multi-chunk body gets 503.
   */
  private buffering = 0;
  private readonly eventsTopic: string;
  private readonly rejectedTopic: string;
  private readonly retryAfter: string;
  /** Jitsu's browser script, served at /p.js. */
  private readonly jitsuJs: Buffer;
  /** analytics.js and its chunks, as Segment's snippet loads them (./analytics-script.ts). */
  private readonly analyticsJs: AnalyticsScriptRoutes;
  private draining = false;
  private open = 0;
  private idleWaiters: (() => void)[] = [];

  /** Whether a key given in a path (analytics.js's, posthog-js's token) is a write key. */
  private readonly knownKey = (key: string): boolean => this.keys.fromBody(key).kind === 'ok';

  constructor(private readonly deps: EdgeDeps) {
    this.keys = new WriteKeys(deps.config.keys.write);
    // startIngest makes the process's secret when none is configured: one per edge here would give
    // a visitor another id on each thread.
    const secret = deps.config.ingest.cookielessSecret;
    if (secret === null || secret === undefined) throw new Error('IngestEdge needs config.ingest.cookielessSecret (startIngest sets one for the process)');
    this.cookielessIds = new CookielessIds(secret);
    this.slab = new RecordSlab(deps.codec);
    this.eventsTopic = deps.config.kafka.topics.events;
    this.rejectedTopic = deps.config.kafka.topics.rejected;
    this.retryAfter = String(deps.config.ingest.retryAfterS);
    this.jitsuJs = readJitsuScript();
    this.analyticsJs = new AnalyticsScriptRoutes({ knownKey: this.knownKey, cors: corsHeaders, count: (r, s) => deps.metrics.request(r, s) });
  }

  register(app: TemplatedApp, secure = false): void {
    app.post('/v1/:call', (res, req) => {
      const name = req.getParameter(0);
      const call = CALLS.get(name);
      // The path is /v1/<name> on this route: made once per name rather than read (getUrl) per request.
      if (call === undefined) this.notFound(res, req);
      else this.begin(res, req, call, null, false, CALL_PATHS.get(name));
    });
    // A path with routes of its own answers its own preflights and, for other methods, 405 with
    // Allow: uWS matches a path's routes before the wildcards below.
    const onlyFor = (p: string, takes: string, allow: readonly [string, string]) => {
      app.options(p, (res, req) => this.preflight(res, req));
      app.any(p, (res, req) => this.methodNotAllowed(res, req, `${req.getUrl().slice(0, 200)} takes ${takes}`, allow));
    };
    // The GET routes: analytics.js's settings, and posthog-js's remote config and feature flags
    // (formats/posthog-sdk.ts), answered, not 404. Each answers HEAD too (getAndHead).
    const getRoutes: [string, (res: HttpResponse, req: HttpRequest) => void][] = [
      ['/v1/projects/:key/settings', (res, req) => this.analyticsSettings(res, req, secure)],
      ['/array/:token/config', (res, req) => this.posthogConfig(res, req, false)],
      ['/array/:token/config.js', (res, req) => this.posthogConfig(res, req, true)],
      ['/p.js', (res, req) => this.jitsuScript(res, req)],
      // posthog-js's bundles for PostHog's snippets, /array/<token>/array.js too (./posthog-script.ts).
      ...posthogScriptRoutes(this.deps.metrics, (res, req) => this.notFound(res, req), { knownKey: this.knownKey, cors: corsHeaders }),
      ['/analytics.js/v1/:key/analytics.min.js', (res, req) => this.analyticsJs.script(res, req)],
      ['/analytics-next/bundles/:file', (res, req) => this.analyticsJs.bundle(res, req)],
    ];
    for (const [p, handler] of getRoutes) {
      getAndHead(app, p, handler);
      onlyFor(p, 'GET (or HEAD)', ALLOW_GET);
    }
    // PostHog's feature flags: POST only.
    for (const p of ['/flags', '/flags/', '/decide', '/decide/']) {
      app.post(p, (res, req) => this.posthogFlags(res, req));
      onlyFor(p, 'POST', ALLOW_POST);
    }
    app.options('/*', (res, req) => this.preflight(res, req));
    app.any('/*', (res, req) => {
      const url = req.getUrl();
      const method = req.getMethod();
      const call = callForPath(url);
      if (call !== undefined && method === 'post') {
        this.begin(res, req, call);
        return;
      }
      // Other vendors' paths: kept off the Segment routes above, so those never look at them.
      const route = formatRoute(url);
      if (route !== undefined && ((method === 'post' && route.post) || (method === 'get' && route.get))) this.begin(res, req, 'batch', route, method === 'get');
      // HEAD of a pixel is its GET (the event is taken, as Snowplow's collector does) without the body.
      else if (route !== undefined && method === 'head' && route.get) this.begin(headResponse(res), req, 'batch', route, true);
      else this.notFound(res, req);
    });
  }

  /** Stop taking new requests (each gets 503 + Connection: close); /readyz reports it. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Requests received and not yet answered. */
  get inFlight(): number {
    return this.open;
  }

  /** Resolves when every request received so far has been answered, or after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // ---- request start: everything that can be decided from the headers ----

  private begin(res: HttpResponse, req: HttpRequest, kind: CallKind, route: FormatRoute | null = null, noBody = false, path?: string): void {
    const r = new IngestRequest(this, res, kind, path ?? req.getUrl());
    this.open++;
    r.origin = req.getHeader('origin');
    if (route !== null) {
      r.route = route;
      r.query = req.getQuery() ?? '';
      r.replies = defaultReplies(route, r.query);
    }
    if (this.draining) {
      this.refuse(r, new HttpError('draining', 'this server is shutting down; retry on another'), true);
      return;
    }
    // An unknown key in the header is refused first: the caller is told who it is not before
    // anything about what it sent (and nothing of the body is read).
    const auth = req.getHeader('authorization');
    const jitsu = isJitsuPath(r.path);
    const key = auth === '' && jitsu ? this.keys.fromWriteKeyHeader(req.getHeader('x-write-key')) : this.keys.fromHeader(auth);
    if (key.kind === 'unknown') {
      this.unauthenticated(r, 'unknown_write_key', true);
      return;
    }
    // Any content type, or none: the body is JSON if it parses as JSON once its Content-Encoding
    // is undone (SDKs send JSON as text/plain, form-urlencoded, octet-stream, ...), as Segment's
    // and RudderStack's servers take it. Only an encoding we cannot undo is refused (415).
    const encoding = contentEncoding(req.getHeader('content-encoding'));
    if (encoding === null) {
      const shown = req.getHeader('content-encoding').slice(0, 100);
      // Counted with the other bodies refused, so the dashboard can say why an app's sends fail.
      this.deps.metrics.bodyRejected('unsupported_encoding');
      this.refuse(r, new HttpError('unsupported_encoding', `content encoding ${shown} is not accepted; send gzip, deflate or none`), true);
      return;
    }
    r.encoding = encoding;
    if (key.kind === 'ok') r.source = key.source;
    r.ip = clientIp(this.deps.config.ingest.clientIp, req);
    if (jitsu) {
      if (isJitsuServerPath(r.path)) r.ip = null;
      else this.ipPolicy(r, req.getHeader('x-ip-policy'));
    } else if (route === null && segmentServerLibrary(req.getHeader('user-agent'))) r.ipNeedsChannel = true;
    else if (route !== null && (route.id === 'snowplow' || route.id === 'snowplow-pixel')) this.snowplowHeaders(r, req);
    r.limit = kind === 'batch' ? this.deps.config.ingest.maxBatchBytes : this.deps.config.ingest.maxEventBytes;
    const length = req.getHeader('content-length');
    if (length !== '') r.declared = Number(length);
    res.onAborted(() => this.aborted(r));
    if (noBody) {
      // A pixel (GET): the event is in the query.
      r.read = true;
      this.process(r, NO_BODY);
      return;
    }
    res.onData((chunk, isLast) => {
      try {
        this.chunk(r, chunk, isLast);
      } catch (err) {
        // Nothing a client sends should get here; if something does, it costs one 500, not the process.
        this.deps.log.error({ err, path: r.path }, 'unexpected error while reading a request');
        r.read = true;
        this.giveBack(r);
        this.refuse(r, new HttpError('internal_error', 'the server failed to process this request'), true);
      }
    });
  }

  // ---- body ----

  private chunk(r: IngestRequest, chunk: ArrayBuffer, isLast: boolean): void {
    if (r.read) return;
    const n = chunk.byteLength;
    if (r.received === 0 && isLast) {
      // The usual case: the whole body in one chunk, read in place (the chunk is only valid
      // during this call, and everything kept from it is copied before we return).
      r.read = true;
      const body = Buffer.from(chunk);
      if (n > r.limit) this.bodyRefused(r, tooLarge(r.limit), body, { total: n });
      else this.process(r, body);
      return;
    }
    if (r.received + n > r.limit) {
      r.read = true;
      const head = this.gathered(r, chunk);
      const total = Math.max(r.declared, r.received + n);
      this.giveBack(r);
      // The rest of the body is never read: answer and close the connection.
      this.bodyRefused(r, tooLarge(r.limit), head, { total, unread: true });
      return;
    }
    const buf = r.buf !== null && r.buf.length >= r.received + n ? r.buf : this.holdBody(r, r.received + n);
    if (buf === null) return;
    Buffer.from(chunk).copy(buf, r.received);
    r.received += n;
    if (isLast) {
      r.read = true;
      this.process(r, buf.subarray(0, r.received));
      this.giveBack(r);
    }
  }

  /** What has arrived of an oversized body, at most what the rejected topic keeps. */
  private gathered(r: IngestRequest, chunk: ArrayBuffer): Buffer {
    const keep = this.deps.config.ingest.maxEventBytes;
    const prior = r.buf === null ? Buffer.alloc(0) : r.buf.subarray(0, Math.min(r.received, keep));
    if (prior.length >= keep) return Buffer.from(prior);
    const more = Buffer.from(chunk, 0, Math.min(chunk.byteLength, keep - prior.length));
    return Buffer.concat([prior, more]);
  }

  /**
   * Gives `r` a buffer for at least `need` bytes (the body so far is kept): its declared length
   * when known, else a buffer that doubles as it fills; full-size buffers come from the pool.
   * Refuses the request (503, connection closed) when bodies in flight would pass the bound.
   */
  private holdBody(r: IngestRequest, need: number): Buffer | null {
    const max = this.deps.config.ingest.maxBatchBytes;
    const old = r.buf;
    let size = r.declared > 0 ? Math.min(Math.max(r.declared, need), r.limit) : Math.min(Math.max(CHUNKED_START, (old?.length ?? 0) * 2, need), r.limit);
    if (size > max) size = max;
    const grow = size - (old?.length ?? 0);
    if (this.buffering + grow > this.deps.config.ingest.maxPendingBytes) {
      r.read = true;
      this.giveBack(r);
      this.refuse(r, new HttpError('overloaded', 'too many request bodies are arriving at once; retry later'), true);
      return null;
    }
    const next = size === max ? (this.pool.pop() ?? Buffer.allocUnsafeSlow(max)) : Buffer.allocUnsafeSlow(size);
    if (old !== null) {
      old.copy(next, 0, 0, r.received);
      this.release(old);
    }
    this.buffering += next.length;
    r.buf = next;
    return next;
  }

  private giveBack(r: IngestRequest): void {
    if (r.buf !== null) this.release(r.buf);
    r.buf = null;
  }

  private release(buf: Buffer): void {
    this.buffering -= buf.length;
    if (buf.length === this.deps.config.ingest.maxBatchBytes && this.pool.length < POOL_SIZE) this.pool.push(buf);
  }

  private aborted(r: IngestRequest): void {
    r.aborted = true;
    this.giveBack(r);
    // A request cut off mid-body has nothing in Kafka and nobody to answer.
    if (!r.read) this.done(r, 0);
  }

  // ---- parsing and events ----

  private process(r: IngestRequest, body: Buffer): void {
    if (r.route !== null) {
      this.processFormat(r, body);
      return;
    }
    r.readAt = performance.now();
    const receivedAt = Date.now();
    let parsed: unknown;
    let plain = body;
    try {
      if (r.encoding !== 'identity') plain = inflate(body, r.encoding, r.limit);
      plain = withoutBom(plain);
      const text = decodeUtf8(plain);
      try {
        // The scanner keeps properties/traits/context as their JSON text (./jsontext.ts: no
        // objects built only to be stringified again, half the CPU of a batch); whatever it does
        // not take is JSON.parse's, so error messages stay JSON.parse's.
        parsed = parseEventJson(text, plain) ?? JSON.parse(text);
      } catch (err) {
        throw new HttpError('malformed_json', `the body is not valid JSON: ${(err as Error).message}`);
      }
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      this.bodyRefused(r, err, body, { receivedAt });
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.bodyRefused(r, new HttpError('invalid_body', 'the body must be a JSON object'), body, { receivedAt });
      return;
    }
    const obj = parsed as Record<string, unknown>;
    if (r.source === null) {
      const key = this.keys.fromBody(obj.writeKey);
      if (key.kind !== 'ok') {
        this.unauthenticated(r, key.kind === 'none' ? 'missing_write_key' : 'unknown_write_key', false);
        return;
      }
      r.source = key.source;
    }

    const ctx = this.context(r, receivedAt, r.source, false);
    if (r.kind !== 'batch') {
      this.event(r, obj, r.kind, -1, plain);
    } else {
      const batch = obj.batch;
      if (!Array.isArray(batch)) {
        this.bodyRefused(r, new HttpError('invalid_body', 'a batch body needs a "batch" array of events'), body, { receivedAt });
        return;
      }
      if (typeof obj.sentAt === 'string') {
        const sentAt = parseIsoTime(obj.sentAt, EVENT_TIME);
        if (Number.isNaN(sentAt)) {
          this.bodyRefused(r, new HttpError('invalid_body', notATime('sentAt')), body, { receivedAt });
          return;
        }
        ctx.sentAt = sentAt;
      }
      const bc = obj.context;
      // normalizeEvent lays each event's context over it. Parsed once for the batch, as the text
      // would be parsed again for every event; kept as text (a JsonText) only when it may hold a
      // wide integer, whose digits the merge then keeps (jsontext.ts overlaid).
      if (typeof bc === 'object' && bc !== null && !Array.isArray(bc)) ctx.context = mayHoldWide(bc) ? bc : objectOf(bc);
      for (let i = 0; i < batch.length; i++) this.event(r, batch[i], null, i, null);
    }
    this.submit(r);
  }

  /**
   * Another vendor's request: its payload is translated into Segment calls (src/ingest/formats/),
   * which then take exactly the Segment path's rules, normalization, encoding and rejects.
   */
  private processFormat(r: IngestRequest, body: Buffer): void {
    r.readAt = performance.now();
    r.size = body.length;
    const receivedAt = (r.receivedAt = Date.now());
    let decoded;
    try {
      const plain = withoutBom(r.encoding !== 'identity' ? inflate(body, r.encoding, r.limit) : body);
      decoded = decodeRequest(r.route!, plain, r.query, r.limit, receivedAt, r.userAgent);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      this.bodyRefused(r, err, body, { receivedAt });
      return;
    }
    const t = decoded.translation;
    r.replies = decoded.replies;
    if (decoded.noCallerIp === true) r.ip = null;
    // Whose key: Basic auth, then a request-level key (Mixpanel's api_key=), then the payload's.
    let perEventKeys = false;
    if (r.source === null) {
      const given = decoded.requestKey ?? t.key;
      perEventKeys = decoded.requestKey === undefined;
      const key = this.keys.fromBody(given);
      if (key.kind !== 'ok') {
        this.unauthenticated(r, key.kind === 'none' ? 'missing_write_key' : 'unknown_write_key', false);
        return;
      }
      r.source = key.source;
    }
    if (t.calls.length === 0) {
      this.bodyRefused(r, new HttpError('invalid_body', 'the body holds no events'), body, { receivedAt });
      return;
    }
    const source = r.source;
    const cookieless = t.cookieless === true;
    if (cookieless) this.cookielessVisitors(r, t.calls, source, receivedAt);
    const ctx = this.context(r, receivedAt, source, true);
    const ip = ctx.ip;
    for (let i = 0; i < t.calls.length; i++) {
      const call = t.calls[i]!;
      ctx.source = source;
      // A cookieless event's address was only hashed: it is not stored (as PostHog's stripPIIProperties).
      if (cookieless) ctx.ip = (call as CookielessCall)[COOKIELESS] !== undefined ? null : ip;
      if (call instanceof Refused) {
        this.rejectEvent(r, call, i, t.raw[i], call.field);
        continue;
      }
      if (perEventKeys && typeof call.writeKey === 'string' && call.writeKey !== t.key) {
        // Mixpanel carries the token in each event: an event with another known token is that source's.
        const own = this.keys.fromBody(call.writeKey);
        if (own.kind !== 'ok') {
          this.rejectEvent(r, new Refused('invalid_field', 'the event\'s token is not a known write key', 'token', t.raw[i]), i, t.raw[i], 'token');
          continue;
        }
        ctx.source = own.source;
      }
      this.event(r, call as SegmentCall, null, i, null, t.raw[i], decoded.vendor);
    }
    if (r.rejected !== null && decoded.vendor === 'amplitude' && r.accepted > 0) {
      // Amplitude's contract: a 400 means nothing of the request was taken (its SDKs resend the
      // events not listed), so the valid events are dropped here, before Kafka sees them.
      const kept = r.records.filter((x) => x.topic !== this.eventsTopic);
      r.records.length = 0;
      r.records.push(...kept);
      r.bytes = kept.reduce((n, x) => n + x.value.length + RECORD_MEMORY * 4, 0);
      r.dropped = r.accepted;
      r.accepted = 0;
    }
    this.submit(r);
  }

  /**
   * PostHog cookieless events (formats/cookieless.ts): "$posthog_cookieless" as anonymousId or
   * previousId becomes the visitor's id of the day, hashed from the source (PostHog's project),
   * the event's `$ip` else the caller's address, the site's root domain, the user agent and
   * `$cookieless_extra`.
   */
  private cookielessVisitors(r: IngestRequest, calls: readonly unknown[], source: string, receivedAt: number): void {
    for (const c of calls) {
      const input = (c as CookielessCall)[COOKIELESS];
      if (input === undefined) continue;
      const call = c as CookielessCall;
      const id = this.cookielessIds.id(receivedAt, source, input.ip ?? this.callerAddress(r), input);
      if (call.anonymousId === COOKIELESS_SENTINEL) call.anonymousId = id;
      if (call.previousId === COOKIELESS_SENTINEL) call.previousId = id;
    }
  }

  /**
   * The caller's address for a cookieless hash: as context.ip would have it, else (INGEST_CLIENT_IP
   * off) the peer's, which is hashed and never stored.
   */
  private callerAddress(r: IngestRequest): string {
    if (typeof r.ip === 'string') return r.ip;
    if (r.ip === PEER) {
      this.peerOf = r;
      return this.peerIp() ?? '';
    }
    return peerAddress(r.res) ?? '';
  }

  /**
   * context.ip for r's events: the peer's address is read (a system call) only when an event has no
   * ip of its own, once per request. Normalizing is synchronous, so one function serves every
   * request: it reads the request being processed.
   */
  private ipOf(r: IngestRequest): string | (() => string | null) | null {
    if (r.ip !== PEER) return r.ip;
    this.peerOf = r;
    return this.peerIp;
  }

  private peerOf: IngestRequest | null = null;
  private readonly peerIp = (): string | null => {
    const r = this.peerOf!;
    if (r.ip === PEER) {
      const ip = peerAddress(r.res);
      r.ip = r.stripIp && ip !== null ? withoutLastPart(ip) : ip;
    }
    return r.ip;
  };

  /**
   * Jitsu's `X-IP-Policy` (its SDKs' privacy.ipPolicy) for the address filled into context.ip:
   * `remove` fills none, `stripLastOctet` zeroes its last part; `keep` (or none) as configured.
   */
  private ipPolicy(r: IngestRequest, policy: string): void {
    if (policy === 'remove') r.ip = null;
    else if (policy === 'stripLastOctet') {
      r.stripIp = true;
      if (typeof r.ip === 'string') r.ip = withoutLastPart(r.ip);
    }
  }

  /**
   * What Snowplow's collector takes from the headers: the User-Agent, which enrich stores as the
   * user agent of events without `ua` (the browser tracker sends none), and `SP-Anonymous` (the
   * trackers' server-side anonymisation), with which the collector records no address
   * (RemoteAddress.Unknown): then none is filled into context.ip; an event's own `ip` is kept.
   */
  private snowplowHeaders(r: IngestRequest, req: HttpRequest): void {
    r.userAgent = req.getHeader('user-agent');
    if (req.getHeader('sp-anonymous') !== '') r.ip = null;
  }

  /**
   * The normalize context of r's events, every field set here for each request (the object is
   * reused): nothing of a request before, even one that threw, reaches the next one.
   */
  private context(r: IngestRequest, receivedAt: number, source: string, msTimes: boolean): NormalizeContext {
    const ctx = this.nctx;
    ctx.receivedAt = receivedAt;
    ctx.source = source;
    ctx.sentAt = null;
    ctx.context = null;
    ctx.ip = this.ipOf(r);
    ctx.ipNeedsChannel = r.ipNeedsChannel;
    ctx.msTimes = msTimes;
    return ctx;
  }

  /** Validates, normalizes and encodes one event; an invalid one becomes a rejected record. */
  /** `vendor`: the format `original` came in (raw is its translation), whose fields a refusal names. */
  private event(r: IngestRequest, raw: unknown, type: EventType | null, index: number, body: Buffer | null, original: unknown = raw, vendor: Vendor | null = null): void {
    const rec = this.scratch;
    let p: EventProblem | null = normalizeEvent(raw, type, this.nctx, rec);
    if (p === null) {
      const key = userKeyOf(rec);
      // One Set lookup per event: a suppressed user's event goes to the rejected topic with the
      // reason, and the request is answered as if it were taken (as Segment does), so SDKs do
      // not retry it.
      if (this.deps.suppressions.suppressed(key)) {
        this.suppressed(r, index, body ?? eventBytes(original));
        return;
      }
      let value: Buffer | null;
      try {
        value = this.slab.encode(rec, this.deps.config.ingest.maxEventBytes);
      } catch (err) {
        // normalizeEvent lets through only what the schema takes; should a value still slip past
        // it, the event is refused with the encoder's reason (and kept in the rejected topic)
        // rather than failing the request with a 500 its client would retry for ever.
        this.rejectEvent(r, problem('invalid_field', `the event cannot be encoded: ${(err as Error).message}`), index, original, undefined, body);
        return;
      }
      if (value !== null) {
        r.records.push({ topic: this.eventsTopic, key, value });
        r.bytes += value.length + RECORD_MEMORY + key.length;
        r.accepted++;
        return;
      }
      p = problem('event_too_large', `the event is larger than ${this.deps.config.ingest.maxEventBytes / 1024} KB`);
    }
    // A vendor's event is refused naming its own field (distinct_id, not userId): only here, on refusal.
    const own = vendor === null ? null : vendorRefusal(vendor, p, raw, original);
    if (own !== null) this.rejectEvent(r, own, index, original, own.field, body);
    else this.rejectEvent(r, p, index, original, undefined, body);
  }

  private suppressed(r: IngestRequest, index: number, original: Buffer): void {
    const rec = rejectRecord(
      {
        topic: this.rejectedTopic,
        code: 'user_suppressed',
        reason: 'the user is suppressed (POST /v1/regulations): their events are not stored',
        source: r.source!,
        endpoint: r.path,
        receivedAt: this.nctx.receivedAt,
        index: index < 0 ? undefined : index,
      },
      original,
    );
    r.records.push(rec);
    r.bytes += rec.value.length + RECORD_MEMORY * 4;
    this.deps.metrics.eventRejected('user_suppressed');
  }

  private rejectEvent(r: IngestRequest, p: EventProblem, index: number, original: unknown, field: string | undefined, body: Buffer | null = null): void {
    const rejected = rejectRecord(
      {
        topic: this.rejectedTopic,
        code: p.code,
        reason: p.message,
        source: r.source!,
        endpoint: r.path,
        receivedAt: this.nctx.receivedAt,
        index: index < 0 ? undefined : index,
      },
      body ?? eventBytes(original),
    );
    r.records.push(rejected);
    r.bytes += rejected.value.length + RECORD_MEMORY * 4;
    (r.rejected ??= []).push(field === undefined ? { index, code: p.code, error: p.message } : { index, code: p.code, error: p.message, field });
  }

  /** A body that cannot be read as events: kept in the rejected topic if its sender is known. */
  private bodyRefused(r: IngestRequest, err: HttpError, body: Buffer, how: BodyRefusal = {}): void {
    this.deps.metrics.bodyRejected(err.code);
    if (r.source === null) {
      // No valid write key: never written (anyone could fill the topic), only counted.
      this.deps.metrics.unauthenticatedRequest('missing_write_key');
      this.refuse(r, err, how.unread ?? false);
      return;
    }
    r.bodyError = err;
    r.closeAfter = how.unread ?? false;
    const rec = rejectRecord(
      {
        topic: this.rejectedTopic,
        code: err.code,
        reason: err.message,
        source: r.source,
        endpoint: r.path,
        receivedAt: how.receivedAt ?? Date.now(),
        contentEncoding: r.encoding,
      },
      body,
      how.total,
    );
    r.records.push(rec);
    r.bytes += rec.value.length + RECORD_MEMORY * 4;
    this.submit(r);
  }

  private submit(r: IngestRequest): void {
    if (r.records.length === 0) {
      this.answer(r);
      return;
    }
    const outcome = this.deps.producer.submit(r);
    if (outcome === 'queued') return;
    const err =
      outcome === 'full'
        ? new HttpError('overloaded', 'too many events are waiting for Kafka; retry later')
        : outcome === 'closed'
          ? new HttpError('draining', 'this server is shutting down; retry on another')
          : new HttpError('kafka_unavailable', 'Kafka is not acknowledging writes; retry later');
    this.refuse(r, err, false);
  }

  // ---- answers ----

  /** Called by the producer once every record of `r` is acknowledged, or not. */
  settled(r: IngestRequest, error: ProduceError | null): void {
    if (error !== null) {
      const err = new HttpError('kafka_unavailable', `the events were not confirmed by Kafka (${error.message}); retry later`);
      this.refuse(r, err, false);
      return;
    }
    this.answer(r);
  }

  private answer(r: IngestRequest): void {
    const m = this.deps.metrics;
    m.eventsAccepted(r.accepted);
    if (r.replies !== null) {
      if (r.rejected !== null) for (const x of r.rejected) m.eventRejected(x.code);
      const v =
        r.bodyError !== null
          ? r.replies.refused(r.bodyError.status, r.bodyError.code, r.bodyError.message)
          : r.replies.done({ accepted: r.accepted, total: r.accepted + r.dropped + (r.rejected?.length ?? 0), rejected: r.rejected, bodyBytes: r.size, receivedAt: r.receivedAt });
      this.reply(r, v.status, v.body, false, false, v.contentType);
      return;
    }
    if (r.bodyError !== null) {
      this.reply(r, r.bodyError.status, errorBody(r.bodyError.code, r.bodyError.message), false, false);
      return;
    }
    if (r.rejected === null) {
      this.reply(r, 200, OK_BODY, false, false);
      return;
    }
    for (const x of r.rejected) m.eventRejected(x.code);
    if (r.kind !== 'batch') {
      const x = r.rejected[0]!;
      this.reply(r, 400, errorBody(x.code, x.error), false, false);
      return;
    }
    const n = r.rejected.length;
    const message = `${n} of ${n + r.accepted} events are invalid and were not accepted; the other ${r.accepted} were`;
    const body = { success: false, code: 'invalid_event', error: message, message, accepted: r.accepted, rejected: r.rejected };
    this.reply(r, 400, JSON.stringify(body), false, false);
  }

  private refuse(r: IngestRequest, err: HttpError, closeConnection: boolean): void {
    if (r.replies !== null) {
      const v = r.replies.refused(err.status, err.code, err.message);
      this.reply(r, v.status, v.body, err.status === 503, closeConnection, v.contentType);
      return;
    }
    this.reply(r, err.status, errorBody(err.code, err.message), err.status === 503, closeConnection);
  }

  private unauthenticated(r: IngestRequest, code: 'missing_write_key' | 'unknown_write_key', closeConnection: boolean): void {
    this.deps.metrics.unauthenticatedRequest(code);
    const message =
      code === 'missing_write_key'
        ? isJitsuPath(r.path)
          ? 'a write key is required: the X-Write-Key header (Jitsu\'s writeKey), HTTP Basic auth with the key as user name, or a writeKey field in the body'
          : 'a write key is required: HTTP Basic auth with the key as user name, or a writeKey field in the body'
        : 'the write key is not known';
    this.refuse(r, new HttpError(code, message), closeConnection);
  }

  private reply(r: IngestRequest, status: number, body: string | Buffer, retryAfter: boolean, closeConnection: boolean, contentType = 'application/json'): void {
    if (r.answered) return;
    if (!r.aborted && status === 200 && body === OK_BODY && r.origin === '' && !retryAfter && contentType === 'application/json') {
      // The usual answer (200, a server-side SDK without Origin): its bytes made once (uWS copies
      // every string argument into UTF-8 on each call), written by one constant function.
      okRes = r.res;
      okClose = closeConnection || r.closeAfter;
      r.res.cork(writeOk);
    } else if (!r.aborted) {
      let headers = corsHeaders(r.origin);
      if (retryAfter) {
        // Expose-Headers: Retry-After is not CORS-safelisted; without it a page's fetch (analytics-next) cannot read it.
        headers = [...headers, ['Retry-After', this.retryAfter], ...(r.origin !== '' ? [EXPOSE_RETRY_AFTER] : [])];
      }
      const res = r.res;
      res.cork(() => writeReply(res, status, contentType, body, headers, closeConnection || r.closeAfter));
    }
    this.done(r, status);
  }

  private done(r: IngestRequest, status: number): void {
    if (r.answered) return;
    r.answered = true;
    const m = this.deps.metrics;
    m.request(r.route === null ? r.kind : r.route.label, status === 0 ? 499 : status);
    if (r.readAt > 0) m.answered((performance.now() - r.readAt) / 1000);
    if (--this.open === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** analytics.js's project settings (settings.ts): for a known write key, pointing it back at this host. */
  private analyticsSettings(res: HttpResponse, req: HttpRequest, secure: boolean): void {
    const cors = corsHeaders(req.getHeader('origin'));
    const host = apiHostOf(req.getHeader('host'));
    const key = decodedParameter(req, 0);
    let status = 200;
    let body: string;
    // An unknown key: a page (a browser's fetch, with Origin) gets 401, so analytics.js fails to
    // load saying why. Any other client gets the settings: Segment's analytics-kotlin takes a
    // refusal as "use my built-in settings", whose apiHost is api.segment.io, and would send the
    // app's events there; here its batch gets the 401 instead (ingest-kotlin-sdk.test.ts).
    if (!this.knownKey(key) && req.getHeader('origin') !== '') {
      status = 401;
      body = UNKNOWN_KEY_BODY;
    } else if (host === null) {
      status = 400;
      body = errorBody('invalid_request', 'the Host header is needed to tell analytics.js where to send its events');
    } else {
      body = analyticsSettings(key, host, pageProtocol(req.getHeader('x-forwarded-proto'), secure));
    }
    writeJson(res, status, body, cors);
    this.deps.metrics.request('analytics-settings', status);
  }

  /** Jitsu's browser script (./jitsu-script.ts). */
  private jitsuScript(res: HttpResponse, req: HttpRequest): void {
    const headers: Headers = [...corsHeaders(req.getHeader('origin')), ['Cache-Control', JITSU_SCRIPT_CACHE]];
    writeReply(res, 200, 'application/javascript; charset=utf-8', this.jitsuJs, headers);
    this.deps.metrics.request('jitsu-script', 200);
  }

  /** posthog-js's remote config: for a known write key as token, features off; else PostHog's 401. */
  private posthogConfig(res: HttpResponse, req: HttpRequest, script: boolean): void {
    const token = decodedParameter(req, 0);
    const reply = !this.knownKey(token)
      ? POSTHOG_UNKNOWN_TOKEN
      : script
        ? posthogConfigScript(token)
        : posthogConfigJson(token);
    writeReply(res, reply.status, reply.contentType, reply.body, corsHeaders(req.getHeader('origin')));
    this.deps.metrics.request('posthog-config', reply.status);
  }

  /** posthog-js's and posthog-node's flags: none, for everyone; the body is read to its end and dropped. */
  private posthogFlags(res: HttpResponse, req: HttpRequest): void {
    const headers = corsHeaders(req.getHeader('origin'));
    const state = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    res.onData((_chunk, isLast) => {
      if (!isLast || state.aborted) return;
      res.cork(() => writeReply(res, POSTHOG_FLAGS.status, POSTHOG_FLAGS.contentType, POSTHOG_FLAGS.body, headers));
      this.deps.metrics.request('posthog-flags', POSTHOG_FLAGS.status);
    });
  }

  private preflight(res: HttpResponse, req: HttpRequest): void {
    const origin = req.getHeader('origin');
    const wanted = req.getHeader('access-control-request-headers');
    res.writeStatus(statusLine(204));
    for (const [k, v] of corsHeaders(origin)) res.writeHeader(k, v);
    res.writeHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.writeHeader('Access-Control-Allow-Headers', wanted === '' ? 'Content-Type, Authorization, Content-Encoding' : wanted);
    res.writeHeader('Access-Control-Max-Age', '86400');
    res.endWithoutBody();
  }

  private notFound(res: HttpResponse, req: HttpRequest): void {
    const url = req.getUrl();
    const call = callForPath(url);
    const route = call === undefined ? formatRoute(url) : undefined;
    if (route !== undefined) {
      const allow = !route.get ? ALLOW_POST : route.post ? ALLOW_GET_POST : ALLOW_GET;
      this.methodNotAllowed(res, req, `${url} takes ${route.get && route.post ? 'GET (or HEAD) or POST' : route.get ? 'GET (or HEAD)' : 'POST'}`, allow);
    } else if (call !== undefined) {
      this.methodNotAllowed(res, req, `${url} takes POST`, ALLOW_POST);
    } else {
      const message = `no such endpoint: ${url.slice(0, 200)}; see /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias, /v1/batch`;
      // Preflights pass on every path, so a page posting to a wrong one must be able to read why.
      writeJson(forMethod(res, req), HTTP_ERRORS.not_found, errorBody('not_found', message), corsHeaders(req.getHeader('origin')));
    }
  }

  private methodNotAllowed(res: HttpResponse, req: HttpRequest, message: string, allow: readonly [string, string]): void {
    const headers: Headers = [...corsHeaders(req.getHeader('origin')), allow];
    writeJson(forMethod(res, req), HTTP_ERRORS.method_not_allowed, errorBody('method_not_allowed', message), headers);
  }
}

/** The path of each /v1/<call> name. */
const CALL_PATHS: ReadonlyMap<string, string> = new Map([...CALLS.keys()].map((name) => [name, `/v1/${name}`]));

const ANY_ORIGIN: Headers = [['Access-Control-Allow-Origin', '*']];

// The 200 answer without Origin, as writeReply(res, 200, 'application/json', OK_BODY, ANY_ORIGIN)
// writes it, from bytes made once. The status and the three headers go in one writeStatus call: uWS
// writes its argument as is after "HTTP/1.1 " and before its own headers (Date, Content-Length),
// so the bytes are the same as four calls', and each native call we save costs ~0.1 us (a
// backing-store lookup per Buffer argument) on every single-event request.
const OK_HEAD = Buffer.from(`${statusLine(200)}\r\nContent-Type: application/json\r\n${NOSNIFF[0]}: ${NOSNIFF[1]}\r\n${ANY_ORIGIN[0]![0]}: ${ANY_ORIGIN[0]![1]}`);
const OK_BYTES = Buffer.from(OK_BODY);
/** The response writeOk answers (set just before res.cork(writeOk), which calls it at once). */
let okRes: HttpResponse | null = null;
let okClose = false;

function writeOk(): void {
  const res = okRes!;
  okRes = null;
  res.writeStatus(OK_HEAD);
  res.end(OK_BYTES, okClose);
}
const EXPOSE_RETRY_AFTER = ['Access-Control-Expose-Headers', 'Retry-After'] as const;
const ALLOW_POST = ['Allow', 'POST, OPTIONS'] as const;
const ALLOW_GET = ['Allow', 'GET, HEAD, OPTIONS'] as const;
const ALLOW_GET_POST = ['Allow', 'GET, HEAD, POST, OPTIONS'] as const;

/**
 * CORS headers of every answer: the page's origin echoed (with credentials allowed) so fetch with
 * credentials: 'include' and sendBeacon both work; the API uses no cookies, so this grants nothing
 * beyond a write key. Without an Origin (servers, SDKs: the hot path) a constant array.
 */
function corsHeaders(origin: string): Headers {
  if (origin === '') return ANY_ORIGIN;
  return [
    ['Access-Control-Allow-Origin', origin],
    ['Access-Control-Allow-Credentials', 'true'],
    ['Vary', 'Origin'],
  ];
}

