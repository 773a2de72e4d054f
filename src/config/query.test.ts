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
      viewDays: 90,
      viewMaxBytes: 32 * 1024 ** 3,
      viewDecodeThreads: 2,
      viewCommitRecords: 40_000,
      viewCommitMs: 250,
      viewCatchUpRecords: 320_000,
      viewCatchUpBytes: 384 * 1024 * 1024,
      viewBulkRecords: 1_000_000,
      viewBulkCheckpointMs: 30_000,
      shards: 1,
      shardIndex: 0,
      shardUrl: null,
      backgroundNice: 0,
      viewTestKillAfterRecords: 0,
      corsOrigins: '*',
    });
  });

  it.each([
    ['*', '*'],
    [' * ', '*'],
    ['https://app.example', ['https://app.example']],
    ['https://app.example, http://localhost:5173,,http://[::1]:8080', ['https://app.example', 'http://localhost:5173', 'http://[::1]:8080']],
    ['https://app.example,https://app.example', ['https://app.example']],
    ['', []],
    ['  ', []],
    ['none', []],
    ['None', []],
  ])('reads QUERY_CORS_ORIGINS=%j as %j (empty or none: CORS off)', (value, want) => {
    expect(loadConfig({ QUERY_CORS_ORIGINS: value }, '/tmp').query.corsOrigins).toEqual(want);
  });

  it.each([
    ['https://app.example/', /"https:\/\/app\.example\/" is not an origin as browsers send it: write https:\/\/app\.example /],
    ['https://app.example/path', /write https:\/\/app\.example /],
    ['https://App.Example', /write https:\/\/app\.example /],
    ['https://app.example:443', /write https:\/\/app\.example /],
    ['app.example', /"app\.example" is not an origin such as https:\/\/app\.example/],
    ['null', /"null" is not an origin/],
    ['ftp://files.example', /not an http\(s\) origin/],
    ['https://a.example,*', /\* \(any origin\) stands alone/],
    ['https://a.example,nope', /"nope" is not an origin/],
  ])('refuses QUERY_CORS_ORIGINS=%j naming the variable and what to write', (value, message) => {
    expect(() => loadConfig({ QUERY_CORS_ORIGINS: value }, '/tmp')).toThrow(ConfigError);
    expect(() => loadConfig({ QUERY_CORS_ORIGINS: value }, '/tmp')).toThrow(new RegExp(`QUERY_CORS_ORIGINS: .*${message.source}`));
  });

  it.each([
    ['QUERY_MAX_LIMIT', '0'],
    ['QUERY_VIEW_DAYS', 'lots'],
    ['QUERY_TIMEOUT_MS', '10'],
    ['QUERY_VIEW_MAX_BYTES', '-1'],
    ['QUERY_SHARDS', '0'],
    ['QUERY_BACKGROUND_NICE', '20'],
    ['QUERY_BACKGROUND_NICE', '-1'],
    ['QUERY_BACKGROUND_NICE', 'low'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value }, '/tmp')).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value }, '/tmp')).toThrow(name);
  });

  it('takes a shard index from QUERY_SHARD_INDEX, else from a StatefulSet hostname', () => {
    const url = 'http://query-{i}.query:8081';
    expect(loadConfig({ QUERY_SHARDS: '3', QUERY_SHARD_INDEX: '2', QUERY_SHARD_URL: url }, '/tmp').query).toMatchObject({ shards: 3, shardIndex: 2, shardUrl: url });
    expect(loadConfig({ QUERY_SHARDS: '3', HOSTNAME: 'trackhouse-query-1', QUERY_SHARD_URL: url }, '/tmp').query.shardIndex).toBe(1);
  });

  it.each([
    [{ QUERY_SHARDS: '2', HOSTNAME: 'laptop', QUERY_SHARD_URL: 'http://q-{i}:8081' }, /QUERY_SHARD_INDEX: .*set QUERY_SHARD_INDEX/],
    [{ QUERY_SHARDS: '2', QUERY_SHARD_INDEX: '2', QUERY_SHARD_URL: 'http://q-{i}:8081' }, /QUERY_SHARD_INDEX: shard index 2 is not below QUERY_SHARDS/],
    [{ QUERY_SHARDS: '2', QUERY_SHARD_INDEX: '0' }, /QUERY_SHARD_URL: QUERY_SHARDS=2 needs the URL of shard \{i\}/],
    [{ QUERY_SHARDS: '2', QUERY_SHARD_INDEX: '0', QUERY_SHARD_URL: 'http://query:8081' }, /QUERY_SHARD_URL/],
    [{ QUERY_SHARD_INDEX: '1' }, /QUERY_SHARD_INDEX: must be 0/],
  ])('refuses an incomplete shard setup %#, naming the variable', (env, message) => {
    expect(() => loadConfig(env, '/tmp')).toThrow(message);
  });

  it('takes the background threads\' nice value from QUERY_BACKGROUND_NICE, 0 to 19', () => {
    expect(loadConfig({ QUERY_BACKGROUND_NICE: '10' }, '/tmp').query.backgroundNice).toBe(10);
    expect(loadConfig({ QUERY_BACKGROUND_NICE: '19' }, '/tmp').query.backgroundNice).toBe(19);
    expect(loadConfig({ QUERY_BACKGROUND_NICE: '0' }, '/tmp').query.backgroundNice).toBe(0);
  });

  it('refuses a default limit above the maximum', () => {
    expect(() => loadConfig({ QUERY_DEFAULT_LIMIT: '500', QUERY_MAX_LIMIT: '200' }, '/tmp')).toThrow(/QUERY_DEFAULT_LIMIT: must not exceed QUERY_MAX_LIMIT/);
  });
});
