// The one place that reads process.env. Everything else receives a frozen Config.
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { clickhouseSchema } from './clickhouse.js';
import { dashboardSchema } from './dashboard.js';
import { graphqlSchema } from './graphql.js';
import { httpSchema } from './http.js';
import { ingestSchema } from './ingest.js';
import { kafkaSchema } from './kafka.js';
import { keysSchema } from './keys.js';
import { int, oneOf, optionalInt, optionalStr } from './parse.js';
import { querySchema } from './query.js';
import { sinkSchema } from './sink.js';
import { streamSchema } from './stream.js';
import { tlsSchema } from './tls.js';

/**
 * How long a stopping server keeps its port open with /readyz at 503 before it stops, so load
 * balancers notice: Kubernetes takes a terminating pod out of its Service's endpoints at once,
 * but kube-proxy, ingress controllers and cloud load balancers apply that a few seconds later.
 * Capped at half of SHUTDOWN_TIMEOUT_MS when unset, so a short timeout still leaves time to stop.
 */
export const DEFAULT_DRAIN_DELAY_MS = 5_000;

const generalSchema = z
  .object({
    TRACKHOUSE_DATA_DIR: optionalStr(),
    LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], 'info'),
    SHUTDOWN_TIMEOUT_MS: int(15_000, 100, 600_000),
    SHUTDOWN_DRAIN_DELAY_MS: optionalInt(0, 600_000),
    // `trackhouse start` restarts its local broker and its ingest child when they crash.
    RESTART_BACKOFF_MS: int(1_000, 10, 600_000),
    RESTART_BACKOFF_MAX_MS: int(30_000, 10, 3_600_000),
    RESTART_GIVE_UP_AFTER: int(5, 0, 1_000),
    RESTART_STABLE_MS: int(60_000, 0, 86_400_000),
  })
  .superRefine((e, ctx) => {
    if (e.SHUTDOWN_DRAIN_DELAY_MS !== undefined && e.SHUTDOWN_DRAIN_DELAY_MS >= e.SHUTDOWN_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SHUTDOWN_DRAIN_DELAY_MS'],
        message: `must be less than SHUTDOWN_TIMEOUT_MS (${e.SHUTDOWN_TIMEOUT_MS}), which bounds the whole stop, this delay included`,
      });
    }
    if (e.RESTART_BACKOFF_MAX_MS < e.RESTART_BACKOFF_MS) {
      ctx.addIssue({ code: 'custom', path: ['RESTART_BACKOFF_MAX_MS'], message: `must be at least RESTART_BACKOFF_MS (${e.RESTART_BACKOFF_MS})` });
    }
  })
  .transform((e) => ({
    dataDir: e.TRACKHOUSE_DATA_DIR ?? '.trackhouse',
    dataDirChosen: e.TRACKHOUSE_DATA_DIR !== undefined,
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    drainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS ?? Math.min(DEFAULT_DRAIN_DELAY_MS, Math.floor(e.SHUTDOWN_TIMEOUT_MS / 2)),
    // `trackhouse start` runs on a developer's machine with no load balancer in front: Ctrl-C
    // should stop at once, unless a delay is asked for.
    allInOneDrainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS ?? 0,
    restart: {
      backoffMs: e.RESTART_BACKOFF_MS,
      backoffMaxMs: e.RESTART_BACKOFF_MAX_MS,
      giveUpAfter: e.RESTART_GIVE_UP_AFTER,
      stableMs: e.RESTART_STABLE_MS,
    },
  }));

const sections = {
  general: generalSchema,
  http: httpSchema,
  keys: keysSchema,
  kafka: kafkaSchema,
  clickhouse: clickhouseSchema,
  ingest: ingestSchema,
  sink: sinkSchema,
  query: querySchema,
  stream: streamSchema,
  dashboard: dashboardSchema,
  tls: tlsSchema,
  graphql: graphqlSchema,
} as const;

type Sections = { [K in keyof typeof sections]: z.output<(typeof sections)[K]> };

