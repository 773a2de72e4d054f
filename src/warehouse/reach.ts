// The start-up check of ClickHouse: one `SELECT 1`, so a wrong CLICKHOUSE_URL, user, password or
// database stops the command at once with a message naming the setting, instead of failing in the
// middle of a migration or on the first request with the client's own error.
import { DependencyError, errorMessage } from '../common/errors.js';
import type { ClickHouseConfig } from '../config/index.js';
import type { ClickHouseHandle } from './client.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE']);

/**
 * Resolves when ClickHouse answers a query. Throws a DependencyError naming the setting to check
 * when it cannot be reached or refuses the credentials or database; any other answer (even an
 * error about something else) counts as reachable, so the command's own statements report it.
 */
export async function checkClickHouse(ch: ClickHouseHandle, cfg: ClickHouseConfig): Promise<void> {
  try {
    const rs = await ch.client.query({ query: 'SELECT 1', format: 'JSONEachRow' });
    await rs.json();
  } catch (err) {
    const explained = explainClickHouseError(err, ch, cfg);
    if (explained) throw explained;
    // A server that answered with an exception is reachable: the command's statements will say more.
    if (ch.engine === 'server' && typeof (err as { type?: unknown }).type === 'string') return;
    throw err;
  }
}

/** The DependencyError for a failure a setting explains, or null. */
export function explainClickHouseError(err: unknown, ch: ClickHouseHandle, cfg: ClickHouseConfig): DependencyError | null {
  if (ch.engine === 'chdb') return null;
  const e = err as { code?: unknown; type?: unknown };
  const reason = errorMessage(err).trim();
  const url = cfg.url ?? ch.location;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) {
    return new DependencyError(
      'CLICKHOUSE_UNREACHABLE',
      `could not reach ClickHouse at ${url} (CLICKHOUSE_URL): ${reason}; check that the server runs and that CLICKHOUSE_URL ` +
        'is its HTTP interface as this machine reaches it (for example http://clickhouse:8123)',
      { cause: err, retriable: true, details: { variable: 'CLICKHOUSE_URL' } },
    );
  }
  if (/timeout/i.test(reason) && e.type === undefined) {
    return new DependencyError(
      'CLICKHOUSE_UNREACHABLE',
      `ClickHouse at ${url} (CLICKHOUSE_URL) did not answer within CLICKHOUSE_REQUEST_TIMEOUT_MS=${cfg.requestTimeoutMs}: ${reason}; ` +
        'check that CLICKHOUSE_URL is the server\'s HTTP interface and that nothing between blocks it',
      { cause: err, retriable: true, details: { variable: 'CLICKHOUSE_URL' } },
    );
  }
  if (e.type === 'AUTHENTICATION_FAILED' || e.type === 'REQUIRED_PASSWORD') {
    return new DependencyError(
      'CLICKHOUSE_AUTH_FAILED',
      `ClickHouse at ${url} refused user "${cfg.username}": ${reason}; check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD`,
      { cause: err, details: { variable: 'CLICKHOUSE_USER' } },
    );
  }
  if (e.type === 'UNKNOWN_DATABASE') {
    return new DependencyError(
      'CLICKHOUSE_UNKNOWN_DATABASE',
      `ClickHouse at ${url} has no database "${cfg.database}" (CLICKHOUSE_DATABASE): create it (CREATE DATABASE ${cfg.database}) ` +
        'or set CLICKHOUSE_DATABASE to an existing one',
      { cause: err, details: { variable: 'CLICKHOUSE_DATABASE' } },
    );
  }
  return null;
}
