import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadConfig } from './index.js';
import { defaultSinkWorkers } from './sink.js';

describe('sink config: decode workers', () => {
  it('defaults to one worker on up to 2 cores and two above', () => {
    expect([1, 2, 3, 4, 64].map(defaultSinkWorkers)).toEqual([1, 1, 2, 2, 2]);
  });

  it('follows this machine\'s cores when SINK_WORKERS is unset or empty, and says so', () => {
    const cores = os.availableParallelism();
    for (const env of [{}, { SINK_WORKERS: '' }]) {
      expect(loadConfig(env, '/tmp').sink).toMatchObject({ workers: defaultSinkWorkers(cores), workersFrom: `default for ${cores} cores` });
    }
  });

  it('takes SINK_WORKERS over the default, and refuses what is out of range', () => {
    expect(loadConfig({ SINK_WORKERS: '3' }, '/tmp').sink).toMatchObject({ workers: 3, workersFrom: 'SINK_WORKERS' });
    for (const v of ['0', '65', 'two']) expect(() => loadConfig({ SINK_WORKERS: v }, '/tmp')).toThrow(ConfigError);
  });
});

describe('sink config: insert intent', () => {
  it('is a file in the data dir with chDB, and none with a ClickHouse server', () => {
    expect(loadConfig({}, '/tmp').sink.intentFile).toBe('/tmp/.trackhouse/sink/insert-intent.json');
    expect(loadConfig({ TRACKHOUSE_DATA_DIR: '/var/lib/th' }, '/tmp').sink.intentFile).toBe('/var/lib/th/sink/insert-intent.json');
    expect(loadConfig({ CLICKHOUSE_URL: 'http://127.0.0.1:8123' }, '/tmp').sink.intentFile).toBeNull();
  });
});
