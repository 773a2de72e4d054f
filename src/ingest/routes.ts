// The Segment HTTP Tracking API paths the edge answers, and the call each one means.
//
// Besides the documented /v1/<call> and /v1/batch: analytics.js / analytics-next post each call
// to its first letter (/v1/t, /v1/p, /v1/i, /v1/g, /v1/a, /v1/s) and batches to /v1/b; Segment's
// import tools post batches to /v1/import.
import type { EventType } from '../schema/index.js';

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

/** The call named by a path's last segment (`/v1/track`, `/v1/track/`), or undefined. */
export function callForPath(url: string): CallKind | undefined {
  if (!url.startsWith('/v1/')) return undefined;
  const end = url.endsWith('/') ? url.length - 1 : url.length;
  return CALLS.get(url.slice(4, end));
}
