// Records for the rejected topic, after Kafka Connect's dead-letter-queue convention: the value is
// the bytes as received (an invalid event, or a whole body that could not be read as events),
// and headers say why, so a person can inspect, fix and replay them with standard tools.
//
// Headers: error_code (stable code), reason (human message), source (write key's source),
// endpoint (request path), received_at (ISO time), index (position in a batch, for events),
// content_encoding (for bodies kept compressed), original_bytes + truncated (when cut).
import { MAX_EVENT_BYTES } from '../config/index.js';
import type { OutRecord } from '../kafka/producer.js';
import { JsonText } from './jsontext.js';

/** Values are cut to this size: enough to see what went wrong, bounded whatever was sent. */
export const REJECT_VALUE_BYTES = MAX_EVENT_BYTES;

export interface RejectInfo {
  topic: string;
  code: string;
  reason: string;
  source: string;
  endpoint: string;
  receivedAt: number;
  index?: number;
  contentEncoding?: string;
}

/** `totalBytes`: size of the whole original when `original` is only its start. */
export function rejectRecord(info: RejectInfo, original: Buffer, totalBytes: number = original.length): OutRecord {
  const headers: Record<string, string> = {
    error_code: info.code,
    reason: info.reason,
    source: info.source,
    endpoint: info.endpoint,
    received_at: new Date(info.receivedAt).toISOString(),
  };
  if (info.index !== undefined) headers.index = String(info.index);
  if (info.contentEncoding !== undefined && info.contentEncoding !== 'identity') headers.content_encoding = info.contentEncoding;
  const value = original.length > REJECT_VALUE_BYTES ? original.subarray(0, REJECT_VALUE_BYTES) : original;
  if (totalBytes > value.length) {
    headers.truncated = 'true';
    headers.original_bytes = String(totalBytes);
  }
  // Copy: `original` may be a view of a request buffer that is reused once the request is read.
  return { topic: info.topic, key: null, value: Buffer.from(value), headers };
}

/**
 * An invalid event of a batch as JSON text again (the parsed body no longer has its bytes): as
 * JSON.stringify writes it, but with the objects the scanner kept as canonical text (properties,
 * traits, context: JsonText) written as that text, not as the object JSON.parse would read from
 * it, so a wide integer there keeps its digits (docs/contract.md). A JsonValue (a member nobody
 * reads) is the sender's text, whitespace and all: JSON.stringify writes it as any parsed value.
 */
export function eventBytes(raw: unknown): Buffer {
  try {
    return Buffer.from(eventJson(raw) ?? 'null');
  } catch {
    return Buffer.from('"<event nested too deeply to serialize>"');
  }
}

function eventJson(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return JSON.stringify(raw);
  const event = raw as Record<string, unknown>;
  const keys = Object.keys(event);
  if (!keys.some((k) => event[k] instanceof JsonText)) return JSON.stringify(raw);
  let out = '';
  for (const k of keys) {
    const v = event[k];
    const text = v instanceof JsonText ? v.text : JSON.stringify(v);
    if (text !== undefined) out += `${out === '' ? '{' : ','}${JSON.stringify(k)}:${text}`;
  }
  return out === '' ? '{}' : `${out}}`;
}
