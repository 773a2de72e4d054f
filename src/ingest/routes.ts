// The Segment HTTP Tracking API paths the edge answers, and the call each one means.
//
// Besides the documented /v1/<call> and /v1/batch: analytics.js / analytics-next post each call
// to its first letter (/v1/t, /v1/p, /v1/i, /v1/g, /v1/a, /v1/s) and batches to /v1/b; Segment's
// import tools post batches to /v1/import.
//
// Jitsu's SDKs (@jitsu/js, its p.js script) post one event per request to /api/s/<call> from a
// browser and /api/s/s2s/<call> from a server, in Segment's event format (Jitsu took it over).
import { EVENT_TYPES, type EventType } from '../schema/index.js';

export type CallKind = EventType | 'batch';

export const CALLS: ReadonlyMap<string, CallKind> = new Map<string, CallKind>([
  ['track', 'track'],
  ['t', 'track'],
  ['identify', 'identify'],
  ['i', 'identify'],
  ['page', 'page'],
  ['p', 'page'],
  ['screen', 'screen'],
  ['s', 'screen'],
  ['group', 'group'],
  ['g', 'group'],
  ['alias', 'alias'],
  ['a', 'alias'],
  ['batch', 'batch'],
  ['b', 'batch'],
  ['import', 'batch'],
]);

/** Jitsu's calls: one event each, named in full (the event types). */
const JITSU_CALLS: ReadonlyMap<string, CallKind> = new Map<string, CallKind>(EVENT_TYPES.map((c) => [c, c]));
/** Jitsu's path prefixes: a browser's, and the server-to-server one under it. */
const JITSU_BROWSER = '/api/s/';
const JITSU_SERVER = '/api/s/s2s/';

/**
 * The call named by a path's last segment (`/v1/track`, `/v1/track/`, Jitsu's `/api/s/track`,
 * `/api/s/s2s/track`), or undefined.
 */
export function callForPath(url: string): CallKind | undefined {
  const end = url.endsWith('/') ? url.length - 1 : url.length;
  if (url.startsWith('/v1/')) return CALLS.get(url.slice(4, end));
  if (!isJitsuPath(url)) return undefined;
  return JITSU_CALLS.get(url.slice(url.startsWith(JITSU_SERVER) ? JITSU_SERVER.length : JITSU_BROWSER.length, end));
}

/**
 * A path of Jitsu's server-to-server calls (/api/s/s2s/): they come from the site's backend, so
 * its address is not the user's; Jitsu's own ingest fills context.ip for browser calls only (it
 * records the caller as a separate requestIp).
 */
export function isJitsuServerPath(url: string): boolean {
  return url.startsWith(JITSU_SERVER);
}

/** A path under Jitsu's /api/s/ (whose write key comes in X-Write-Key). */
export function isJitsuPath(url: string): boolean {
  return url.startsWith(JITSU_BROWSER);
}
