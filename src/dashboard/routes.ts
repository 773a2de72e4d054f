// The dashboard's routes on the query server:
//   GET /dashboard                       the page (no key needed: it holds no data)
//   GET /dashboard/assets/<build>/<file> its scripts, styles and uPlot, cached for a year
//   GET /v1/pipeline                     ingest health and sink lag, read key required
// Each also answers HEAD (a GET's headers, no body); other methods get 405. Every answer carries
// the query port's CORS headers (the page and its files too: they hold no data, so any page may
// read them as it may load them); the query server adds OPTIONS and the trailing slash.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Cors } from '../common/cors.js';
import { HTTP_ERRORS, type HttpErrorCode } from '../common/errors.js';
import { acceptsGzip, forMethod, getAndHead, NO_STORE, replyJson, statusLine, writeJson, type Headers, type ResponseState } from '../common/http.js';
import type { Logger } from '../common/log.js';
import type { DashboardConfig } from '../config/index.js';
import { asset, loadAssets, type Asset, type Assets } from './assets.js';
import { renderPage } from './page.js';
import { createPipelineReader, type PipelineReader } from './pipeline.js';

export interface DashboardOptions {
  config: DashboardConfig;
  log: Logger;
  /** Throws the API's own error when the request may not read data (draining, no or unknown read key). */
  admit(req: HttpRequest): void;
  /** Writes that error as the API does (inside the handler or a cork), with the request's CORS headers. */
  fail(res: HttpResponse, err: unknown, cors: Headers): void;
  /** The query port's CORS (QUERY_CORS_ORIGINS). */
  cors: Cors;
  /** For tests: other files, another reader. */
  assets?: Assets;
  pipeline?: PipelineReader;
}

export const PAGE_PATH = '/dashboard';
const ASSETS_PREFIX = `${PAGE_PATH}/assets/`;

/**
 * Only this server's own files and API: no inline script or style, no other origin, no framing.
 * uPlot styles its elements through the CSSOM (element.style), which style-src does not govern.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ['Content-Security-Policy', CONTENT_SECURITY_POLICY],
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'no-referrer'],
  ['X-Frame-Options', 'DENY'],
];

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

export function addDashboardRoutes(app: TemplatedApp, opts: DashboardOptions): void {
  const assets = opts.assets ?? loadAssets();
  if (assets.problem) opts.log.warn({ problem: assets.problem }, 'dashboard not available');
  const base = `${ASSETS_PREFIX}${assets.buildId}/`;
  const page = asset(Buffer.from(renderPage(base, assets.problem)), 'text/html; charset=utf-8');
  const pipeline = opts.pipeline ?? createPipelineReader(opts.config);

  const servePage = (res: HttpResponse, req: HttpRequest) => {
    serveFile(res, req, page, REVALIDATE, assets.problem ? 503 : 200, opts.cors.of(req));
  };
  const serveAsset = (res: HttpResponse, req: HttpRequest) => {
    const rest = req.getUrl().slice(ASSETS_PREFIX.length);
    const slash = rest.indexOf('/');
    const file = slash > 0 && rest.slice(0, slash) === assets.buildId ? assets.files.get(rest.slice(slash + 1)) : undefined;
    if (file === undefined) {
      // Another build's URL (a tab opened before an upgrade) or no such file: reloading the page fixes the first.
      refuse(res, 'not_found', 'no such dashboard file in this build; reload the page', [...opts.cors.of(req), NO_STORE]);
      return;
    }
    serveFile(res, req, file, IMMUTABLE, 200, opts.cors.of(req));
  };
  const servePipeline = (res: HttpResponse, req: HttpRequest) => {
    const cors = opts.cors.of(req);
    try {
      opts.admit(req);
    } catch (err) {
      opts.fail(res, err, cors);
      return;
    }
    const state: ResponseState = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    void pipeline.read().then(
      (status) => replyJson(res, state, 200, JSON.stringify(status), [...cors, NO_STORE]),
      (err: unknown) => {
        // The reader turns every failure into the status body; this is a bug, not a dependency.
        opts.log.error({ err }, 'pipeline status failed');
        if (!state.aborted) res.cork(() => opts.fail(res, err, cors));
      },
    );
  };

  const headers: Headers = [['Allow', 'GET, HEAD, OPTIONS'], NO_STORE];
  // `/dashboard/` too: the query server registers each pattern with a trailing slash.
  for (const [path, handler] of [
    [PAGE_PATH, servePage],
    [`${ASSETS_PREFIX}*`, serveAsset],
    ['/v1/pipeline', servePipeline],
  ] as const) {
    getAndHead(app, path, handler);
    app.any(path, (res, req) => refuse(forMethod(res, req), 'method_not_allowed', 'only GET, HEAD here', [...opts.cors.of(req), ...headers]));
  }
}

/** A refusal of the dashboard's own (no file, wrong method): the API's JSON error body, its status from HTTP_ERRORS. */
function refuse(res: HttpResponse, code: HttpErrorCode, message: string, headers: Headers): void {
  writeJson(res, HTTP_ERRORS[code], JSON.stringify({ error: code, message }), headers);
}

/** A file with its validators: 304 when the client has it, gzip when it takes it. */
function serveFile(res: HttpResponse, req: HttpRequest, file: Asset, cacheControl: string, status: number, cors: Headers): void {
  const notModified = status === 200 && matches(req.getHeader('if-none-match'), file.etag);
  const gzip = file.gzip !== null && acceptsGzip(req.getHeader('accept-encoding'));
  res.writeStatus(notModified ? '304 Not Modified' : statusLine(status));
  res.writeHeader('Content-Type', file.type);
  res.writeHeader('Cache-Control', status === 200 ? cacheControl : 'no-store');
  res.writeHeader('ETag', file.etag);
  res.writeHeader('Vary', 'Accept-Encoding');
  for (const [k, v] of SECURITY_HEADERS) res.writeHeader(k, v);
  for (const [k, v] of cors) res.writeHeader(k, v);
  if (notModified) {
    res.endWithoutBody();
    return;
  }
  if (gzip) res.writeHeader('Content-Encoding', 'gzip');
  res.end(gzip ? file.gzip! : file.body);
}

/** If-None-Match: a list of entity tags (weak ones compare equal for GET, RFC 9110 13.1.2), or "*". */
export function matches(header: string, etag: string): boolean {
  if (header === '') return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
