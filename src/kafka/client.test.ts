// kafkajs's own log lines, as createKafka routes them into ours: what it retries by itself goes to
// debug, a consumer group's rebalance to info or warn with the group named, anything else keeps
// its level.
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

  // The lines of a rebalance, as kafkajs 2.2.4 writes them: src/network/connection.js logs every
  // error answer ("Response <api>"), src/consumer/runner.js what it does about it.
  it('puts a rebalance (a member joining or leaving) at info with its group, a forgotten member at warn, and no rebalance answer at error', () => {
    const { log, lines } = capturingLogger('debug');
    const k = createKafka(loadConfig({ KAFKA_BROKERS: 'k1:9092' }).kafka, log).logger();
    const conn = { broker: 'k1:9092', clientId: 'trackhouse', correlationId: 17, size: 10 };
    const member = { groupId: 'alerts-leader', memberId: 'trackhouse-1' };
    k.error('Response Heartbeat(key: 12, version: 3)', { ...conn, error: 'The group is rebalancing, so a rejoin is needed' });
    k.warn('The group is rebalancing, re-joining', { ...member, error: 'The group is rebalancing, so a rejoin is needed' });
    k.error('Response OffsetCommit(key: 8, version: 5)', { ...conn, error: 'Specified group generation id is not valid' });
    k.error('Response Heartbeat(key: 12, version: 3)', { ...conn, error: 'The coordinator is not aware of this member' });
    k.error('The coordinator is not aware of this member, re-joining the group', { ...member, error: 'The coordinator is not aware of this member' });
    k.error('Response JoinGroup(key: 11, version: 5)', { ...conn, error: 'The group member needs to have a valid member id before actually entering a consumer group' });
    // Still errors: a refusal, a broker-side failure, a crash that is no rebalance.
    k.error('Response JoinGroup(key: 11, version: 5)', { ...conn, error: 'Not authorized to access group: Group authorization failed' });
    k.error('Response Produce(key: 0, version: 7)', { ...conn, error: 'The server experienced an unexpected error when processing the request' });
    k.error('Crash: KafkaJSNonRetriableError: The group is rebalancing, so a rejoin is needed', { groupId: 'g' });
    expect(lines.map((l) => [l.level, l.msg, l.groupId ?? null])).toEqual([
      [20, 'Response Heartbeat(key: 12, version: 3)', null],
      [30, 'The group is rebalancing, re-joining', 'alerts-leader'],
      [20, 'Response OffsetCommit(key: 8, version: 5)', null],
      [20, 'Response Heartbeat(key: 12, version: 3)', null],
      [40, 'The coordinator is not aware of this member, re-joining the group', 'alerts-leader'],
      [20, 'Response JoinGroup(key: 11, version: 5)', null],
      [50, 'Response JoinGroup(key: 11, version: 5)', null],
      [50, 'Response Produce(key: 0, version: 7)', null],
      [50, 'Crash: KafkaJSNonRetriableError: The group is rebalancing, so a rejoin is needed', 'g'],
    ]);
  });

  // As kafkajs 2.2.4 writes a refused connection (src/network/connection.js) and a consumer's
  // crash in its fetch loop: the stack's frames are Node's and kafkajs's own.
  it('drops the stack of a line whose stack shows only kafkajs and Node frames, and keeps one that reaches our code', () => {
    const { log, lines } = capturingLogger('debug');
    const k = createKafka(loadConfig({ KAFKA_BROKERS: 'k1:9092' }).kafka, log).logger();
    k.error('Connection error: connect ECONNREFUSED 127.0.0.1:9092', {
      broker: '127.0.0.1:9092',
      clientId: 'trackhouse',
      stack: 'Error: connect ECONNREFUSED 127.0.0.1:9092\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)',
    });
    k.error('Crash: KafkaJSNoBrokerAvailableError: No broker available', {
      groupId: 'g',
      stack:
        'KafkaJSNoBrokerAvailableError: No broker available\n    at createFetchers (/app/node_modules/kafkajs/src/consumer/fetchManager.js:38:13)\n' +
        '    at Object.start (/app/node_modules/kafkajs/src/consumer/fetchManager.js:61:5)\n    at new Promise (<anonymous>)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    });
    const ours = 'TypeError: x is undefined\n    at onBatch (file:///app/dist/sink/sink.js:10:5)\n    at /app/node_modules/kafkajs/src/consumer/runner.js:1:1';
    k.error('Crash: TypeError: x is undefined', { groupId: 'g', stack: ours });
    expect(lines.map((l) => [l.level, l.msg, l.stack ?? null])).toEqual([
      [50, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', null],
      [50, 'Crash: KafkaJSNoBrokerAvailableError: No broker available', null],
      [50, 'Crash: TypeError: x is undefined', ours],
    ]);
    expect(lines[0]).toMatchObject({ broker: '127.0.0.1:9092', clientId: 'trackhouse' });
  });
});
