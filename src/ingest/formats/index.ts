// The ingest port's other input formats: which path is which vendor, the rule for the paths two
// vendors share, and each request's payload -> translation + the vendor's answers.
//
// Routing: by path first; on a shared path, by the body and its key field:
// - `/batch`: Amplitude's Batch API when the body is an object with an `events` array
//   (`{"api_key","events":[...]}`), PostHog otherwise (`{"api_key","batch":[...]}`, an array, an event).
// - `/track`, `/engage`: PostHog when the request shows PostHog's marks: `compression=` (lz64,
//   gzip-js, base64), a top-level `api_key` / `token` / `batch`, or events with a top-level
//   `distinct_id`, `uuid` or `timestamp` (Mixpanel's events hold only `event` and `properties`;
//   its engage updates only `$` fields); Mixpanel otherwise.
// The Segment paths (`/v1/...`) never come here.
import type { EventType } from '../../schema/index.js';
import { amplitudeReplies, readAmplitudeJson, translateAmplitude } from './amplitude.js';
import { mixpanelReplies, readMixpanelJson, translateMixpanel } from './mixpanel.js';
import { readVendorPayload, type VendorPayload } from './payload.js';
import { PIXEL_CALLS, pixelReplies, translatePixel } from './pixel.js';
import { posthogEvents, posthogReplies, readPosthogJson, translatePosthog } from './posthog.js';
import { readSnowplowJson, snowplowReplies, TP2_PATH, translateSnowplow } from './snowplow.js';
import { GIF_1X1, isObject, type Replies, type TranslateOptions, type Translation } from './types.js';

export { Refused, type Outcome, type Replies, type SegmentCall, type TranslateOptions, type Translation, type VendorReply } from './types.js';
export { translateAmplitude, amplitudeEvent, readAmplitudeJson } from './amplitude.js';
export { translateMixpanel, mixpanelEvent, mixpanelEngage, mixpanelGroup, readMixpanelJson } from './mixpanel.js';
export { translatePosthog, posthogEvent, readPosthogJson } from './posthog.js';
export { translateSnowplow, snowplowEvent, readSnowplowJson } from './snowplow.js';
export { translatePixel } from './pixel.js';
export { readVendorPayload } from './payload.js';

export type Vendor = 'posthog' | 'amplitude' | 'mixpanel' | 'snowplow' | 'segment-pixel';

export type RouteId =
  | 'posthog'
  | 'batch'
  | 'amplitude'
  | 'track'
  | 'engage'
  | 'mixpanel-import'
  | 'mixpanel-groups'
  | 'snowplow-pixel'
  | 'snowplow'
  | 'segment-pixel';

export interface FormatRoute {
  id: RouteId;
  /** Metrics label. */
  label: string;
  get: boolean;
  post: boolean;
  /** The call of a Segment pixel path. */
  pixelCall?: EventType;
}

const route = (id: RouteId, get: boolean, post: boolean, label: string = id): FormatRoute => ({ id, label, get, post });

const ROUTES: ReadonlyMap<string, FormatRoute> = new Map<string, FormatRoute>([
  ['/e', route('posthog', true, true)],
  ['/i/v0/e', route('posthog', false, true)],
  ['/capture', route('posthog', true, true)],
  ['/batch', route('batch', false, true)],
  ['/2/httpapi', route('amplitude', false, true)],
  ['/track', route('track', true, true)],
  ['/engage', route('engage', true, true)],
  ['/import', route('mixpanel-import', true, true)],
  // Mixpanel's group profile updates: PostHog has no such path, so the body is never asked whose.
  ['/groups', route('mixpanel-groups', true, true)],
  ['/i', route('snowplow-pixel', true, false)],
  [TP2_PATH, route('snowplow', false, true)],
  ...[...PIXEL_CALLS].map((c): [string, FormatRoute] => [`/v1/pixel/${c}`, { ...route('segment-pixel', true, false), pixelCall: c as EventType }]),
]);

/** The format route of a path (a trailing slash is accepted), or undefined. */
export function formatRoute(url: string): FormatRoute | undefined {
  const hit = ROUTES.get(url);
  if (hit !== undefined || url.length < 2 || !url.endsWith('/')) return hit;
  return ROUTES.get(url.slice(0, -1));
}

export const FORMAT_PATHS: readonly string[] = [...ROUTES.keys()];

