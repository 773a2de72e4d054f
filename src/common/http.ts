// Small pieces every uWebSockets.js server here shares: listening on a port, the one JSON reply
// writer (writeJson; replyJson after an await; writeReply for other media types), the one error
// reply of the read APIs (httpErrorReply), and the operational routes /healthz (alive), /readyz (dependencies reachable, 503 while draining) and
// /metrics (Prometheus text), each also answering HEAD (same status and headers, no body) and
// 405 to other methods.
//
// uWebSockets.js rules these helpers follow: a response must not be touched after the client
// aborted, so async handlers register onAborted before their first await; and writes made after
// an await are wrapped in res.cork() so status, headers and body leave in one syscall.
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import { HttpError } from './errors.js';
import { claimPort, listenError } from './listen-errors.js';
import { loadUws } from './uws.js';

export const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  202: '202 Accepted',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  411: '411 Length Required',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  422: '422 Unprocessable Content',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  501: '501 Not Implemented',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/** Tracks whether the client went away, for handlers that reply after an await. */
export interface ResponseState {
  aborted: boolean;
}

export type Headers = readonly (readonly [string, string])[];

/** The header of every API answer: never cached (each reads live data, or says why it did not). */
export const NO_STORE = ['Cache-Control', 'no-store'] as const;

/**
 * On every answer with a body, of every server here: a browser reads it as its Content-Type says,
 * never sniffs JSON (which may echo a sender's text) into HTML or script.
 */
export const NOSNIFF = ['X-Content-Type-Options', 'nosniff'] as const;

/**
 * The one JSON reply writer of every server here: status, Content-Type, NOSNIFF, `headers` ([name, value]
 * pairs, in order), the body (already serialized). `close`: close the connection after the
 * answer. Hot paths pass constant header arrays. For a HEAD request pass the headResponse() of
 * the response (getAndHead and forMethod do): the body is then left out and its length sent.
 */
export function writeJson(res: HttpResponse, status: number, body: string | Uint8Array, headers?: Headers, close = false): void {
  writeReply(res, status, 'application/json', body, headers, close);
}

/**
 * writeJson for an answer of another media type: the ingest edge answers other vendors' clients
 * in their own shapes (a 1x1 GIF for pixels, Mixpanel's text `1`).
 */
export function writeReply(res: HttpResponse, status: number, contentType: string, body: string | Uint8Array, headers?: Headers, close = false): void {
  // NOSNIFF: one constant header write per answer, not a header array to build.
  res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType).writeHeader(NOSNIFF[0], NOSNIFF[1]);
  if (headers) for (const [k, v] of headers) res.writeHeader(k, v);
  res.end(body, close);
}

/** Same as writeJson, for replies made after an await: corked, and skipped if the client left. */
export function replyJson(res: HttpResponse, state: ResponseState, status: number, body: string | Uint8Array, headers?: Headers, close = false): void {
  if (state.aborted) return;
  res.cork(() => writeJson(res, status, body, headers, close));
}

type RouteHandler = (res: HttpResponse, req: HttpRequest) => void;
type Body = string | ArrayBuffer | ArrayBufferView | undefined;

const byteLength = (b: Body): number => (b === undefined ? 0 : typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength);

/**
 * `res` as a GET handler should see it when it answers a HEAD request (RFC 9110 9.3.2: a GET's
 * status and headers, never a body): end() sends the body's length as Content-Length and no body
 * (uWS would send the bytes, which a keep-alive client reads as the start of its next answer).
 * Everything else is `res`'s own. A Proxy, so only HEAD requests pay for it.
 */
