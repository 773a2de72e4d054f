import { describe, expect, it } from 'vitest';
import { posthogConfigJson, posthogConfigScript, POSTHOG_FLAGS } from './posthog-sdk.js';

describe('posthog-js remote config and flags', () => {
  it('the config script leaves the same config as the JSON under the token, where posthog-js reads it', () => {
    const token = 'k"</script>\u2028';
    const window: { _POSTHOG_REMOTE_CONFIG?: Record<string, { config: unknown; siteApps: unknown[] }> } = { _POSTHOG_REMOTE_CONFIG: { other: { config: {}, siteApps: [] } } };
    new Function('window', String(posthogConfigScript(token).body))(window);
    expect(window._POSTHOG_REMOTE_CONFIG![token]).toEqual({ config: JSON.parse(String(posthogConfigJson(token).body)), siteApps: [] });
    expect(Object.keys(window._POSTHOG_REMOTE_CONFIG!)).toEqual(['other', token]);
  });

  it('turns flags off: hasFeatureFlags false in the config (no /flags call follows), and no flag in the flags answer', () => {
    expect(JSON.parse(String(posthogConfigJson('k').body))).toMatchObject({ token: 'k', hasFeatureFlags: false, siteApps: [] });
    const flags = JSON.parse(String(POSTHOG_FLAGS.body));
    expect(flags).toMatchObject({ flags: {}, featureFlags: {}, featureFlagPayloads: {}, errorsWhileComputingFlags: false });
    expect('token' in flags).toBe(false);
  });
});