/** Answers for refusals before the body says which vendor it is: the path's own (or first) vendor. */
export function defaultReplies(r: FormatRoute, query: string): Replies {
  switch (r.id) {
    case 'posthog':
    case 'batch':
      return posthogReplies;
    case 'amplitude':
      return amplitudeReplies;
    case 'track':
    case 'engage':
    case 'mixpanel-import':
    case 'mixpanel-groups':
      return mixpanelReplies(mixpanelStyle(r.id, new URLSearchParams(query), false));
    case 'snowplow':
      return snowplowReplies(null);
    case 'snowplow-pixel':
      return snowplowReplies(GIF_1X1);
    case 'segment-pixel':
      return pixelReplies;
  }
}

function mixpanelStyle(id: RouteId, params: URLSearchParams, json: boolean): 'plain' | 'verbose' | 'import' {
  if (id === 'mixpanel-import' && (json || params.get('strict') === '1')) return 'import';
  return params.get('verbose') === '1' ? 'verbose' : 'plain';
}

/**
 * Mixpanel's `ip=0`: "do not take this request's address for the user". Its server SDKs send it
 * by default (mixpanel on npm: `geolocate: false`), as their requests come from the site's own
 * servers; Mixpanel then records no location from the address, and stores no address at all.
 */
function mixpanelNoIp(params: URLSearchParams): boolean {
  return params.get('ip') === '0';
}

const POSTHOG_COMPRESSION: ReadonlySet<string> = new Set(['lz64', 'gzip-js', 'gzip', 'base64']);

/** The shared-path rule for `/track` and `/engage` (see the top of this file). */
export function looksLikePosthog(p: VendorPayload): boolean {
  if (p.compression !== null && POSTHOG_COMPRESSION.has(p.compression)) return true;
  const v = p.value;
  if (isObject(v) && (v.api_key !== undefined || v.token !== undefined || v.batch !== undefined)) return true;
  const first = Array.isArray(v) ? v[0] : v;
  return isObject(first) && (first.distinct_id !== undefined || first.uuid !== undefined || first.timestamp !== undefined || first.api_key !== undefined);
}

export interface Decoded {
  vendor: Vendor;
  translation: Translation;
  replies: Replies;
  /** A key the request gives outside its events (Mixpanel's `api_key=`): it wins over theirs, as a Basic auth key does. */
  requestKey?: string;
  /**
   * The caller's address is not the user's (Mixpanel's `ip=0`, its server SDKs' default): no
   * context.ip is filled from it; an address the events carry is still taken.
   */
  noCallerIp?: boolean;
}

/**
 * A request of `route` -> its vendor, translation and answers. `body` has its Content-Encoding
 * undone (empty for GET); `userAgent` is its User-Agent header (TranslateOptions.userAgent).
 * Throws HttpError for a body that cannot be read.
 */
export function decodeRequest(r: FormatRoute, body: Buffer, query: string, limit: number, receivedAt: number, userAgent = ''): Decoded {
  // Calls in the form normalizeEvent reads cheapest (the edge normalizes them at once).
  const opts = { receivedAt, skew: true, prepared: true, userAgent };
  if (r.id === 'snowplow-pixel') {
    const params: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(query)) params[k] = v;
    return { vendor: 'snowplow', translation: translateSnowplow(params, opts), replies: snowplowReplies(GIF_1X1) };
  }
  // Each vendor's bodies are read by its reader (../jsontext.ts): event properties kept as their
  // text, 64-bit integers as sent. /batch picks PostHog's or Amplitude's by its start; the shared
  // /track and /engage are read as Mixpanel's, and read again as PostHog's when they are that.
  const p = readVendorPayload(body, query, limit, READERS[r.id]);
  switch (r.id) {
    case 'segment-pixel':
      return { vendor: 'segment-pixel', translation: translatePixel(p.value, r.pixelCall!), replies: pixelReplies };
    case 'snowplow':
      return { vendor: 'snowplow', translation: translateSnowplow(p.value, opts), replies: snowplowReplies(null) };
    case 'amplitude':
      return { vendor: 'amplitude', translation: translateAmplitude(p.value, opts), replies: amplitudeReplies };
    case 'batch':
      if (isObject(p.value) && Array.isArray(p.value.events)) return { vendor: 'amplitude', translation: translateAmplitude(p.value, opts), replies: amplitudeReplies };
      return posthog(p, opts);
    case 'posthog':
      return posthog(p, opts);
    case 'track':
    case 'engage':
      if (looksLikePosthog(p)) return posthog({ ...p, value: readPosthogJson(p.text) ?? JSON.parse(p.text) }, opts);
      return {
        vendor: 'mixpanel',
        translation: translateMixpanel(p.value, r.id),
        replies: mixpanelReplies(mixpanelStyle(r.id, p.params, false)),
        noCallerIp: mixpanelNoIp(p.params),
      };
    case 'mixpanel-groups':
      return {
        vendor: 'mixpanel',
        translation: translateMixpanel(p.value, 'groups'),
        replies: mixpanelReplies(mixpanelStyle(r.id, p.params, false)),
        noCallerIp: mixpanelNoIp(p.params),
      };
    case 'mixpanel-import':
      return {
        vendor: 'mixpanel',
        translation: translateMixpanel(p.value, 'import'),
        replies: mixpanelReplies(mixpanelStyle(r.id, p.params, !p.form)),
        requestKey: p.params.get('api_key') ?? undefined,
        noCallerIp: mixpanelNoIp(p.params),
      };
  }
}