export type Config = Readonly<
  Omit<Sections, 'general' | 'stream' | 'sink'> & {
    /** STREAM_DIR resolved: `<data dir>/stream` unless set. */
    stream: Omit<Sections['stream'], 'dir'> & { dir: string };
    /**
     * `intentFile`: where the sink notes the insert in flight, `<data dir>/sink/insert-intent.json`,
     * with chDB only (CLICKHOUSE_URL unset): a chDB insert dies with the process half written
     * (src/sink/intent.ts). Null with a ClickHouse server, which finishes an insert by itself.
     */
    sink: Sections['sink'] & { intentFile: string | null };
    /** Absolute path of the folder holding local Kafka and chDB data. */
    dataDir: string;
    /** TRACKHOUSE_DATA_DIR was set: an existing folder there may be the operator's (its mode is left as it is). */
    dataDirChosen: boolean;
    logLevel: Sections['general']['logLevel'];
    /** Bounds the whole graceful stop, drain delay included. */
    shutdownTimeoutMs: number;
    /** SHUTDOWN_DRAIN_DELAY_MS for ingest, sink and query run alone. */
    drainDelayMs: number;
    /** SHUTDOWN_DRAIN_DELAY_MS for `trackhouse start` (0 unless set). */
    allInOneDrainDelayMs: number;
    /** RESTART_*: how `trackhouse start` restarts a crashed broker or ingest child. */
    restart: Sections['general']['restart'];
  }
>;

export type Env = Readonly<Record<string, string | undefined>>;

/** Settings whose values are never repeated in a message (they end up in terminals and pod logs). */
const SECRETS: ReadonlySet<string> = new Set([
  'TRACKHOUSE_WRITE_KEYS',
  'TRACKHOUSE_READ_KEYS',
  'TRACKHOUSE_ADMIN_KEYS',
  'KAFKA_SASL_PASSWORD',
  'CLICKHOUSE_PASSWORD',
  'TLS_KEY_PASSPHRASE',
  'INGEST_COOKIELESS_SECRET',
]);

/**
 * A value repeated in a message with the password of any URL in it masked (CLICKHOUSE_URL may carry
 * one, http://user:password@host:8123, and so may a URL refused elsewhere).
 */
function withoutUrlPasswords(value: string): string {
  return value.replace(/(\/\/[^/?#@\s:]*):[^/?#@\s]*@/g, '$1:***@');
}

/**
 * Reads and validates every setting at once. On any problem throws a ConfigError whose message
 * lists each offending variable with what was expected, so one run shows all mistakes.
 */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const out: Partial<Sections> = {};
  for (const [name, schema] of Object.entries(sections) as [keyof Sections, z.ZodType][]) {
    const result = schema.safeParse(env);
    if (result.success) {
      (out as Record<string, unknown>)[name] = result.data;
      continue;
    }
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? name);
      const given = SECRETS.has(variable) ? undefined : env[variable];
      const raw = given === undefined ? undefined : withoutUrlPasswords(given);
      problems.push(`${variable}: ${issue.message}${raw === undefined ? '' : ` (got ${JSON.stringify(raw)})`}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`, { problems });
  }
  const s = out as Sections;
  const dataDir = path.resolve(cwd, s.general.dataDir);
  const config: Config = {
    dataDir,
    dataDirChosen: s.general.dataDirChosen,
    logLevel: s.general.logLevel,
    shutdownTimeoutMs: s.general.shutdownTimeoutMs,
    drainDelayMs: s.general.drainDelayMs,
    allInOneDrainDelayMs: s.general.allInOneDrainDelayMs,
    restart: s.general.restart,
    http: s.http,
    keys: s.keys,
    kafka: s.kafka,
    clickhouse: s.clickhouse,
    ingest: s.ingest,
    sink: { ...s.sink, intentFile: s.clickhouse.url === null ? path.join(dataDir, 'sink', 'insert-intent.json') : null },
    query: s.query,
    stream: { ...s.stream, dir: s.stream.dir === null ? path.join(dataDir, 'stream') : path.resolve(cwd, s.stream.dir) },
    dashboard: s.dashboard,
    tls: s.tls,
    graphql: s.graphql,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    if (!(value instanceof Map) && !(value instanceof Set)) {
      for (const v of Object.values(value)) deepFreeze(v);
    }
  }
  return value;
}

export type { ClickHouseConfig } from './clickhouse.js';
export type { DashboardConfig } from './dashboard.js';
export type { HttpConfig } from './http.js';
export type { IngestConfig } from './ingest.js';
export type { KafkaConfig } from './kafka.js';
export type { KeysConfig } from './keys.js';
export type { QueryConfig } from './query.js';
export type { SinkConfig } from './sink.js';
export type { StreamConfig } from './stream.js';
export type { TlsConfig } from './tls.js';
export { PROPERTY_NAME } from './stream.js';
export { DEV_ADMIN_KEY, DEV_READ_KEY, DEV_SOURCE, DEV_WRITE_KEY, SOURCE_NAME, SOURCE_NAME_RULE, withDevKeys } from './keys.js';
export { LOCAL_KAFKA_VERSION } from './kafka.js';
export { MAX_BATCH_BYTES, MAX_EVENT_BYTES } from './ingest.js';

/** A copy of this process's environment, for the child processes `trackhouse start` runs. */
export function currentEnv(): Record<string, string | undefined> {
  return { ...process.env };
}
