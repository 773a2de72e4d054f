// Shared helpers for integration tests: the run's broker, unique topic names, temp data dirs,
// and a Config built exactly as production builds it, from environment variables.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { loadConfig, type Config, type Env } from '../../src/config/index.js';

/**
 * The run's time zone for the processes a test starts with an environment of its own (which
 * otherwise holds only what the test names): `TZ=Asia/Kathmandu npx vitest run ...` then runs the
 * children in that zone too, not only the test workers. Empty when TZ is not set.
 */
export const RUN_TZ: Record<string, string> = process.env.TZ !== undefined ? { TZ: process.env.TZ } : {};

export function kafkaBrokers(): string[] {
  return inject('kafkaBrokers');
}

/** Topic names no other test file uses, so files can run in parallel on one broker. */
export function uniqueTopicEnv(prefix = 'test'): Env {
  const id = `${prefix}-${randomBytes(4).toString('hex')}`;
  return {
    KAFKA_TOPIC_EVENTS: `${id}.events`,
    KAFKA_TOPIC_REJECTED: `${id}.rejected`,
    KAFKA_TOPIC_DLQ: `${id}.dlq`,
    KAFKA_TOPIC_REGULATIONS: `${id}.regulations`,
    KAFKA_TOPIC_AUDIT: `${id}.audit`,
    SINK_GROUP_ID: `${id}-sink`,
  };
}

export function tempDir(prefix = 'trackhouse-test-'): { path: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Config for a test: the run's broker, fresh topics, a temp data dir, port 0 (free port) for
 * every server, quiet logs; `env` overrides any of it.
 */
export function testConfig(dataDir: string, env: Env = {}): Config {
  return loadConfig({
    KAFKA_BROKERS: kafkaBrokers().join(','),
    TRACKHOUSE_DATA_DIR: dataDir,
    INGEST_PORT: '0',
    QUERY_PORT: '0',
    SINK_PORT: '0',
    KAFKA_PARTITIONS: '3',
    LOG_LEVEL: 'silent',
    TRACKHOUSE_WRITE_KEYS: 'test-write-key:test',
    TRACKHOUSE_READ_KEYS: 'test-read-key',
    ...uniqueTopicEnv(),
    ...env,
  });
}
