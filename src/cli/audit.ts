// Audit records the commands write for what they change by themselves (actor `process:<command>`).
import type { Kafka } from 'kafkajs';
import { createAuditLog } from '../audit/index.js';
import { ensureTopics } from '../kafka/index.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/index.js';
import type { MigrateResult } from '../warehouse/index.js';

/** Records the migrations a command applied (none applied: nothing to record). */
export async function auditMigrations(kafka: Kafka, config: Config, result: MigrateResult, command: string, location: string, log: Logger): Promise<void> {
  if (result.applied.length === 0) return;
  try {
    // `trackhouse migrate` runs first on a new cluster (the Kubernetes Job, before any ingest or
    // sink has created the topics), and the audit producer never creates a topic itself.
    await ensureTopics(kafka, config.kafka, log);
    const audit = await createAuditLog(kafka, config.kafka.topics.audit);
    try {
      await audit.record({
        time: Date.now(),
        actor: `process:${command}`,
        action: 'migrate',
        id: `migrate_${result.applied.join('_')}`,
        scope: { clickhouse: location, versions: result.applied },
        counts: { applied: result.applied.length, skipped: result.skipped.length },
        outcome: 'ok',
      });
    } finally {
      await audit.close();
    }
  } catch (err) {
    // The migrations are applied and recorded in ClickHouse's own table; the trail misses them.
    log.warn({ err: errorMessage(err), versions: result.applied }, 'the migrations applied could not be written to the audit trail');
  }
}
