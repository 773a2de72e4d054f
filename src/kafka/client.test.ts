// kafkajs's own log lines, as createKafka routes them into ours: what it retries by itself goes to
// debug, anything else keeps its level.
import { describe, expect, it } from 'vitest';
import { capturingLogger } from '../../test/support/log.js';
import { loadConfig } from '../config/index.js';
import { createKafka } from './client.js';

describe("kafkajs's log through createKafka", () => {
  it('puts the routine (a coordinator loading after a broker start, its consumer restart, bounded idempotent retries) at debug, and keeps real errors at error', () => {
    const { log, lines } = capturingLogger('debug');
    const kafka = createKafka(loadConfig({ KAFKA_BROKERS: 'k1:9092' }).kafka, log);
    const kafkajsLog = kafka.logger();
    kafkajsLog.error("Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group", { groupId: 'g', stack: 'KafkaJSProtocolError: ...' });
    kafkajsLog.error('Restarting the consumer in 300ms', { retryTime: 300, groupId: 'g' });
    kafkajsLog.error('Response Metadata(key: 3, version: 6)', { error: 'There is no leader for this topic-partition as we are in the middle of a leadership election' });
    kafkajsLog.warn('Limiting retries for the idempotent producer may invalidate EoS guarantees');
    kafkajsLog.error('Crash: KafkaJSNonRetriableError: Topic authorization failed', { groupId: 'g' });
    kafkajsLog.warn('Some other warning');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [20, "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group"],
      [20, 'Restarting the consumer in 300ms'],
      [20, 'Response Metadata(key: 3, version: 6)'],
      [20, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'],
      [50, 'Crash: KafkaJSNonRetriableError: Topic authorization failed'],
      [40, 'Some other warning'],
    ]);
    expect(lines.every((l) => l.module === 'kafkajs')).toBe(true);
  });
});
