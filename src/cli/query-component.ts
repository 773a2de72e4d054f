// `trackhouse query` as a component, for the command and the all-in-one alike: the per-user view
// of the events topic (its partitions, or this shard's) and the HTTP API in front of it.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../common/log.js';
import type { Registry } from '../common/metrics.js';
import type { Config } from '../config/index.js';
import { createKafka, ensureTopics, topicPartitionCount } from '../kafka/index.js';
import { startQuery, type QueryServer } from '../query/index.js';
import { shardPartitions, startView, type View } from '../view/view.js';

export interface QueryComponent {
  readonly server: QueryServer;
  readonly view: View;
  drain(): void;
  /** The HTTP API first (answers in flight), then the view (it saves its state). */
  stop(): Promise<void>;
}

export async function startQueryComponent(opts: {
  config: Config;
  brokers: string[];
  clickhouse: ClickHouseClient;
  log: Logger;
  registry: Registry;
}): Promise<QueryComponent> {
  const { config, log } = opts;
  // Listening first: a port or address problem is reported before Kafka is asked anything, and
  // /readyz answers (503) while the view starts.
  const server = await startQuery({ config, clickhouse: opts.clickhouse, log, registry: opts.registry, expectsView: true });
  let view: View;
  try {
    const kafka = createKafka(config.kafka, log, opts.brokers);
    await ensureTopics(kafka, config.kafka);
    const partitionCount = await topicPartitionCount(kafka, config.kafka.topics.events);
    const partitions = shardPartitions(partitionCount, config.query.shards, config.query.shardIndex);
    view = await startView({ config, brokers: opts.brokers, partitionCount, partitions, clickhouse: opts.clickhouse, log, registry: opts.registry });
    server.attachView(view, partitionCount);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    server,
    view,
    drain: () => server.drain(),
    async stop() {
      await server.stop();
      await view.stop();
    },
  };
}
