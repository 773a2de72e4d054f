// An operator adds partitions to the events topic while the stream component runs. Against the
// real broker: the events users write to the new partitions are counted in GET /v1/volume without
// a restart, none twice, and a restart afterwards counts nothing again.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createKafka, ensureTopics, partitionForKey } from '../../src/kafka/index.js';
import { startStreamServer, type StreamServer } from '../../src/stream/index.js';
import { tempDir } from '../support/env.js';
import { event, getJson, send, streamEnv, until } from './stream-helpers.js';
import { growTopic } from './sink-helpers.js';

const MIN = 60_000;
const USERS = Array.from({ length: 24 }, (_, i) => `grow-${i}`);

describe('partitions added to the events topic while the stream runs', () => {
  const dir = tempDir('th-partitions-stream-');
  let config: Config;
  let kafka: Kafka;
  let server: StreamServer | null = null;
  const t = Math.floor(Date.now() / MIN) * MIN - MIN;

  const start = async () => {
    server = await startStreamServer({ config, kafka, log: silentLogger(), registry: createRegistry('alerts', false), rules: [] });
    const base = `http://127.0.0.1:${server.port}`;
    await until('caught up', async () => (await fetch(`${base}/readyz`)).status === 200 && (await getJson(`${base}/v1/volume`)).body.watermark !== null);
  };
  /** Events and late events counted over the day, all sources. */
  const counted = async () => {
    const r = await getJson<{ rows: { events: number; late: number }[] }>(`http://127.0.0.1:${server!.port}/v1/volume?by=source&window=day`);
    return r.body.rows.reduce((n, x) => n + x.events + x.late, 0);
  };

  beforeAll(async () => {
    config = loadConfig(streamEnv(dir.path, { KAFKA_PARTITIONS: '2', KAFKA_METADATA_MAX_AGE_MS: '1000', STREAM_ALLOWED_LATENESS_MS: String(10 * MIN) }));
    kafka = createKafka(config.kafka, silentLogger(), config.kafka.brokers);
    await ensureTopics(kafka, config.kafka);
    await start();
    await send(
      kafka,
      config.kafka.topics.events,
      USERS.map((u, i) => event(t + i, { user_id: u })),
    );
    await until('the first events counted', async () => (await counted()) === USERS.length);
    await growTopic(kafka, config.kafka.topics.events, 4);
    // A new producer: it writes to the 4 partitions at once.
    await send(
      kafka,
      config.kafka.topics.events,
      USERS.map((u, i) => event(t + 100 + i, { user_id: u })),
    );
  });

  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  it('puts users on the new partitions (the premise)', () => {
    expect(USERS.some((u) => partitionForKey(u, 4) >= 2)).toBe(true);
  });

  it('counts the events of the new partitions without a restart, each once', async () => {
    await until('the new partitions counted', async () => (await counted()) === 2 * USERS.length, 60_000);
    expect(await counted()).toBe(2 * USERS.length);
  });

  it('counts nothing again after a restart', async () => {
    await server!.stop();
    server = null;
    await start();
    expect(await counted()).toBe(2 * USERS.length);
  });
});