export function headResponse(res: HttpResponse): HttpResponse {
  let written = 0;
  const proxy: HttpResponse = new Proxy(res, {
    get(target, prop) {
      if (prop === 'end') return endHead;
      if (prop === 'tryEnd') return (_body: Body, total: number) => (endHead(undefined, false, total), [true, true]);
      if (prop === 'write') {
        return (chunk: Body) => {
          written += byteLength(chunk);
          return true;
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      // Chained calls (res.writeStatus(...).writeHeader(...)) stay on the proxy.
      return (...args: unknown[]) => {
        const out: unknown = (v as (...a: unknown[]) => unknown).apply(target, args);
        return out === target ? proxy : out;
      };
    },
  });
  function endHead(body?: Body, close = false, total?: number): HttpResponse {
    // The length goes as a header: this uWS build leaves a reply whose length is passed to
    // endWithoutBody (even undefined) unfinished, which aborts the process. For the same reason
    // it cannot close the connection itself: the client is told to.
    res.writeHeader('Content-Length', String(total ?? written + byteLength(body)));
    if (close) res.writeHeader('Connection', 'close');
    res.endWithoutBody();
    return proxy;
  }
  return proxy;
}

/** `res`, or its headResponse() for a HEAD request: for handlers that take any method (404, 405). */
export function forMethod(res: HttpResponse, req: HttpRequest): HttpResponse {
  return req.getMethod() === 'head' ? headResponse(res) : res;
}

/**
 * The 404 body of a path no route takes, with `hint` (what the caller likely meant) after it. A
 * HEAD's names GET, so its Content-Length is the one its GET answer has (RFC 9110 9.3.2: the same
 * header fields as for GET).
 */
export function noRouteBody(req: HttpRequest, hint = ''): string {
  const method = req.getMethod();
  const where = `no route for ${method === 'head' ? 'GET' : method.toUpperCase()} ${req.getUrl().slice(0, 200)}`;
  return JSON.stringify({ error: 'not_found', message: hint === '' ? where : `${where}: ${hint}` });
}

/**
 * Whether an Accept-Encoding header takes gzip: listed (or `*`) with a q above 0 (RFC 9110 12.5.3).
 */
export function acceptsGzip(acceptEncoding: string): boolean {
  if (acceptEncoding === '') return false;
  let star = false;
  for (const part of acceptEncoding.split(',')) {
    const [coding = '', ...params] = part.split(';');
    const name = coding.trim().toLowerCase();
    if (name !== 'gzip' && name !== 'x-gzip' && name !== '*') continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (name === '*') star = ok;
    else return ok;
  }
  return star;
}

/** Route parameter `i`, percent-decoded; '' when absent or malformed (which no key or token is). */
export function decodedParameter(req: HttpRequest, i: number): string {
  try {
    return decodeURIComponent(req.getParameter(i) ?? '');
  } catch {
    return '';
  }
}

/**
 * Serves `handler` for GET and HEAD on `pattern`, the one place HEAD is answered: the GET route
 * is the handler itself (hot paths pay nothing), HEAD gets it with headResponse(res).
 */
export function getAndHead(app: TemplatedApp, pattern: string, handler: RouteHandler): void {
  app.get(pattern, handler);
  app.head(pattern, (res, req) => handler(headResponse(res), req));
}

/**
 * Reads a request body of at most `maxBytes` as UTF-8 text: `onText` gets it whole, or
 * `onTooLarge` is called once as soon as it grows past the bound (the rest is dropped unread). The
 * usual body, one chunk, is decoded straight from uWS's chunk inside the callback (uWS reuses that
 * memory after it); longer ones are copied chunk by chunk and decoded once whole (a character may
 * span chunks). Call inside the route handler. `onWhole`, when given, is first offered a body
 * that came in one chunk as bytes (valid only during the call: uWS's memory); true: it took the
 * body, and onText is not called.
 */
export function readText(res: HttpResponse, maxBytes: number, onText: (text: string) => void, onTooLarge: () => void, onWhole?: (bytes: Buffer) => boolean): void {
  let chunks: Buffer[] | null = null;
  let size = 0;
  let refused = false;
  res.onData((chunk, last) => {
    if (refused) return;
    size += chunk.byteLength;
    if (size > maxBytes) {
      refused = true;
      onTooLarge();
      return;
    }
    if (last && chunks === null) {
      const bytes = Buffer.from(chunk);
      if (onWhole === undefined || !onWhole(bytes)) onText(bytes.toString('utf8'));
      return;
    }
    (chunks ??= []).push(Buffer.from(new Uint8Array(chunk)));
    if (last) onText(Buffer.concat(chunks, size).toString('utf8'));
  });
}

/**
 * Throws 415 `unsupported_encoding` for a request body with a Content-Encoding (the read APIs'
 * POSTs take plain JSON only), instead of reading compressed bytes as JSON and answering 400.
 */
export function requireIdentityEncoding(req: HttpRequest): void {
  const encoding = req.getHeader('content-encoding');
  if (encoding === '' || encoding.trim().toLowerCase() === 'identity') return;
  throw new HttpError('unsupported_encoding', `content encoding ${encoding.slice(0, 100)} is not accepted here; send the body uncompressed`);
}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750: the scheme in any case, one or more spaces before the token); else null. */
export function bearerToken(header: string): string | null {
  const m = /^bearer +(\S+) *$/i.exec(header);
  return m === null ? null : m[1]!;
}

/**
 * The user name and password of an `Authorization: Basic <base64>` header (the scheme in any case,
 * spaces around the credentials, either base64 alphabet); the password is null when the decoded
 * text has no colon (base64 of just a key, as some SDKs send it). Null for any other header.
 */
export function basicCredentials(header: string): { user: string; password: string | null } | null {
  const m = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (m === null) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? { user: decoded, password: null } : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export interface HttpErrorReply {
  status: number;
  body: string;
  headers: Headers;
}

const RETRY_AFTER: Headers = [['Retry-After', '1']];
const NO_HEADERS: Headers = [];
// RFC 6750: a request without credentials gets the bare challenge; a wrong token says so.
const CHALLENGE: Headers = [['WWW-Authenticate', 'Bearer realm="trackhouse"']];
const CHALLENGE_INVALID: Headers = [['WWW-Authenticate', 'Bearer realm="trackhouse", error="invalid_token"']];

/**
 * The JSON error reply of the read APIs (query, stream) for an HttpError: the status from
 * HTTP_ERRORS, `{"error": code, "parameter"?: details.parameter, "message"}`, the bearer challenge
 * on a 401 (`details.reason` 'invalid': the key is unknown), Retry-After on a retriable 503.
 */
export function httpErrorReply(err: HttpError): HttpErrorReply {
  const parameter = err.details['parameter'];
  const body =
    typeof parameter === 'string'
      ? JSON.stringify({ error: err.code, parameter, message: err.message })
      : JSON.stringify({ error: err.code, message: err.message });
  const headers = err.status === 401 ? (err.details['reason'] === 'invalid' ? CHALLENGE_INVALID : CHALLENGE) : err.retriable ? RETRY_AFTER : NO_HEADERS;
  return { status: err.status, body, headers };
}

export interface ReadinessReport {
  ready: boolean;
  /** name -> 'ok' or the reason it is not. */
  checks: Record<string, string>;
}

export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency is usable; rejects (or times out) when it is not. */
  check(): Promise<void>;
}

/** How long /readyz waits for each check by default: its answer can take this long. */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;

export interface OpsOptions {
  registry: Registry;
  checks: readonly ReadinessCheck[];
  /** True once shutdown began: /readyz answers 503 so load balancers stop sending traffic. */
  draining(): boolean;
  /** Per-check deadline. */
  checkTimeoutMs?: number;
}

export async function runReadiness(opts: OpsOptions): Promise<ReadinessReport> {
  const checks: Record<string, string> = {};
  if (opts.draining()) return { ready: false, checks: { draining: 'shutting down' } };
  const timeout = opts.checkTimeoutMs ?? READINESS_CHECK_TIMEOUT_MS;
  await Promise.all(
    opts.checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout);
          }),
        ]);
        checks[c.name] = 'ok';
      } catch (err) {
        checks[c.name] = err instanceof Error ? err.message : String(err);
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
}

