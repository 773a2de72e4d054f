// Small pieces every uWebSockets.js server here shares: listening on a port, the one JSON reply
// writer (writeJson; replyJson after an await; writeReply for other media types), the one error
// reply of the read APIs (httpErrorReply), and the operational routes /healthz (alive), /readyz (dependencies reachable, 503 while draining) and
// /metrics (Prometheus text), each also answering HEAD (same status and headers, no body) and
// 405 to other methods.
//
// uWebSockets.js rules these helpers follow: a response must not be touched after the client
// aborted, so async handlers register onAborted before their first await; and writes made after
// an await are wrapped in res.cork() so status, headers and body leave in one syscall.
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import type { HttpError } from './errors.js';
import { listenError } from './listen-errors.js';
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
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/** Tracks whether the client went away, for handlers that reply after an await. */
export interface ResponseState {
  aborted: boolean;
}

/**
 * Ends a reply whose status and headers are written. For a HEAD request the body is left out and
 * its length sent instead (RFC 9110: a HEAD answer has a GET's headers and never a body; uWS
 * would send the bytes, which a keep-alive client then reads as the start of its next answer).
 */
export function endReply(res: HttpResponse, body: string | Uint8Array, head: boolean, close = false): void {
  if (!head) {
    res.end(body, close);
    return;
  }
  // The length goes as a header: this uWS build leaves a reply whose length is passed to
  // endWithoutBody (even undefined) unfinished, which aborts the process.
  res.writeHeader('Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
  res.endWithoutBody();
}

export type Headers = readonly (readonly [string, string])[];

/**
 * The one JSON reply writer of every server here: status, Content-Type, `headers` ([name, value]
 * pairs, in order), the body (already serialized). `head`: a HEAD request (no body, see endReply);
 * `close`: close the connection after the answer. Hot paths pass constant header arrays.
 */
export function writeJson(res: HttpResponse, status: number, body: string | Uint8Array, headers?: Headers, head = false, close = false): void {
  writeReply(res, status, 'application/json', body, headers, head, close);
}

/**
 * writeJson for an answer of another media type: the ingest edge answers other vendors' clients
 * in their own shapes (a 1x1 GIF for pixels, Mixpanel's text `1`).
 */
export function writeReply(res: HttpResponse, status: number, contentType: string, body: string | Uint8Array, headers?: Headers, head = false, close = false): void {
  res.writeStatus(statusLine(status)).writeHeader('Content-Type', contentType);
  if (headers) for (const [k, v] of headers) res.writeHeader(k, v);
  endReply(res, body, head, close);
}

/** Same as writeJson, for replies made after an await: corked, and skipped if the client left. */
export function replyJson(res: HttpResponse, state: ResponseState, status: number, body: string | Uint8Array, headers?: Headers, head = false, close = false): void {
  if (state.aborted) return;
  res.cork(() => writeJson(res, status, body, headers, head, close));
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
  const timeout = opts.checkTimeoutMs ?? 2_000;
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
  const healthz = (res: HttpResponse, head: boolean) => writeJson(res, 200, '{"status":"ok"}', undefined, head);
  const readyz = (res: HttpResponse, head: boolean) => {
    const state: ResponseState = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    void runReadiness(opts).then((report) => {
      const body = JSON.stringify({ status: report.ready ? 'ready' : 'not ready', ...report });
      replyJson(res, state, report.ready ? 200 : 503, body, undefined, head);
    });
  };
  const metrics = (res: HttpResponse, head: boolean) => {
    const state: ResponseState = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    void opts.registry.metrics().then(
      (text) => {
        if (state.aborted) return;
        res.cork(() => {
          res.writeStatus('200 OK').writeHeader('Content-Type', opts.registry.contentType);
          endReply(res, text, head);
        });
      },
      (err: unknown) => replyJson(res, state, 500, JSON.stringify({ error: 'metrics_failed', message: String(err) }), undefined, head),
    );
  };
  for (const [path, answer] of [
    ['/healthz', healthz],
    ['/readyz', readyz],
    ['/metrics', metrics],
  ] as const) {
    app.get(path, (res) => answer(res, false));
    app.head(path, (res) => answer(res, true));
    app.any(path, (res) => writeJson(res, 405, OPS_METHOD_NOT_ALLOWED, [['Allow', 'GET, HEAD']]));
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
 * a failure is a ConfigError that says which of HOST and that variable to change.
 */
export function listen(app: TemplatedApp, host: string, port: number, portVariable?: string): Promise<Listening> {
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
    const body = JSON.stringify({ error: 'not_found', message: `no route for ${req.getMethod().toUpperCase()} ${req.getUrl().slice(0, 200)}` });
    writeJson(res, 404, body, undefined, req.getMethod() === 'head');
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
