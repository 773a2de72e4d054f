// CORS for a read API whose keys travel in headers (Authorization), never in cookies: browser
// pages of the allowed origins may call it and read its answers, errors included. Never
// Access-Control-Allow-Credentials: no cookie or TLS client certificate is ever asked for, so a
// page reads only what the key it sends reads, and `*` (the default) grants nothing beyond that.
//
// Every header pair is made once, when the server starts: an answer adds a constant array, so the
// per-user events page (thousands a second) allocates nothing for it, and with `*` it does not
// even read the Origin header.
//
// (The ingest edge has CORS of its own, src/ingest/edge.ts: every origin echoed, credentials
// allowed, since browser SDKs post with sendBeacon and `credentials: 'include'`.)
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { statusLine, type Headers } from './http.js';

/** Which pages may read the API: '*' any, or these origins (scheme://host[:port]); [] none (CORS off). */
export type CorsOrigins = '*' | readonly string[];

/** How long a browser may keep a preflight's answer (Chromium keeps it 2 hours at most). */
const PREFLIGHT_MAX_AGE_S = 86_400;
/** Allowed request headers when a preflight names none. */
const DEFAULT_ALLOW_HEADERS = 'Authorization, Content-Type';

const NONE: Headers = [];

/**
 * What a page may read of the read APIs' answers (the query port's, `trackhouse alerts`') besides
 * the safelisted headers: when to retry a 503 or 429, why a key was refused, what a 405's path takes.
 */
export const READ_API_EXPOSED_HEADERS = ['Retry-After', 'WWW-Authenticate', 'Allow'] as const;

export interface Cors {
  /**
   * The CORS headers of an answer to `req`: Access-Control-Allow-Origin and -Expose-Headers when
   * its Origin may read it (plus `Vary: Origin` for a list of origins, on every answer), else none.
   * Constant arrays, the same object each time for the same origin: keep it to answer later (the
   * request is gone after its handler returns). Reads the Origin header only for a list.
   */
  of(req: HttpRequest): Headers;
  /**
   * `base` followed by `of()`'s headers, made once for each of them: for an answer with constant
   * headers on a hot path (`with(REPLY)(cors)` is a lookup, not an array). `base` must be a
   * constant: one entry is kept per call of with().
   */
  with(base: Headers): (cors: Headers) => Headers;
  /**
   * Answers OPTIONS on a path that takes `methods` (e.g. 'GET, HEAD, OPTIONS'): 204 with `Allow`,
   * and for an allowed origin's preflight Access-Control-Allow-Methods (the same methods),
   * -Allow-Headers (those the preflight asks for, else Authorization and Content-Type) and
   * -Max-Age. Call inside the handler.
   */
  preflight(res: HttpResponse, req: HttpRequest, methods: string): void;
  /**
   * A preflight on a path no route takes: answered (204, allowing the method it asks for) when
   * CORS allows its origin, so the page's request goes on to read the 404 that says why; true.
   * False, nothing written, for anything else (not a preflight, an origin not allowed).
   */
  preflightAnyPath(res: HttpResponse, req: HttpRequest): boolean;
}

/**
 * The CORS of `origins`; `expose`: the answers' headers a page's script may read beyond the
 * safelisted ones (Retry-After on a 503, ...).
 */
export function createCors(origins: CorsOrigins, expose: readonly string[]): Cors {
  const exposeHeaders = ['Access-Control-Expose-Headers', expose.join(', ')] as const;
  const allow = (origin: string): Headers => (expose.length > 0 ? [['Access-Control-Allow-Origin', origin], exposeHeaders] : [['Access-Control-Allow-Origin', origin]]);
  let of: (req: HttpRequest) => Headers;
  /** Every array of() returns, for with() and to tell an allowed origin's apart. */
  let allowed: readonly Headers[];
  let answers: readonly Headers[];
  if (origins === '*') {
    // The same answer for every origin (and none): no Vary, and the header is not even read.
    const any = allow('*');
    of = () => any;
    allowed = [any];
    answers = [any];
  } else if (origins.length === 0) {
    of = () => NONE;
    allowed = [];
    answers = [NONE];
  } else {
    const vary = ['Vary', 'Origin'] as const;
    const byOrigin = new Map(origins.map((o) => [o, [...allow(o), vary] as Headers]));
    const other: Headers = [vary];
    of = (req) => byOrigin.get(req.getHeader('origin')) ?? other;
    allowed = [...byOrigin.values()];
    answers = [...allowed, other];
  }
  const isAllowed = (h: Headers) => allowed.includes(h);

  const writePreflight = (res: HttpResponse, req: HttpRequest, cors: Headers, methods: string, known: boolean) => {
    res.writeStatus(statusLine(204));
    if (known) res.writeHeader('Allow', methods);
    for (const [k, v] of cors) res.writeHeader(k, v);
    if (isAllowed(cors)) {
      const wanted = req.getHeader('access-control-request-headers');
      res.writeHeader('Access-Control-Allow-Methods', methods);
      res.writeHeader('Access-Control-Allow-Headers', wanted === '' ? DEFAULT_ALLOW_HEADERS : wanted);
      res.writeHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S));
      // The answer echoes the headers asked for: a cache must not give it to another preflight.
      if (wanted !== '') res.writeHeader('Vary', 'Access-Control-Request-Headers');
    }
    res.endWithoutBody();
  };

  return {
    of,
    with(base) {
      const joined = new Map(answers.map((h) => [h, [...base, ...h] as Headers]));
      return (cors) => joined.get(cors) ?? [...base, ...cors];
    },
    preflight: (res, req, methods) => writePreflight(res, req, of(req), methods, true),
    preflightAnyPath(res, req) {
      const method = req.getHeader('access-control-request-method');
      const cors = of(req);
      if (method === '' || !isAllowed(cors)) return false;
      writePreflight(res, req, cors, method, false);
      return true;
    },
  };
}
