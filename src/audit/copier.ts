// Copies the audit topic into ClickHouse's audit_log, from the offset after the highest one the
// table holds, so GET /v1/audit can filter by time and action. Runs in the query API. A record
// copied twice (two replicas, a crash between insert and the next read) has the same offset and
// time, so the table's ReplacingMergeTree keeps one, and reads use FINAL.
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import type { Logger } from '../common/log.js';
import { errorMessage, missingTable, NOT_MIGRATED, statementFailed } from '../common/errors.js';
import { createPartitionReader, type PartitionReader, type ReadBatch } from '../kafka/reader.js';
import type { AuditRecord } from './record.js';

export interface AuditCopier {
  /** Resolves once every record the topic held when called is in the table. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

const ch = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/**
 * Starts at once: where to resume is read from ClickHouse in the background (retried while it
 * fails), so a ClickHouse outage never holds up the query API's start.
 */
export function startAuditCopier(kafka: Kafka, topic: string, clickhouse: ClickHouseClient, log: Logger): AuditCopier {
  let next = 0;
  let stopped = false;
  let reader: PartitionReader | null = null;
  const waiters: { at: number; resolve: () => void }[] = [];
  const wake = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (next >= waiters[i]!.at) {
        waiters[i]!.resolve();
        waiters.splice(i, 1);
      }
    }
  };
  const onRound = async (batches: readonly ReadBatch[]) => {
    const rows = [];
    let last = next - 1;
    for (const b of batches) {
      for (const m of b.records) {
        if (Number(m.offset) < next || m.value === null) continue;
        try {
          const r = JSON.parse(m.value.toString('utf8')) as AuditRecord;
          rows.push({
            time: ch(r.time),
            actor: r.actor,
            action: r.action,
            id: r.id,
            scope: JSON.stringify(r.scope ?? {}),
            counts: JSON.stringify(r.counts ?? {}),
            outcome: r.outcome,
            kafka_offset: Number(m.offset),
          });
        } catch (err) {
          log.error({ err, offset: m.offset }, 'an audit record could not be read; it stays in the topic only');
        }
      }
      last = Math.max(last, b.lastOffset);
    }
    if (rows.length > 0) {
      await clickhouse.insert({ table: 'audit_log', values: rows, format: 'JSONEachRow', clickhouse_settings: { insert_deduplicate: 0, insert_deduplication_token: '' } });
    }
    next = last + 1;
    wake();
  };
  const started = (async () => {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const rs = await clickhouse.query({ query: 'SELECT count() AS n, max(kafka_offset) AS m FROM audit_log', format: 'JSONEachRow' });
        const [row] = await rs.json<{ n: string | number; m: string | number }>();
        next = Number(row?.n ?? 0) > 0 ? Number(row!.m) + 1 : 0;
        break;
      } catch (err) {
        const waitMs = Math.min(30_000, 1_000 * 2 ** attempt);
        log.warn(
          { err: errorMessage(err), retryInMs: waitMs },
          missingTable(err)
            ? `ClickHouse has no audit_log table: ${NOT_MIGRATED}; retrying`
            : 'could not read where the audit copy stands in ClickHouse; retrying',
        );
        await new Promise((r) => setTimeout(r, waitMs).unref());
      }
    }
    if (stopped) return;
    const r = createPartitionReader(kafka, {
      topics: [topic],
      groupId: `trackhouse-audit-${randomBytes(6).toString('hex')}`,
      position: () => next,
      startTime: () => 0,
      maxWaitMs: 500,
      maxBytes: 4 * 1024 * 1024,
      maxBytesPerPartition: 4 * 1024 * 1024,
      log,
    });
    reader = r;
    await r.start(onRound);
  })();
  started.catch((err: unknown) => log.error({ err }, 'the audit copier failed to start; GET /v1/audit shows what ClickHouse holds'));
  return {
    async caughtUp() {
      await started;
      if (reader === null) return;
      const end = (await reader.endOffsets()).get(topic)?.get(0) ?? 0;
      if (next >= end) return;
      await new Promise<void>((resolve) => waiters.push({ at: end, resolve }));
    },
    async stop() {
      stopped = true;
      await reader?.stop();
    },
  };
}

export interface AuditQuery {
  from: number | null;
  to: number | null;
  action: string | null;
  limit: number;
}

/**
 * Newest first; `time` as ISO 8601, scope and counts as objects. `timeoutMs` (QUERY_TIMEOUT_MS)
 * bounds the statement from the moment it is sent, its wait for the in-process engine's turn
 * included; a failure or timeout is a retriable DependencyError (the API's 503).
 */
export async function readAudit(clickhouse: ClickHouseClient, q: AuditQuery, timeoutMs: number): Promise<unknown[]> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let rows: { t: string | number; actor: string; action: string; id: string; scope: string; counts: string; outcome: string }[];
  try {
    const rs = await clickhouse.query({
      query: `SELECT toUnixTimestamp64Milli(time) AS t, actor, action, id, scope, counts, outcome
      FROM audit_log FINAL
      WHERE time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
        AND ({action:String} = '' OR action = {action:String})
      ORDER BY time DESC, kafka_offset DESC
      LIMIT {limit:UInt32}`,
      query_params: { from: q.from ?? 0, to: q.to ?? 8_640_000_000_000, action: q.action ?? '', limit: q.limit },
      format: 'JSONEachRow',
      abort_signal: deadline,
    });
    rows = await rs.json();
  } catch (err) {
    throw statementFailed(err, 'the audit trail read', deadline, timeoutMs);
  }
  return rows.map((r) => ({
    time: new Date(Number(r.t)).toISOString(),
    actor: r.actor,
    action: r.action,
    id: r.id,
    scope: JSON.parse(r.scope) as unknown,
    counts: JSON.parse(r.counts) as unknown,
    outcome: r.outcome,
  }));
}
