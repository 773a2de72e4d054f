// posthog-js's browser bundles (its npm package's dist/, unchanged), served at /static/<file> as
// PostHog's asset host serves them. PostHog's copy-paste snippet loads
// `api_host.replace(".i.posthog.com", "-assets.i.posthog.com") + "/static/array.js"`, so with
// api_host set to trackhouse the library comes from here; array.js then loads its lazy extensions
// from `/static/<kind>.js?v=<version>` (`/static/<version>/<kind>.js` with
// strict_script_versioning; posthog-js lib/src/entrypoints/external-scripts-loader.js) when a
// site's init options ask for one (the remote config trackhouse answers turns them all off).
// Only a fixed list of names is served: a path never reaches the file system.
//
// PostHog's second snippet (its app's JSSnippetV2, behind the remote-config flag: PostHog/posthog
// frontend/src/lib/components/JSSnippet.tsx) loads `/array/<token>/array.js` instead: array.js,
// a blank line, then the token's config script, the body of `/array/<token>/config.js`
// (RemoteConfig.get_array_js_via_token, posthog/models/remote_config.py). Served here the same
// way, for write keys, with trackhouse's config script (formats/posthog-sdk.ts).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { decodedParameter, writeReply, type Headers } from '../common/http.js';
import { posthogConfigScript } from './formats/posthog-sdk.js';
import { POSTHOG_UNKNOWN_TOKEN as UNKNOWN_TOKEN } from './formats/posthog.js';
import type { IngestMetrics } from './metrics.js';

/**
 * The loaders (array.js: PostHog's snippet; array.full.js: the snippet of posthog-js's own
 * playground) and the extensions array.js loads whose work ends in events trackhouse takes:
 * surveys.js (loaded on every page, even with surveys off in the remote config, for the
 * survey API), and, when a site's init options ask for them, exception autocapture, web vitals,
 * dead clicks and tracing headers. Not the recorders (recordings go to /s/, which trackhouse does
 * not take, and the config turns recording off), logs (/i/v1/logs), conversations and product
 * tours (PostHog's API), the chat integrations (they link replays) or the toolbar (PostHog's app).
 * Kinds: PostHogExtensionKind, posthog-js dist/src/utils/globals.d.ts.
 */
const FILES = [
  'array.js',
  'array.full.js',
  'surveys.js',
  'exception-autocapture.js',
  'web-vitals.js',
  'web-vitals-with-attribution.js',
  'web-vitals-soft-navs.js',
  'web-vitals-with-attribution-soft-navs.js',
  'dead-clicks-autocapture.js',
  'tracing-headers.js',
] as const;

/**
 * Browsers may keep a file an hour: a new package version shows within that. A script loaded with
 * crossOrigin "anonymous" (the snippet's) needs CORS; no credentials go with it, so any origin.
 */
const HEADERS: Headers = [
  ['Access-Control-Allow-Origin', '*'],
  ['Cache-Control', 'public, max-age=3600'],
];

export interface PosthogScripts {
  /** The installed posthog-js version, as array.js reports it (`?v=`, `/static/<version>/`). */
  readonly version: string;
  readonly files: ReadonlyMap<string, Buffer>;
}

let read: PosthogScripts | undefined;

/**
 * The installed package's files, read once per process: at the edge's start, when it registers
 * its routes (once per listener: plain and TLS share them).
 */
export function readPosthogScripts(): PosthogScripts {
  if (read !== undefined) return read;
  const pkg = createRequire(import.meta.url).resolve('posthog-js/package.json');
  const dist = join(dirname(pkg), 'dist');
  const files = new Map<string, Buffer>();
  for (const name of FILES) {
    const path = join(dist, name);
    if (existsSync(path)) files.set(name, readFileSync(path));
  }
  if (!files.has('array.js')) throw new Error(`posthog-js has no dist/array.js at ${dist}`);
  read = { version: (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version, files };
  return read;
}

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** What `/array/<token>/array.js` needs from the edge: the key check and its CORS headers. */
export interface PosthogArrayDeps {
  knownKey(token: string): boolean;
  cors(origin: string): Headers;
}

/**
 * Tokens whose joined array.js is kept (each ~380 KB). Only write keys get one, a fixed set, so
 * the bound is never reached in practice; past it the oldest is dropped (and built again if asked).
 */
export const MAX_ARRAY_SCRIPTS = 32;

/** `/array/<token>/array.js` bodies, each joined once, when its token is first asked for. */
export class PosthogArrayScripts {
  private readonly joined = new Map<string, Buffer>();

  constructor(
    private readonly arrayJs: Buffer,
    private readonly bound = MAX_ARRAY_SCRIPTS,
  ) {}

  /** array.js, a blank line, the token's config script: the order of PostHog's get_array_js_via_token. */
  body(token: string): Buffer {
    let body = this.joined.get(token);
    if (body === undefined) {
      if (this.joined.size >= this.bound) this.joined.delete(this.joined.keys().next().value as string);
      body = Buffer.concat([this.arrayJs, Buffer.from(`\n\n${posthogConfigScript(token).body}`)]);
      this.joined.set(token, body);
    }
    return body;
  }

  get size(): number {
    return this.joined.size;
  }
}

const JS = 'application/javascript; charset=utf-8';

/**
 * The GET routes: /static/<file>, and /static/<version>/<file> for the installed version or its
 * major (posthog-js's loader's data-sdk-version may give either). Any other name or version gets
 * the edge's 404 (`notFound`). The files are read here, once. And /array/<token>/array.js: for a
 * token that is not a write key, the 401 the config routes answer it.
 */
export function posthogScriptRoutes(metrics: IngestMetrics, notFound: Handler, deps: PosthogArrayDeps, scripts = readPosthogScripts()): [string, Handler][] {
  const { version, files } = scripts;
  const major = version.slice(0, version.indexOf('.'));
  const serve = (res: HttpResponse, req: HttpRequest, name: string | undefined): void => {
    const body = name === undefined ? undefined : files.get(name);
    if (body === undefined) return notFound(res, req);
    writeReply(res, 200, JS, body, HEADERS);
    metrics.request('posthog-script', 200);
  };
  const withConfig = new PosthogArrayScripts(files.get('array.js')!);
  return [
    [
      '/array/:token/array.js',
      (res, req) => {
        const token = decodedParameter(req, 0);
        if (!deps.knownKey(token)) {
          writeReply(res, UNKNOWN_TOKEN.status, UNKNOWN_TOKEN.contentType, UNKNOWN_TOKEN.body, deps.cors(req.getHeader('origin')));
          metrics.request('posthog-array-script', UNKNOWN_TOKEN.status);
          return;
        }
        writeReply(res, 200, JS, withConfig.body(token), HEADERS);
        metrics.request('posthog-array-script', 200);
      },
    ],
    ['/static/:file', (res, req) => serve(res, req, req.getParameter(0))],
    [
      '/static/:version/:file',
      (res, req) => {
        const v = req.getParameter(0);
        serve(res, req, v === version || v === major ? req.getParameter(1) : undefined);
      },
    ],
  ];
}
