// A vendor request's records as the edge stores them (decodeRequest, then normalizeEvent), for the
// formats' unit tests of what reaches the table: ids and the properties / traits / context texts.
import { decodeRequest, formatRoute, Refused, type Decoded } from '../../src/ingest/formats/index.js';
import { emptyRecord, normalizeEvent } from '../../src/ingest/normalize.js';

export interface StoredRecord {
  type: string;
  event: string | null;
  user_id: string | null;
  anonymous_id: string | null;
  properties: string;
  traits: string;
  context: string;
  timestamp: number;
  sent_at: number | null;
}

export const RECEIVED_AT = Date.UTC(2026, 10, 20, 10);

/**
 * `body` POSTed to `path` (with `query`, and `userAgent` as its User-Agent header) at RECEIVED_AT:
 * the decoded request, and each call normalized (or its refusal code).
 */
export function storedRecords(path: string, body: string, query = '', userAgent = ''): { decoded: Decoded; records: (StoredRecord | string)[] } {
  const receivedAt = RECEIVED_AT;
  const decoded = decodeRequest(formatRoute(path)!, Buffer.from(body), query, 512_000, receivedAt, userAgent);
  const records = decoded.translation.calls.map((call) => {
    if (call instanceof Refused) return call.code;
    const rec = emptyRecord();
    const p = normalizeEvent(call, null, { receivedAt, source: 'edge', sentAt: null, context: null, ip: null, msTimes: true }, rec);
    if (p !== null) return p.code;
    const { type, event, user_id, anonymous_id, properties, traits, context, timestamp, sent_at } = rec;
    return { type, event, user_id, anonymous_id, properties, traits, context, timestamp, sent_at } as StoredRecord;
  });
  return { decoded, records };
}
