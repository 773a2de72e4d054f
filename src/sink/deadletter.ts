// What a dead letter carries: the original key, value and headers byte for byte, plus the error
// context in Kafka Connect's header names (errors.deadletterqueue.context.headers.enable), so the
// tools that read Connect's DLQs read ours.
import type { IHeaders } from 'kafkajs';
import type { DeadLetter } from '../kafka/dlq.js';
import type { FetchedMessage } from '../kafka/consumer.js';

export const CONNECTOR_NAME = 'trackhouse-sink';

/**
 * Every `trackhouse.error.code` a dead letter can carry: the codec's (DecodeError), the row
 * builder's (InvalidEventError), and a record without a value.
 */
export const DEAD_LETTER_CODES = ['RECORD_UNDECODABLE', 'EVENT_OUT_OF_RANGE', 'RECORD_EMPTY'] as const;

export function deadLetter(
  record: FetchedMessage,
  origin: { topic: string; partition: number; groupId: string },
  failure: { code: string; message: string },
): DeadLetter {
  const headers: IHeaders = { ...(record.headers ?? {}) };
  headers['__connect.errors.topic'] = origin.topic;
  headers['__connect.errors.partition'] = String(origin.partition);
  headers['__connect.errors.offset'] = record.offset;
  headers['__connect.errors.connector.name'] = CONNECTOR_NAME;
  headers['__connect.errors.task.id'] = origin.groupId;
  headers['__connect.errors.stage'] = 'VALUE_CONVERTER';
  headers['__connect.errors.class.name'] = 'trackhouse.schema.EventCodec';
  headers['__connect.errors.exception.class.name'] = failure.code;
  headers['__connect.errors.exception.message'] = failure.message;
  headers['trackhouse.error.code'] = failure.code;
  return { key: record.key, value: record.value, headers };
}
