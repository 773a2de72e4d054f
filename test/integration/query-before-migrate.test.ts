// An operator who starts `trackhouse query` before `trackhouse migrate` (or before the first sink,
// which migrates too) against an empty ClickHouse: the query API starts (its view answers pages
// from Kafka), says at start which migrations ClickHouse lacks and what to run, answers what needs
// ClickHouse's tables (rollups) with a 503 saying so, logged without a stack trace, and answers
// them as soon as the migrations have run, without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { loadMigrations, migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { serveClickHouseHttp, type ClickHouseHttp } from '../support/clickhouse-http.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import { spawnQuery, type QueryProcess } from './view-process.js';

const KEY = 'test-read-key';

describe('trackhouse query before trackhouse migrate', () => {
  const chDir = tempDir();
  const queryDir = tempDir();
  let ch: ClickHouseHandle;
  let http: ClickHouseHttp;
  let query: QueryProcess;
  let port = 0;

  beforeAll(async () => {
    const config = testConfig(chDir.path);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    http = await serveClickHouseHttp(ch.client);
    query = spawnQuery({
      ...(uniqueTopicEnv('qbm') as Record<string, string>),
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_PARTITIONS: '1',
      CLICKHOUSE_URL: http.url,
      TRACKHOUSE_DATA_DIR: queryDir.path,
      TRACKHOUSE_READ_KEYS: KEY,
      QUERY_PORT: '0',
      QUERY_STREAM: 'off',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      LOG_LEVEL: 'info',
    });
    port = await query.port;
    await query.ready();
  });

  afterAll(async () => {
    await query?.stop();
    await http?.close();
    await ch?.close();
    chDir.remove();
    queryDir.remove();
  });

  const rollups = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/rollups/daily?by=event`, { headers: { authorization: `Bearer ${KEY}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const lines = () => query.log.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('says at start which migrations ClickHouse lacks and to run trackhouse migrate', () => {
    const warning = lines().find((l) => typeof l.msg === 'string' && l.msg.includes('trackhouse migrate'));
    expect(warning).toMatchObject({ level: 40, pending: loadMigrations().map((m) => m.version) });
  });

  it('answers rollups 503 saying the migrations have not run, and logs that without a stack trace', async () => {
    const { status, body } = await rollups();
    expect(status).toBe(503);
    expect(body.error).toBe('clickhouse_unavailable');
    expect(body.message).toMatch(/migrations have not run.*trackhouse migrate/);
    const failed = lines().filter((l) => l.msg === 'query failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const l of failed) {
      expect(JSON.stringify(l)).not.toContain('stack');
      expect(l.code).toBe('CLICKHOUSE_NOT_MIGRATED');
    }
  });

  it('answers them once the migrations have run, without a restart', async () => {
    await migrate(ch.client, silentLogger());
    expect(await rollups()).toEqual({ status: 200, body: { rows: [] } });
  });
});