const OPS_METHOD_NOT_ALLOWED = JSON.stringify({ error: 'method_not_allowed', message: 'only GET and HEAD are supported here' });

export function addOpsRoutes(app: TemplatedApp, opts: OpsOptions): void {
  const healthz = (res: HttpResponse) => writeJson(res, 200, '{"status":"ok"}');
  const readyz = (res: HttpResponse) => {
    const state: ResponseState = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    void runReadiness(opts).then((report) => {
      const body = JSON.stringify({ status: report.ready ? 'ready' : 'not ready', ...report });
      replyJson(res, state, report.ready ? 200 : 503, body);
    });
  };
  const metrics = (res: HttpResponse) => {
    const state: ResponseState = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    void opts.registry.metrics().then(
      (text) => {
        if (state.aborted) return;
        res.cork(() => {
          res.writeStatus('200 OK').writeHeader('Content-Type', opts.registry.contentType).writeHeader(NOSNIFF[0], NOSNIFF[1]);
          res.end(text);
        });
      },
      (err: unknown) => replyJson(res, state, 500, JSON.stringify({ error: 'metrics_failed', message: String(err) })),
    );
  };
  for (const [path, answer] of [
    ['/healthz', healthz],
    ['/readyz', readyz],
    ['/metrics', metrics],
  ] as const) {
    getAndHead(app, path, answer);
    const notAllowed = (res: HttpResponse) => writeJson(res, 405, OPS_METHOD_NOT_ALLOWED, [['Allow', 'GET, HEAD']]);
    app.any(path, notAllowed);
    // OPTIONS too: from uWS v20.4x on (Node 22 and 24's builds) a read API's OPTIONS catch-all
    // (`/*`, its CORS preflight) wins over this path's `any`, and the ops routes have no CORS.
    app.options(path, notAllowed);
  }
}

