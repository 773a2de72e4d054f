// Applies clickhouse/NNN_name.sql in order, each once. Every statement is itself idempotent
// (IF NOT EXISTS; a view's MODIFY QUERY; a synchronous delete of rows followed by the
// non-deduplicated insert that rebuilds them), so a run interrupted half-way is finished by the
// next one.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { errorMessage, missingTable, TrackhouseError } from '../common/errors.js';
import type { Logger } from '../common/log.js';

/** clickhouse/ (the migrations) sits two levels above both src/warehouse and dist/warehouse. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../clickhouse/', import.meta.url));

const MIGRATIONS_TABLE = 'trackhouse_migrations';

/**
 * Earlier checksums of migrations amended since, without a change to what a finished run leaves:
 * a database that recorded one ran it to the end, so it is not warned about.
 * 004: its inserts take any number of months (a server refuses more than 100 partitions per insert
 * block by default, after the days were deleted: a stuck migration).
 */
export const AMENDED: ReadonlyMap<number, readonly string[]> = new Map([[4, ['02a1349027511ede']]]);

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: string[];
}

export class MigrationError extends TrackhouseError {
  constructor(message: string, cause?: unknown) {
    super('MIGRATION_FAILED', message, { cause });
  }
}

/** Splits a file on semicolons that end a line; `--` comment lines are dropped. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (!m) continue;
    const sql = readFileSync(`${dir}/${file}`, 'utf8');
    out.push({
      version: Number(m[1]),
      name: m[2]!,
      checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16),
      statements: splitStatements(sql),
    });
  }
  const seen = new Set<number>();
  for (const m of out) {
    if (seen.has(m.version)) throw new MigrationError(`two migrations share version ${m.version} in ${dir}`);
    seen.add(m.version);
  }
  return out;
}

export interface MigrateResult {
  applied: number[];
  skipped: number[];
}

/** The server's message with its error name (ACCESS_DENIED, ...), which the client keeps apart. */
function describe(err: unknown): string {
  const type = (err as { type?: unknown }).type;
  return `${errorMessage(err).trim()}${typeof type === 'string' ? ` (${type})` : ''}`;
}

async function appliedMigrations(client: ClickHouseClient): Promise<Map<number, string>> {
  try {
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE}
        (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
        ENGINE = MergeTree ORDER BY version`,
    });
    const rs = await client.query({
      query: `SELECT version, any(checksum) AS checksum FROM ${MIGRATIONS_TABLE} GROUP BY version`,
      format: 'JSONEachRow',
    });
    return new Map((await rs.json<{ version: number; checksum: string }>()).map((r) => [Number(r.version), r.checksum]));
  } catch (err) {
    throw new MigrationError(`could not create or read the table ${MIGRATIONS_TABLE} that records applied migrations: ${describe(err)}`, err);
  }
}

/**
 * The versions of clickhouse/ that ClickHouse has not recorded as applied, without changing
 * anything (the command that runs queries only says what is missing; migrate and sink apply).
 */
export async function pendingMigrations(client: ClickHouseClient, dir: string = MIGRATIONS_DIR): Promise<number[]> {
  let done: Set<number>;
  try {
    const rs = await client.query({ query: `SELECT DISTINCT version FROM ${MIGRATIONS_TABLE}`, format: 'JSONEachRow' });
    done = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)));
  } catch (err) {
    if (!missingTable(err)) throw new MigrationError(`could not read the table ${MIGRATIONS_TABLE} that records applied migrations: ${describe(err)}`, err);
    done = new Set();
  }
  return loadMigrations(dir)
    .map((m) => m.version)
    .filter((v) => !done.has(v));
}

export interface MigrateOptions {
  /**
   * Called before every statement and before each migration is recorded; throws to stop (the
   * migrations lock lost: src/cli/migrations.ts). What ran stays: the next run finishes it.
   */
  beforeStep?(): void;
}

/**
 * Not safe to run twice at once against one ClickHouse: a rebuild (004's delete, then insert) of
 * two runners interleaved counts rows twice. Commands go through src/cli/migrations.ts, which
 * takes the migrations lock first.
 */
export async function migrate(client: ClickHouseClient, log: Logger, dir: string = MIGRATIONS_DIR, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const done = await appliedMigrations(client);
  const result: MigrateResult = { applied: [], skipped: [] };
  for (const m of loadMigrations(dir)) {
    const prior = done.get(m.version);
    if (prior !== undefined) {
      if (prior !== m.checksum && !(AMENDED.get(m.version)?.includes(prior) ?? false)) {
        log.warn({ version: m.version, name: m.name }, 'migration file changed after it was applied; not re-applied');
      }
      result.skipped.push(m.version);
      continue;
    }
    for (const [i, statement] of m.statements.entries()) {
      opts.beforeStep?.();
      try {
        await client.command({ query: statement });
      } catch (err) {
        throw new MigrationError(
          `migration ${m.version}_${m.name}.sql failed at statement ${i + 1}: ${describe(err)}`,
          err,
        );
      }
    }
    opts.beforeStep?.();
    await client.insert({
      table: MIGRATIONS_TABLE,
      values: [{ version: m.version, name: m.name, checksum: m.checksum }],
      format: 'JSONEachRow',
      // chDB keeps settings on its session: never inherit another insert's token here.
      clickhouse_settings: { insert_deduplication_token: '' },
    });
    log.info({ version: m.version, name: m.name }, 'migration applied');
    result.applied.push(m.version);
  }
  return result;
}
