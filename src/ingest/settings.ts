// analytics.js's project settings (`GET /v1/projects/<writeKey>/settings`), which analytics-next
// fetches from its `cdnURL` before it sends anything: Segment's proxy set-up is
// `AnalyticsBrowser.load({ writeKey, cdnURL: '<trackhouse ingest URL>' })`, and without an answer
// here it does not load at all. The settings point its Segment.io destination back at the host the
// page reached (`apiHost`), turn its metrics off (they would go to api.segment.io), and enable
// no other destination. Segment's Android SDK, analytics-kotlin, reads the same settings from its
// `cdnHost`; the edge answers it even for an unknown key, since that SDK takes a refusal as a
// reason to send to api.segment.io (a page's request is refused). Pure: the edge checks the key
// and picks host and protocol.
import { errorBody } from './problems.js';

/** What a write key in the path that is not known gets, from a page here and for the script (analytics-script.ts). */
export const UNKNOWN_KEY_BODY = errorBody('unknown_write_key', 'the write key in the path is not known');

/** Settings in the shape Segment's CDN serves, for `apiHost` (host[:port]) and `protocol`. */
export function analyticsSettings(writeKey: string, apiHost: string, protocol: 'http' | 'https'): string {
  return JSON.stringify({
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost: `${apiHost}/v1`,
        protocol,
        unbundledIntegrations: [],
        addBundledMetadata: true,
        maybeBundledConfigIds: {},
      },
    },
    plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  });
}

/**
 * The protocol the page used: a proxy's `X-Forwarded-Proto` (its first value) when it says http or
 * https, else the listener's own.
 */
export function pageProtocol(forwardedProto: string, secure: boolean): 'http' | 'https' {
  const first = forwardedProto.split(',')[0]!.trim().toLowerCase();
  if (first === 'https' || first === 'http') return first;
  return secure ? 'https' : 'http';
}

/** A Host header fit to be written back as apiHost (host[:port], no path or spaces), else null. */
export function apiHostOf(host: string): string | null {
  return /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? host : null;
}
