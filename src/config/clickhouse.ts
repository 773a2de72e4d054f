import { z } from 'zod';
import { int, optionalStr, str } from './parse.js';

export const clickhouseSchema = z
  .object({
    CLICKHOUSE_URL: optionalStr().refine((v) => v === undefined || URL.canParse(v), {
      message: 'expected a URL such as http://127.0.0.1:8123',
    }),
    CLICKHOUSE_USER: str('default'),
    CLICKHOUSE_PASSWORD: str(''),
    CLICKHOUSE_DATABASE: str('default'),
    CLICKHOUSE_REQUEST_TIMEOUT_MS: int(30_000, 100, 3_600_000),
    // One runner of the migrations at a time against a ClickHouse server (src/cli/migrations.ts):
    // the lease of a consumer group on a one-partition topic (src/kafka/lease.ts).
    KAFKA_TOPIC_MIGRATIONS_LEASE: str('trackhouse.migrations.lease'),
    MIGRATIONS_LEASE_GROUP: str('trackhouse-migrations-lock'),
    /** How soon the lease of a runner that died (kill -9, a lost node) passes to a waiting one. */
    MIGRATIONS_LEASE_SESSION_TIMEOUT_MS: int(10_000, 6_000, 300_000),
    /** How long a runner waits for another process's migrations before it gives up. */
    MIGRATIONS_WAIT_TIMEOUT_MS: int(600_000, 1_000, 86_400_000),
  })
  .transform((e) => ({
    ...credentialsApart(e.CLICKHOUSE_URL, e.CLICKHOUSE_USER, e.CLICKHOUSE_PASSWORD),
    /** Used with a server only; chDB always works in its `default` database. */
    database: e.CLICKHOUSE_DATABASE,
    requestTimeoutMs: e.CLICKHOUSE_REQUEST_TIMEOUT_MS,
    migrations: {
      leaseTopic: e.KAFKA_TOPIC_MIGRATIONS_LEASE,
      leaseGroup: e.MIGRATIONS_LEASE_GROUP,
      leaseSessionTimeoutMs: e.MIGRATIONS_LEASE_SESSION_TIMEOUT_MS,
      waitTimeoutMs: e.MIGRATIONS_WAIT_TIMEOUT_MS,
    },
  }));

/**
 * A user and password written into CLICKHOUSE_URL (http://user:password@host:8123) are taken out of
 * it: they win over CLICKHOUSE_USER / CLICKHOUSE_PASSWORD, as @clickhouse/client would decide, and
 * the URL left, which start-up lines, error messages and the audit trail's migration records show,
 * holds no password.
 */
function credentialsApart(raw: string | undefined, username: string, password: string): { url: string | null; username: string; password: string } {
  /** Unset: the ClickHouse engine runs in-process (chDB) with its data under the data dir. */
  if (raw === undefined) return { url: null, username, password };
  const url = new URL(raw);
  if (url.username === '' && url.password === '') return { url: raw, username, password };
  const fromUrl = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  url.username = '';
  url.password = '';
  return { url: url.toString(), username: fromUrl.username === '' ? username : fromUrl.username, password: fromUrl.password === '' ? password : fromUrl.password };
}

export type ClickHouseConfig = z.output<typeof clickhouseSchema>;