/** The vendors whose payloads `trackhouse import` reads (Mixpanel's events, engage updates and group updates apart). */
export type PayloadVendor = 'posthog' | 'amplitude' | 'mixpanel' | 'mixpanel-engage' | 'mixpanel-groups' | 'snowplow';

/**
 * One payload of a known vendor -> Segment calls, with no HTTP: what `trackhouse import` needs
 * for a line or a file of another tool's events. Pass `skew: false` to keep historical times as
 * given; normalize the calls with `msTimes: true` (they may carry Unix-ms times).
 */
export function translatePayload(vendor: PayloadVendor, value: unknown, opts: TranslateOptions): Translation {
  switch (vendor) {
    case 'posthog':
      return translatePosthog(value, opts);
    case 'amplitude':
      return translateAmplitude(value, opts);
    case 'mixpanel':
      return translateMixpanel(value, 'import');
    case 'mixpanel-engage':
      return translateMixpanel(value, 'engage');
    case 'mixpanel-groups':
      return translateMixpanel(value, 'groups');
    case 'snowplow':
      return translateSnowplow(value, opts);
  }
}

/**
 * /batch's body for readPosthogJson, unless its start names `events` (Amplitude's SDKs write it
 * second, after api_key; Python's, with sorted keys, first): then for readAmplitudeJson, rather
 * than scanned to where PostHog's reader gives up. Only the start is searched (a PostHog body has
 * no `events`, and searching all of it cost more than the rest of the request); a later top-level
 * `events` array makes PostHog's reader give up, and Amplitude's then reads it.
 */
function readBatchJson(text: string): unknown {
  if (text.lastIndexOf('"events"', 512) >= 0) return readAmplitudeJson(text);
  return readPosthogJson(text) ?? (text.includes('"events"') ? readAmplitudeJson(text) : null);
}

/** The JSON reader of each route's bodies (none for the pixels, whose payload is the query). */
const READERS: Partial<Record<RouteId, (text: string) => unknown>> = {
  posthog: readPosthogJson,
  batch: readBatchJson,
  amplitude: readAmplitudeJson,
  snowplow: readSnowplowJson,
  track: readMixpanelJson,
  engage: readMixpanelJson,
  'mixpanel-import': readMixpanelJson,
  'mixpanel-groups': readMixpanelJson,
};

/**
 * The JSON reader of a vendor's payloads, for `trackhouse import`'s lines (readPosthogJson ...):
 * null from it means "use JSON.parse".
 */
export function payloadReader(vendor: PayloadVendor): (text: string) => unknown {
  switch (vendor) {
    case 'posthog':
      return readPosthogJson;
    case 'amplitude':
      return readAmplitudeJson;
    case 'mixpanel':
    case 'mixpanel-engage':
    case 'mixpanel-groups':
      return readMixpanelJson;
    case 'snowplow':
      return readSnowplowJson;
  }
}

/** 2021-01-01: a query send time before it is not milliseconds (PostHog's capture's own bound). */
const QUERY_SENT_AT_FLOOR = Date.UTC(2021, 0, 1);

/**
 * The send time posthog-js puts in the query, `sent_at=<ms>` or `_=<ms>`, as PostHog's capture
 * reads it: Unix milliseconds after 2020, else none. Older clients sent seconds there, which taken
 * as milliseconds (1970) would push their events ~56 years ahead by the skew correction.
 */
function querySentAt(params: URLSearchParams): number | undefined {
  const v = params.get('sent_at') ?? params.get('_');
  if (v === null || !/^\d{1,16}$/.test(v)) return undefined;
  const ms = Number(v);
  return ms > QUERY_SENT_AT_FLOOR ? ms : undefined;
}

function posthog(p: VendorPayload, opts: { receivedAt: number; skew: boolean }): Decoded {
  // A body's own sent_at wins over the query's (translatePosthog), as in PostHog's capture.
  const sentAtMs = querySentAt(p.params);
  if (posthogEvents(p.value) === null) return { vendor: 'posthog', translation: { key: undefined, calls: [], raw: [] }, replies: posthogReplies };
  return { vendor: 'posthog', translation: translatePosthog(p.value, opts, sentAtMs), replies: posthogReplies };
}
