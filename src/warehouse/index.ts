export { chdbPath, openClickHouse, type ClickHouseClient, type ClickHouseHandle } from './client.js';
export { checkClickHouse, explainClickHouseError } from './reach.js';
export { DEFAULT_READ_ONLY_LIMITS } from './readonly.js';
export { loadMigrations, migrate, MIGRATIONS_DIR, pendingMigrations, MigrationError, splitStatements, type MigrateOptions, type MigrateResult, type Migration } from './migrate.js';
export { serveSqlPort, type SqlPort, type SqlPortOptions } from './sqlport.js';
export { createSqlEngine, type BiPort, type BiPortOptions, type SqlEngine } from './sqlengine.js';
export { serveNativePort, type NativePort, type NativePortOptions } from './nativeport.js';
