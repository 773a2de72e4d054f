import type { Command } from 'commander';
import { checkClickHouse, openClickHouse } from '../../warehouse/index.js';
import { parseIsoTime, typedTime, type IsoTimeProblem } from '../../common/isotime.js';
import { createLogger } from '../../common/log.js';
import { loadConfig } from '../../config/index.js';
import { lockChdbDataDir } from '../datadirlock.js';
import { createKafka, explainKafkaError } from '../../kafka/index.js';
import { createAuditLog } from '../../audit/index.js';
import { auditMigrations } from '../audit.js';
import { migrateExclusively } from '../migrations.js';
import { ReplayArgumentError, runReplay, type ReplayFrom } from '../../replay/index.js';
import { STORABLE_TIMES } from '../../schema/index.js';
import { kafkaBrokers } from '../brokers.js';

const FROM_FORMS =
  'an ISO 8601 time with a zone (2026-11-01T00:00:00Z, 2026-11-01T01:00:00+01:00), a date (2026-11-01, midnight UTC), ' +
  'or partition:offset pairs (0:1200,3:0)';

/**
 * `--from`: an ISO 8601 time with an explicit zone, a date (midnight UTC), or
 * partition:offset[,partition:offset...]. A time without a zone is refused, not read as local time.
 */
export function parseReplayFrom(text: string): ReplayFrom {
  const s = text.trim();
  if (/^\d+:\d+(,\d+:\d+)*$/.test(s)) {
    const offsets = new Map<number, number>();
    for (const pair of s.split(',')) {
      const [p, o] = pair.split(':').map(Number) as [number, number];
      if (offsets.has(p)) throw new ReplayArgumentError(`--from names partition ${p} twice`);
      offsets.set(p, o);
    }
    return { kind: 'offsets', offsets };
  }
  const why: IsoTimeProblem = { reason: '' };
  const ms = parseIsoTime(s, typedTime(STORABLE_TIMES), why);
  if (Number.isNaN(ms)) {
    // Say why only when it looked like a time; anything else just gets the accepted forms.
    const reason = /^\d{4}-\d{2}-\d{2}/.test(s) ? `${why.reason}; ` : '';
    throw new ReplayArgumentError(`--from "${text}": ${reason}expected ${FROM_FORMS}`);
  }
  return { kind: 'time', ms };
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description(
      're-sink the events topic from a point in time or offsets into ClickHouse, inserting only what ClickHouse does not ' +
        'hold yet (no duplicates); stops at the high watermarks taken at start, or at the sink group\'s committed ' +
        'offsets while a sink runs, and prints a summary',
    )
    .requiredOption(
      '--from <start>',
      'Kafka record time, not event time: the time Kafka stamped on each record (CreateTime, when the ingest produced it, ' +
        'close to received_at; or LogAppendTime if the topic is set so), as ISO 8601 with a zone (2026-11-01T00:00:00Z, ' +
        '2026-11-01T01:00:00+01:00) or a date (2026-11-01, midnight UTC); or partition:offset[,partition:offset...]. ' +
        'History Kafka no longer holds (retention.ms) is reported, and the replay starts at the earliest offset left',
    )
    .action(async (options: { from: string }) => {
      const from = parseReplayFrom(options.from);
      const config = loadConfig();
      const log = createLogger(config.logLevel, { component: 'replay' }, 'stderr');
      // A chDB data dir held by a running sink or start is reported by openClickHouse.
      lockChdbDataDir(config, 'trackhouse replay', log);
      const ch = await openClickHouse(config.clickhouse, config.dataDir, log);
      try {
        await checkClickHouse(ch, config.clickhouse);
        // A replay may be what fills a brand-new ClickHouse.
        const brokers = kafkaBrokers(config);
        const kafka = createKafka(config.kafka, log, brokers);
        const migrated = await migrateExclusively({ config, ch, kafka, log });
        await auditMigrations(kafka, config, migrated, 'replay', ch.location, log);
        const started = Date.now();
        const summary = await runReplay({ config, kafka, clickhouse: ch.client, log, from }).catch((err: unknown) => {
          throw explainKafkaError(err, config.kafka, brokers);
        });
        // A replay writes stored data: the audit trail records what it did.
        const audit = await createAuditLog(kafka, config.kafka.topics.audit);
        await audit
          .record({
            time: Date.now(),
            actor: 'process:replay',
            action: 'replay',
            id: `replay_${started.toString(36)}`,
            scope: { topic: summary.topic, from: options.from, partitions: summary.partitions.map((p) => ({ partition: p.partition, from: p.from, to: p.to })) },
            counts: { read: summary.read, inserted: summary.inserted, present: summary.present, undecodable: summary.undecodable, erased: summary.erased, durationMs: summary.durationMs },
            outcome: 'ok',
          })
          .finally(() => audit.close());
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        process.stderr.write(
          `replay of ${summary.topic}: read ${summary.read}, inserted ${summary.inserted}, ` +
            `skipped as already present ${summary.present}, undecodable ${summary.undecodable} ` +
            `(up to the ${summary.limitedBy}) in ${(summary.durationMs / 1000).toFixed(1)} s\n`,
        );
        if (summary.warning !== null) process.stderr.write(`warning: ${summary.warning}\n`);
      } finally {
        await ch.close();
      }
    });
}
