// The message a ClickHouse failure at start-up turns into names the setting to change.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import type { ClickHouseHandle } from './client.js';
import { explainClickHouseError } from './reach.js';

describe('explainClickHouseError', () => {
  const cfg = loadConfig({ CLICKHOUSE_URL: 'http://clickhouse:8123', CLICKHOUSE_USER: 'analyst', CLICKHOUSE_DATABASE: 'tracking' }).clickhouse;
  const server = { engine: 'server', location: 'http://clickhouse:8123' } as ClickHouseHandle;
  const withCode = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

  it('names CLICKHOUSE_URL when nothing answers there', () => {
    const e = explainClickHouseError(withCode('connect ECONNREFUSED 10.0.0.2:8123', { code: 'ECONNREFUSED' }), server, cfg);
    expect(e?.code).toBe('CLICKHOUSE_UNREACHABLE');
    expect(e?.message).toMatch(/could not reach ClickHouse at http:\/\/clickhouse:8123 \(CLICKHOUSE_URL\)/);
  });

  it('names CLICKHOUSE_USER and CLICKHOUSE_PASSWORD when the server refuses the user', () => {
    const e = explainClickHouseError(withCode('analyst: Authentication failed', { code: '516', type: 'AUTHENTICATION_FAILED' }), server, cfg);
    expect(e?.message).toMatch(/refused user "analyst".*CLICKHOUSE_USER and CLICKHOUSE_PASSWORD/);
  });

  it('names CLICKHOUSE_DATABASE when the database does not exist', () => {
    const e = explainClickHouseError(withCode('Database tracking does not exist', { code: '81', type: 'UNKNOWN_DATABASE' }), server, cfg);
    expect(e?.message).toMatch(/no database "tracking" \(CLICKHOUSE_DATABASE\)/);
  });

  it('leaves other server errors to the statement that got them', () => {
    expect(explainClickHouseError(withCode('not allowed', { code: '497', type: 'ACCESS_DENIED' }), server, cfg)).toBeNull();
  });
});