export interface Listening {
  readonly port: number;
  /** Stops accepting new connections; open ones stay until closeAll(). */
  close(): void;
  /** Closes every remaining connection (call once in-flight requests have been answered). */
  closeAll(): void;
}

/**
 * Listens on host:port. `portVariable` names the setting the port came from (QUERY_PORT, ...), so
 * a failure is a ConfigError that says which of HOST and that variable to change. A port another
 * process listens on is refused first (`claimPort`), unless `shared`: the caller binds it beside
 * its own listener on purpose (a TLS reload, the ingest's edge threads, whose supervisor claimed it).
 */
export async function listen(app: TemplatedApp, host: string, port: number, portVariable?: string, shared = false): Promise<Listening> {
  if (!shared) await claimPort(host, port, portVariable);
  const uws = loadUws();
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket: us_listen_socket | false) => {
      if (!socket) {
        void listenError(host, port, portVariable).then(reject);
        return;
      }
      let open = true;
      resolve({
        port: uws.us_socket_local_port(socket),
        close: () => {
          if (open) uws.us_listen_socket_close(socket);
          open = false;
        },
        closeAll: () => {
          if (open) uws.us_listen_socket_close(socket);
          open = false;
          // Present on the native App since v20.x, missing from its type declarations.
          (app as unknown as { close(): void }).close();
        },
      });
    });
  });
}

export interface OpsServer {
  readonly port: number;
  /**
   * /readyz answers 503 from now on; the port stays open, so probes keep getting that answer
   * (during the drain delay and while the sink finishes its batch) instead of a refused connection.
   */
  drain(): void;
  /** Closes the port and every connection. */
  close(): void;
}

/** A server with only the operational routes, for parts without an HTTP API (the sink). */
export async function startOpsServer(
  opts: Omit<OpsOptions, 'draining'> & {
    host: string;
    port: number;
    /** The setting the port came from (SINK_PORT). */
    portVariable: string;
    /** Told which uWebSockets.js build was loaded. */
    log?: { info(obj: object, msg: string): void };
  },
): Promise<OpsServer> {
  let draining = false;
  const app = loadUws(opts.log).App();
  addOpsRoutes(app, { ...opts, draining: () => draining });
  // Without a catch-all uWS closes the connection without an answer.
  app.any('/*', (res, req) => {
    writeJson(forMethod(res, req), 404, noRouteBody(req));
  });
  const http = await listen(app, opts.host, opts.port, opts.portVariable);
  return {
    port: http.port,
    drain: () => {
      draining = true;
    },
    close: () => http.closeAll(),
  };
}
