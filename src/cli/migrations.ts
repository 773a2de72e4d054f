// The ClickHouse migrations, applied by one runner at a time. `trackhouse migrate` (the Kubernetes
// Job), every sink replica at start, replay and the all-in-one all apply clickhouse/*.sql, and on
// a first install or a release Kubernetes starts the Job and the sinks together. Most statements
// are idempotent whoever runs them, but a rebuild (004: delete the rollups' rows, then insert them
// again from `events`) run by two runners interleaved (A deletes, B deletes, A inserts, B inserts)
// counts every rebuilt row twice. ClickHouse has no lock that works on chDB and on a server alike
// (no Keeper), and every runner already reaches Kafka: the lock is the lease of src/kafka/lease.ts
// on KAFKA_TOPIC_MIGRATIONS_LEASE, group MIGRATIONS_LEASE_GROUP, sticky (a holder keeps it while
// others join).
//
// A runner that finds nothing pending takes no lease (a restart stays as quick as before).
// Otherwise it waits for the lease (at most MIGRATIONS_WAIT_TIMEOUT_MS), then reads again what is
// applied (the holder before it applied it, or died half-way: every statement is idempotent and a
// migration is recorded after its last one, so the next holder finishes what a kill -9 left) and
// applies only what is still missing, then leaves the group, which hands the lease on at once.
//
// Split brain: a holder cut off from the broker keeps running until it learns it. Before every
// statement it checks that the broker confirmed its membership within half a session timeout,
// and the broker gives the lease to another runner only after a whole one: a cut-off holder stops
// before another starts. Left open: a statement already running when it was cut off runs to its
// end on ClickHouse (a rebuild's insert taking longer than half of
// MIGRATIONS_LEASE_SESSION_TIMEOUT_MS; raise it on large tables).
//
// In-process chDB takes no lease: its data dir is locked to one process (datadirlock.ts), so no
// other runner can reach that ClickHouse, and the all-in-one's start stays as quick as it was.
// Measured on the test broker (group.initial.rebalance.delay.ms=0, as the local one): acquiring an
// uncontended lease 25-400 ms (the first join of a process the most), leaving it about 0.5 s (the
// consumer's fetch wait), plus the topic check; a cluster's default initial rebalance delay adds
// 3 s to a new group's first join. Nothing the lock prevents can happen there, so none of it is paid.
import type { Kafka } from 'kafkajs';
import { TrackhouseError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/index.js';
import { createLease, ensureLeaseTopic, explainKafkaError } from '../kafka/index.js';
import { kafkaBrokers } from './brokers.js';
import { migrate, MIGRATIONS_DIR, pendingMigrations, type ClickHouseHandle, type MigrateResult } from '../warehouse/index.js';

/** The lock could not be had, or was lost on the way; nothing is half-done that the next run does not finish. */
export class MigrationsLockError extends TrackhouseError {
  constructor(message: string, cause?: unknown) {
    super('MIGRATIONS_LOCK', message, { retriable: true, cause });
  }
}

export interface MigrateExclusivelyOptions {
  config: Config;
  ch: ClickHouseHandle;
  /** Used only against a ClickHouse server (CLICKHOUSE_URL). */
  kafka: Kafka;
  log: Logger;
  dir?: string;
}

export async function migrateExclusively(opts: MigrateExclusivelyOptions): Promise<MigrateResult> {
  const { config, ch, kafka, log } = opts;
  const dir = opts.dir ?? MIGRATIONS_DIR;
  if (ch.engine === 'chdb') return migrate(ch.client, log, dir);
  const pending = await pendingMigrations(ch.client, dir);
  if (pending.length === 0) return migrate(ch.client, log, dir);

  const m = config.clickhouse.migrations;
  const where = { topic: m.leaseTopic, groupId: m.leaseGroup };
  log.info({ ...where, pending }, 'migrations missing: taking the migrations lock');
  // Without KAFKA_BROKERS the local broker: `trackhouse migrate` against a server needs one now.
  const explain = (err: unknown) => {
    throw explainKafkaError(err, config.kafka, kafkaBrokers(config));
  };
  await ensureLeaseTopic(kafka, m.leaseTopic, config.kafka.replicationFactor, log).catch(explain);
  let acquired!: () => void;
  const held = new Promise<void>((resolve) => (acquired = resolve));
  let waitSaid = false;
  const lease = createLease(kafka, {
    topic: m.leaseTopic,
    groupId: m.leaseGroup,
    sessionTimeoutMs: m.leaseSessionTimeoutMs,
    log,
    name: 'migrations',
    holderDoes: 'this process applies the ClickHouse migrations',
    sticky: true,
    onJoin: (leader) => {
      if (leader || waitSaid) return;
      waitSaid = true;
      log.info({ ...where, waitTimeoutMs: m.waitTimeoutMs }, "waiting for another process's migrations: it holds the migrations lease");
    },
    onChange: (leader) => {
      if (leader) acquired();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await lease.start().catch(explain);
    await Promise.race([
      held,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new MigrationsLockError(
                `waited ${m.waitTimeoutMs} ms (MIGRATIONS_WAIT_TIMEOUT_MS) for another process's ClickHouse migrations: the migrations lease ` +
                  `(consumer group ${m.leaseGroup} on topic ${m.leaseTopic}) is still held by another member. Its migrations may need longer ` +
                  `(raise MIGRATIONS_WAIT_TIMEOUT_MS), or it hangs: kafka-consumer-groups.sh --describe --members --group ${m.leaseGroup} names it`,
              ),
            ),
          m.waitTimeoutMs,
        );
      }),
    ]);
    // Read again under the lease: the holder before may have applied everything meanwhile.
    return await migrate(ch.client, log, dir, {
      beforeStep: () => {
        if (lease.fresh()) return;
        throw new MigrationsLockError(
          `lost the migrations lease (consumer group ${m.leaseGroup}) while applying migrations: stopped before the next statement. ` +
            'Another runner finishes them (every statement is idempotent); run again to see them applied',
        );
      },
    });
  } finally {
    clearTimeout(timer);
    await lease.stop();
  }
}
