// The one place that builds a ClickHouse client. Without CLICKHOUSE_URL the ClickHouse engine runs
// in this process (chDB) behind the same @clickhouse/client API, so every query in the project is
// written once for both.
//
// chDB facts that shape the callers (see ../../docs/architecture.md):
// - one data directory per process, and all I/O from the main thread;
// - settings passed with a query stay set on the session for the queries after it, so any
//   setting we rely on (insert_deduplication_token above all) must be passed explicitly every time;
// - the client's `database` option is ignored: chDB works in `default`.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { PrerequisiteError } from '../common/errors.js';
import type { ClickHouseConfig } from '../config/index.js';

export type { ClickHouseClient } from '@clickhouse/client';

export interface ClickHouseHandle {
  readonly client: ClickHouseClient;
  /** 'chdb' or 'server', for logs and for the few places that must know (none in SQL). */
  readonly engine: 'chdb' | 'server';
  /** Where chDB keeps its data, or the server URL. */
  readonly location: string;
  close(): Promise<void>;
}

export function chdbPath(dataDir: string): string {
  return path.join(dataDir, 'clickhouse');
}

export async function openClickHouse(cfg: ClickHouseConfig, dataDir: string): Promise<ClickHouseHandle> {
  if (cfg.url !== null) {
    const client = createClient({
      url: cfg.url,
      username: cfg.username,
      password: cfg.password,
      database: cfg.database,
      request_timeout: cfg.requestTimeoutMs,
      application: 'trackhouse',
    });
    return { client, engine: 'server', location: cfg.url, close: () => client.close() };
  }
  let createChdbConnection: (opts: { path: string }) => unknown;
  try {
    ({ createChdbConnection } = (await import('chdb/connection')) as unknown as {
      createChdbConnection: (opts: { path: string }) => unknown;
    });
  } catch (err) {
    throw new PrerequisiteError(
      'the in-process ClickHouse engine (npm package chdb) is not installed; run npm ci without ' +
        '--omit=optional, or set CLICKHOUSE_URL to a ClickHouse server',
      { cause: err },
    );
  }
  const dir = chdbPath(dataDir);
  mkdirSync(dir, { recursive: true });
  const client = createClient({
    connection: createChdbConnection({ path: dir }),
    request_timeout: cfg.requestTimeoutMs,
  } as Parameters<typeof createClient>[0]);
  return { client, engine: 'chdb', location: dir, close: () => client.close() };
}
