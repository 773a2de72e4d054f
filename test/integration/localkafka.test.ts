import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_KAFKA_VERSION } from '../../src/config/index.js';
import { startLocalBroker, type LocalBroker } from '../../src/localkafka/index.js';
import { kafkaBrokers, tempDir } from '../support/env.js';

describe('local Kafka broker', () => {
  it('the run-wide broker takes an acks=all idempotent write and serves it back', async () => {
    const kafka = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `localkafka-${Date.now()}`;
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(true);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v1' }, { key: 'k', value: 'v2' }] });
    expect(meta!.errorCode).toBe(0);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets[0]!.high).toBe('2');
    await producer.disconnect();
    await admin.disconnect();
  });

  describe('a broker of its own', () => {
    const dir = tempDir();
    let broker: LocalBroker | undefined;
    afterAll(async () => {
      await broker?.stop();
      dir.remove();
    });

    it('keeps its data across a stop and a start in the same folder', async () => {
      const opts = { dataDir: dir.path, cacheDir: '.trackhouse', version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0 };
      // As an earlier version left it: the folder of every event's log, readable by every local user.
      const kafkaDir = path.join(dir.path, 'kafka');
      mkdirSync(kafkaDir);
      chmodSync(kafkaDir, 0o755);
      broker = await startLocalBroker(opts);
      const modeOf = (p: string) => statSync(p).mode & 0o777;
      expect([modeOf(kafkaDir), modeOf(path.join(kafkaDir, 'local')), modeOf(path.join(kafkaDir, 'local', 'data'))]).toEqual([0o700, 0o700, 0o700]);
      let kafka = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING });
      let admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'kept', numPartitions: 2 }], waitForLeaders: true });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: 'kept', acks: -1, messages: [{ value: 'a' }] });
      await producer.disconnect();
      await admin.disconnect();
      await broker.stop();
      expect(() => process.kill(broker!.pid, 0)).toThrow();

      broker = await startLocalBroker(opts);
      kafka = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING });
      admin = kafka.admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets('kept');
      expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(1);
      await admin.disconnect();
    });
  });
});
