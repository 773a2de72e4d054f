// Settings of the stream stage (src/stream/): live volume, alert rules, webhooks. The rules file
// itself (TRACKHOUSE_ALERTS) is read and validated by src/stream/rules.ts at start, naming the
// rule and field of every problem; here only its path is taken.
import { z } from 'zod';
import { int, list, oneOf, optionalStr, port, str } from './parse.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A property name usable in VOLUME_SUM_PROPERTIES and in rules: a top-level key of `properties`. */
export const PROPERTY_NAME = /^[A-Za-z0-9_$@.-]{1,128}$/;

export const streamSchema = z
  .object({
    /** The stream component inside `trackhouse query` (and so the all-in-one): on or off. */
    QUERY_STREAM: oneOf(['on', 'off'], 'on'),
    TRACKHOUSE_ALERTS: optionalStr(),
    /** LMDB environment of window state, alert states, notifications and offsets. */
    STREAM_DIR: optionalStr(),
    /** `trackhouse alerts` alone: its /healthz, /readyz, /metrics and API port. */
    STREAM_PORT: port(8083),
    /** The broker answers a fetch after this long even with nothing new: the freshness bound. */
    STREAM_FETCH_MAX_WAIT_MS: int(100, 10, 5_000),
    STREAM_FETCH_MAX_BYTES: int(8 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
    /** State, offsets and notifications are written in one LMDB transaction at most this often. */
    STREAM_COMMIT_INTERVAL_MS: int(1_000, 10, 60_000),
    /** A replica with an empty store starts reading this far back (Kafka record time). */
    STREAM_BACKFILL_MS: int(26 * HOUR, 0, 400 * DAY),
    /** Events older than the watermark minus this are counted as late, not in their window. */
    STREAM_ALLOWED_LATENESS_MS: int(MINUTE, 0, 7 * DAY),
    /** A partition with nothing left to read counts as being at "now minus this" (see docs). */
    STREAM_IDLE_GRACE_MS: int(10_000, 0, 10 * MINUTE),
    VOLUME_SUM_PROPERTIES: list().superRefine((names, ctx) => {
      for (const n of names) {
        if (!PROPERTY_NAME.test(n)) ctx.addIssue({ code: 'custom', message: `"${n}" is not a property name (1-128 of A-Z a-z 0-9 _ $ @ . -)` });
      }
      if (names.length > 16) ctx.addIssue({ code: 'custom', message: 'at most 16 properties' });
    }),
    /** Prometheus volume gauges carry the N largest keys of each dimension; the rest is `other`. */
    VOLUME_METRICS_TOP: int(20, 1, 1_000),
    VOLUME_MINUTE_RETENTION_HOURS: int(24, 1, 24 * 14),
    VOLUME_HOUR_RETENTION_DAYS: int(35, 1, 400),
    VOLUME_DAY_RETENTION_DAYS: int(400, 1, 3_660),
    KAFKA_TOPIC_ALERTS: str('trackhouse.alerts'),
    KAFKA_TOPIC_ALERTS_LEASE: str('trackhouse.alerts.lease'),
    ALERTS_LEADER_GROUP: str('trackhouse-alerts-leader'),
    /** Failover time after a leader dies without leaving (kill -9, lost node). */
    ALERTS_LEASE_SESSION_TIMEOUT_MS: int(10_000, 6_000, 300_000),
    /**
     * The shortest window a rule may have; window sizes and steps are whole multiples of it. One
     * minute (the issue's range is 1 minute to 1 day); tests lower it to run windows in seconds.
     */
    ALERTS_MIN_WINDOW_MS: int(MINUTE, 1_000, HOUR),
    ALERTS_WEBHOOK_TIMEOUT_MS: int(5_000, 100, 120_000),
    ALERTS_WEBHOOK_MAX_ATTEMPTS: int(12, 1, 100),
    ALERTS_WEBHOOK_BACKOFF_BASE_MS: int(1_000, 10, 600_000),
    ALERTS_WEBHOOK_BACKOFF_MAX_MS: int(5 * MINUTE, 10, 6 * HOUR),
    ALERTS_WEBHOOK_CONCURRENCY: int(8, 1, 256),
    /** Test hook: SIGKILL the process after the state write, right before the Nth webhook call (0 = off). */
    STREAM_TEST_KILL_BEFORE_WEBHOOK: int(0, 0, 1_000_000),
  })
  .superRefine((e, ctx) => {
    if (DAY % e.ALERTS_MIN_WINDOW_MS !== 0) {
      ctx.addIssue({ code: 'custom', path: ['ALERTS_MIN_WINDOW_MS'], message: 'must divide a day (86400000), so day-long windows are whole multiples of it' });
    }
    if (e.ALERTS_WEBHOOK_BACKOFF_MAX_MS < e.ALERTS_WEBHOOK_BACKOFF_BASE_MS) {
      ctx.addIssue({ code: 'custom', path: ['ALERTS_WEBHOOK_BACKOFF_MAX_MS'], message: 'must be at least ALERTS_WEBHOOK_BACKOFF_BASE_MS' });
    }
  })
  .transform((e) => ({
    inQuery: e.QUERY_STREAM === 'on',
    /** Path of the rules file; null: no rules (volume only). */
    rulesFile: e.TRACKHOUSE_ALERTS ?? null,
    /** null: `<TRACKHOUSE_DATA_DIR>/stream`. */
    dir: e.STREAM_DIR ?? null,
    port: e.STREAM_PORT,
    fetchMaxWaitMs: e.STREAM_FETCH_MAX_WAIT_MS,
    fetchMaxBytes: e.STREAM_FETCH_MAX_BYTES,
    commitIntervalMs: e.STREAM_COMMIT_INTERVAL_MS,
    backfillMs: e.STREAM_BACKFILL_MS,
    allowedLatenessMs: e.STREAM_ALLOWED_LATENESS_MS,
    idleGraceMs: e.STREAM_IDLE_GRACE_MS,
    sumProperties: e.VOLUME_SUM_PROPERTIES,
    metricsTop: e.VOLUME_METRICS_TOP,
    retentionMs: {
      minute: e.VOLUME_MINUTE_RETENTION_HOURS * HOUR,
      hour: e.VOLUME_HOUR_RETENTION_DAYS * DAY,
      day: e.VOLUME_DAY_RETENTION_DAYS * DAY,
    },
    topics: { alerts: e.KAFKA_TOPIC_ALERTS, lease: e.KAFKA_TOPIC_ALERTS_LEASE },
    minWindowMs: e.ALERTS_MIN_WINDOW_MS,
    leaderGroup: e.ALERTS_LEADER_GROUP,
    leaseSessionTimeoutMs: e.ALERTS_LEASE_SESSION_TIMEOUT_MS,
    webhook: {
      timeoutMs: e.ALERTS_WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.ALERTS_WEBHOOK_MAX_ATTEMPTS,
      backoffBaseMs: e.ALERTS_WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: e.ALERTS_WEBHOOK_BACKOFF_MAX_MS,
      concurrency: e.ALERTS_WEBHOOK_CONCURRENCY,
    },
    testKillBeforeWebhook: e.STREAM_TEST_KILL_BEFORE_WEBHOOK,
  }));

export type StreamConfig = z.output<typeof streamSchema>;
