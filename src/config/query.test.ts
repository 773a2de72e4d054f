import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadConfig } from './index.js';

describe('query config', () => {
  it('has sane defaults', () => {
    expect(loadConfig({}, '/tmp').query).toEqual({
      defaultLimit: 100,
      maxLimit: 1000,
      timeoutMs: 10_000,
      maxConcurrent: 8,
      maxQueued: 1024,
      cacheMaxBytes: 128 * 1024 * 1024,
      cacheMaxUsers: 100_000,
      cacheWindow: 200,
      cacheTtlMs: 300_000,
    });
  });

  it.each([
    ['QUERY_MAX_LIMIT', '0'],
    ['QUERY_CACHE_WINDOW', 'lots'],
    ['QUERY_TIMEOUT_MS', '10'],
    ['QUERY_CACHE_MAX_BYTES', '-1'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value }, '/tmp')).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value }, '/tmp')).toThrow(name);
  });

  it('refuses a default limit above the maximum', () => {
    expect(() => loadConfig({ QUERY_DEFAULT_LIMIT: '500', QUERY_MAX_LIMIT: '200' }, '/tmp')).toThrow(/QUERY_DEFAULT_LIMIT: must not exceed QUERY_MAX_LIMIT/);
  });
});
