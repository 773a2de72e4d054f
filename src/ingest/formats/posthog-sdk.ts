// What posthog-js asks of its host besides capture, answered so that an SDK pointed at trackhouse
// with its defaults works quietly: on every page load it fetches the project's remote config
// (`GET /array/<token>/config.js`, then `/array/<token>/config` if the script gave none) and, when
// the config does not say `hasFeatureFlags: false`, its feature flags (`POST /flags/?v=2`; older
// versions `POST /decide/`). A 404 there costs nothing captured, but logs three errors in the
// site's console on every page. trackhouse has no flags, recordings, surveys or site apps: the
// config says so, asks for gzip bodies (which /e and /i/v0/e take), and names /i/v0/e/ as the
// capture endpoint, as PostHog's own config does. Pure: the edge validates the token and writes.
import type { VendorReply } from './types.js';

/** What every project's remote config says: features off, gzip bodies, capture at /i/v0/e/. */
const FEATURES_OFF = {
  supportedCompression: ['gzip', 'gzip-js'],
  hasFeatureFlags: false,
  captureDeadClicks: false,
  capturePerformance: false,
  autocapture_opt_out: false,
  autocaptureExceptions: false,
  analytics: { endpoint: '/i/v0/e/' },
  elementsChainAsString: true,
  sessionRecording: false,
  heatmaps: false,
  surveys: false,
  productTours: false,
  defaultIdentifiedOnly: true,
  siteApps: [],
};

/** The remote config of a project (PostHog's `/array/<token>/config` shape, features off). */
export function posthogRemoteConfig(token: string): Record<string, unknown> {
  return { token, ...FEATURES_OFF };
}

/** `/array/<token>/config`: the config as JSON. */
export function posthogConfigJson(token: string): VendorReply {
  return { status: 200, contentType: 'application/json', body: JSON.stringify(posthogRemoteConfig(token)) };
}

/** `/array/<token>/config.js`: a script that leaves the config where posthog-js looks for it. */
export function posthogConfigScript(token: string): VendorReply {
  const body =
    `(function(){window._POSTHOG_REMOTE_CONFIG=window._POSTHOG_REMOTE_CONFIG||{};` +
    `window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(token)}]={config:${JSON.stringify(posthogRemoteConfig(token))},siteApps:[]};})();`;
  return { status: 200, contentType: 'application/javascript', body };
}

/**
 * `/flags` (v2: `flags`) and `/decide` (v3/v4: `featureFlags`, `featureFlagPayloads`, and the
 * config's members): no flag is on for anyone. The same for every caller, so the body (which
 * may be gzip, base64 or a form) is not read.
 */
export const POSTHOG_FLAGS: VendorReply = {
  status: 200,
  contentType: 'application/json',
  body: JSON.stringify({
    flags: {},
    featureFlags: {},
    featureFlagPayloads: {},
    errorsWhileComputingFlags: false,
    quotaLimited: [],
    ...FEATURES_OFF,
    config: { enable_collect_everything: true },
  }),
};
