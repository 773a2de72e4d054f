import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ANALYTICS_SCRIPT_CACHE, HASHED_CACHE, HTTP_CDN_PROLOGUE, readAnalyticsAssets, UNHASHED_CACHE } from './analytics-script.js';

describe('readAnalyticsAssets', () => {
  const assets = readAnalyticsAssets();

  it('serves the standalone build behind the http prologue, its map named from the bundles path, its gzip the same bytes', () => {
    const text = assets.script.body.toString('utf8');
    expect(text.startsWith(HTTP_CDN_PROLOGUE)).toBe(true);
    expect(text).toContain('analytics-next/bundles/');
    expect(text.trimEnd().endsWith('//# sourceMappingURL=/analytics-next/bundles/standalone.js.map')).toBe(true);
    expect(gunzipSync(assets.script.gzip).equals(assets.script.body)).toBe(true);
    expect(assets.script.cacheControl).toBe(ANALYTICS_SCRIPT_CACHE);
  });

  it('keeps only .js and .js.map files by name, hashed chunks cached for good', () => {
    const names = [...assets.bundles.keys()];
    expect(names).toContain('standalone.js.map');
    expect(names.every((n) => /\.js(\.map)?$/.test(n))).toBe(true);
    const chunk = names.find((n) => /^queryString\.bundle\.[0-9a-f]+\.js$/.test(n))!;
    expect(assets.bundles.get(chunk)!.cacheControl).toBe(HASHED_CACHE);
    expect(assets.bundles.get('index.js')!.cacheControl).toBe(UNHASHED_CACHE);
    expect(gunzipSync(assets.bundles.get(chunk)!.gzip).equals(assets.bundles.get(chunk)!.body)).toBe(true);
  });

  it('the prologue sets the stub\'s _cdn from an http src only, and only when unset', () => {
    const run = (src: string, analytics: Record<string, unknown> | undefined) => {
      const window = { analytics };
      new Function('window', 'document', HTTP_CDN_PROLOGUE)(window, { currentScript: { src } });
      return analytics?._cdn;
    };
    expect(run('http://127.0.0.1:8080/analytics.js/v1/k/analytics.min.js', {})).toBe('http://127.0.0.1:8080');
    expect(run('http://example.com/th/analytics.js/v1/k/analytics.min.js', {})).toBe('http://example.com/th');
    expect(run('https://example.com/analytics.js/v1/k/analytics.min.js', {})).toBeUndefined();
    expect(run('http://example.com/analytics.js/v1/k/analytics.min.js', { _cdn: 'http://cdn.example' })).toBe('http://cdn.example');
    expect(run('http://example.com/analytics.js/v1/k/analytics.min.js', undefined)).toBeUndefined();
  });
});
