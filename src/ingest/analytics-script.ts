// analytics.js as Segment's snippet loads it, so switching a site from Segment is changing the
// snippet's host: `<ingest>/analytics.js/v1/<writeKey>/analytics.min.js` is
// @segment/analytics-next's standalone build (dist/umd/standalone.js), and
// `<ingest>/analytics-next/bundles/<file>` the chunks it lazy-loads. The build takes its CDN from
// its own script's src (src/lib/parse-cdn.ts getCDN()), fetches `<cdn>/v1/projects/<key>/settings`
// (settings.ts) and loads chunks from `<cdn>/analytics-next/bundles/` (src/browser/standalone.ts
// sets __webpack_public_path__). Everything is read once at start; a request only picks bytes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { acceptsGzip, decodedParameter, writeJson, writeReply, type Headers } from '../common/http.js';
import { errorBody } from './problems.js';
import { UNKNOWN_KEY_BODY } from './settings.js';

/**
 * The script: short, since it names the chunks by hash, so after an upgrade a browser's old copy
 * asks for chunks no longer served until it expires.
 */
export const ANALYTICS_SCRIPT_CACHE = 'public, max-age=300';
/** A chunk named by its content's hash never changes. */
export const HASHED_CACHE = 'public, max-age=31536000, immutable';
/** dist/umd's files without a hash in their name (index.js, standalone.js and their maps). */
export const UNHASHED_CACHE = 'public, max-age=3600';

const JS = 'application/javascript; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** One file's answer: its bytes, their gzip, and how long they may be kept. */
export interface Asset {
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
}

export interface AnalyticsAssets {
  /** What /analytics.js/v1/<key>/analytics.min.js answers (the same for every key). */
  readonly script: Asset;
  /** /analytics-next/bundles/<file>: only dist/umd's own .js and .js.map files, by exact name. */
  readonly bundles: ReadonlyMap<string, Asset>;
}

/**
 * Run before the build, for a page on plain http: getCDN() only recognises an `https://` script src
 * (parse-cdn.ts: /(https:\/\/.*)\/analytics\.js\/v1\/.../), and for any other falls back to
 * https://cdn.segment.com for settings and chunks. It reads `window.analytics._cdn` (set by the
 * snippet's stub, the AnalyticsSnippet interface's `_cdn`) first, so this sets that to what the
 * build's own pattern would have taken from an https src. An https src, a `_cdn` already set or no
 * stub on the page: left as they are.
 */
export const HTTP_CDN_PROLOGUE =
  ';(function(){try{var a=window.analytics,s=document.currentScript,m;' +
  'if(a&&!a._cdn&&s&&(m=/^(http:\\/\\/.*)\\/analytics\\.js\\/v1\\//.exec(s.src)))a._cdn=m[1]}catch(e){}})();\n';

/** The standalone build's `sourceMappingURL` points beside the script; its map is a bundle file. */
const MAP_COMMENT = /\/\/# sourceMappingURL=standalone\.js\.map\s*$/;

/** Reads @segment/analytics-next's dist/umd (`dir`, for tests: another folder of the same shape). */
export function readAnalyticsAssets(dir = umdDir()): AnalyticsAssets {
  const bundles = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    if (!/\.js(\.map)?$/.test(name)) continue;
    const file = path.join(dir, name);
    const body = readFileSync(file);
    bundles.set(name, {
      body,
      // The package ships each file's gzip beside it: read, not made (~40 ms of CPU per start saved).
      gzip: existsSync(`${file}.gz`) ? readFileSync(`${file}.gz`) : gzipSync(body),
      contentType: name.endsWith('.map') ? JSON_TYPE : JS,
      cacheControl: /\.bundle\.[0-9a-f]{8,}\.js(\.map)?$/.test(name) ? HASHED_CACHE : UNHASHED_CACHE,
    });
  }
  const standalone = bundles.get('standalone.js');
  if (standalone === undefined) throw new Error(`${dir} has no standalone.js: is @segment/analytics-next installed whole?`);
  const text = HTTP_CDN_PROLOGUE + standalone.body.toString('utf8').replace(MAP_COMMENT, '//# sourceMappingURL=/analytics-next/bundles/standalone.js.map\n');
  const body = Buffer.from(text);
  return { script: { body, gzip: gzipSync(body), contentType: JS, cacheControl: ANALYTICS_SCRIPT_CACHE }, bundles };
}

function umdDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve('@segment/analytics-next/dist/umd/standalone.js'));
}

/** What the routes need from the edge: the key check, CORS headers, the request counter. */
export interface AnalyticsScriptDeps {
  knownKey(key: string): boolean;
  cors(origin: string): Headers;
  count(route: string, status: number): void;
}

const VARY: readonly [string, string] = ['Vary', 'Accept-Encoding'];
const GZIP: readonly [string, string] = ['Content-Encoding', 'gzip'];

/** GET (and HEAD, through getAndHead) of the script and of its chunks. */
export class AnalyticsScriptRoutes {
  private readonly assets: AnalyticsAssets;

  constructor(private readonly deps: AnalyticsScriptDeps, assets: AnalyticsAssets = readAnalyticsAssets()) {
    this.assets = assets;
  }

  /**
   * /analytics.js/v1/:key/analytics.min.js. An unknown key gets what the settings route answers it
   * (401 unknown_write_key): the script would load and then fail on those settings anyway, and a
   * page's console should say why at the first request.
   */
  script(res: HttpResponse, req: HttpRequest): void {
    const key = decodedParameter(req, 0);
    if (!this.deps.knownKey(key)) {
      writeJson(res, 401, UNKNOWN_KEY_BODY, this.deps.cors(req.getHeader('origin')));
      this.deps.count('analytics-script', 401);
      return;
    }
    this.write(res, req, this.assets.script);
    this.deps.count('analytics-script', 200);
  }

  /** /analytics-next/bundles/:file: a file of dist/umd by its exact name (no path reaches the disk), else 404. */
  bundle(res: HttpResponse, req: HttpRequest): void {
    const asset = this.assets.bundles.get(req.getParameter(0) ?? '');
    if (asset === undefined) {
      writeJson(res, 404, errorBody('not_found', `no such analytics.js bundle: ${req.getUrl().slice(0, 200)}`), this.deps.cors(req.getHeader('origin')));
      this.deps.count('analytics-bundle', 404);
      return;
    }
    this.write(res, req, asset);
    this.deps.count('analytics-bundle', 200);
  }

  private write(res: HttpResponse, req: HttpRequest, asset: Asset): void {
    const gzip = acceptsGzip(req.getHeader('accept-encoding'));
    const headers: Headers = [...this.deps.cors(req.getHeader('origin')), ['Cache-Control', asset.cacheControl], VARY];
    writeReply(res, 200, asset.contentType, gzip ? asset.gzip : asset.body, gzip ? [...headers, GZIP] : headers);
  }
}

