// System under test of the query benchmark's all-in-one runs: what `trackhouse start` runs in its
// main process, built code (dist/): chDB, the sink and the query API with its view, sharing the
// process and its two cores. The sink group starts at the end of the topic (the seeded events are
// in ClickHouse already), so it inserts only the background writes, as a long-running all-in-one
// that has caught up would. Kafka and the ingest run elsewhere (the benchmark's broker and writer).
//
//   node --import tsx bench/query-allinone.ts   (env: TRACKHOUSE_*, KAFKA_*, QUERY_*, SINK_*)
// Prints {"port":N} once listening; SIGTERM stops it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Components from '../src/cli/components.js';
import type * as ClickHouseModule from '../src/warehouse/index.js';
import type * as LogModule from '../src/common/log.js';
import type * as MetricsModule from '../src/common/metrics.js';
import type * as ConfigModule from '../src/config/index.js';
import type * as KafkaModule from '../src/kafka/index.js';
import type * as SinkModule from '../src/sink/index.js';

const dist = path.resolve(fileURLToPath(new URL('../dist/', import.meta.url)));
const load = <T>(p: string) => import(path.join(dist, p)) as Promise<T>;
const { openClickHouse } = await load<typeof ClickHouseModule>('warehouse/index.js');
const { createLogger } = await load<typeof LogModule>('common/log.js');
const { createRegistry } = await load<typeof MetricsModule>('common/metrics.js');
const { loadConfig } = await load<typeof ConfigModule>('config/index.js');
const { createKafka } = await load<typeof KafkaModule>('kafka/index.js');
const { startSink } = await load<typeof SinkModule>('sink/index.js');
const { queryComponent } = await load<typeof Components>('cli/components.js');

const config = loadConfig();
const log = createLogger(config.logLevel, { component: 'bench-allinone' });
const brokers = [...config.kafka.brokers];
const kafka = createKafka(config.kafka, log, brokers);
const topic = config.kafka.topics.events;
const admin = kafka.admin();
await admin.connect();
const ends = await admin.fetchTopicOffsets(topic);
await admin.setOffsets({ groupId: config.sink.groupId, topic, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
await admin.disconnect();
const ch = await openClickHouse(config.clickhouse, config.dataDir);
const query = await queryComponent({ config, brokers, clickhouse: ch.client, log: createLogger(config.logLevel, { component: 'query' }), registry: createRegistry('query') });
const sink = await startSink({ config, kafka, clickhouse: ch.client, log: createLogger(config.logLevel, { component: 'sink' }), registry: createRegistry('sink') });
process.stdout.write(`${JSON.stringify({ port: query.server.port })}\n`);
process.once('SIGTERM', () => {
  void (async () => {
    await query.stop();
    await sink.stop();
    await ch.close();
    process.exit(0);
  })();
});
