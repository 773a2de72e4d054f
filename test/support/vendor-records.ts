// A vendor request's records as the edge stores them (decodeRequest, then normalizeEvent), for the
// formats' unit tests of what reaches the table: ids and the properties / traits / context texts.
import { decodeRequest, formatRoute, Refused, type Decoded } from '../../src/ingest/formats/index.js';
import { emptyRecord, normalizeEvent } from '../../src/ingest/normalize.js';

export interface StoredRecord {
  type: string;
  event: string | null;
  user_id: string | null;
  anonymous_id: string | null;
  group_id: string | null;
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
    const { type, event, user_id, anonymous_id, group_id, properties, traits, context, timestamp, sent_at } = rec;
    return { type, event, user_id, anonymous_id, group_id, properties, traits, context, timestamp, sent_at } as StoredRecord;
  });
  return { decoded, records };
}

/** A Snowplow tp2 body (payload_data 1-0-4) of tracker events. */
export function tp2Body(events: readonly unknown[]): string {
  return JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: events });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * An event as snowplow-android-tracker (and snowplow-ios-tracker) sends it: no duid, no network id
 * (the collector's cookie, which this server sets none of), p=mob, contexts and the event base64
 * (cx, ue_px); the device's id is the client_session entity's userId (Session.kt, retrieveUserId:
 * kept per install; all zeros under userAnonymisation). Schemas and keys: TrackerConstants.kt
 * (SCHEMA_SCREEN_VIEW, MOBILE_SCHEMA, SESSION_SCHEMA), Parameters.kt. `session` goes into the
 * client_session entity, `extra` over the event's parameters.
 */
export function snowplowMobileEvent(session: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    e: 'ue',
    eid: 'a2f1b6c4-1b7e-4d0a-9d55-0f3f6a1e2b3c',
    tv: 'andr-6.0.8',
    tna: 'appTracker',
    aid: 'k',
    p: 'mob',
    res: '1080x2400',
    lang: 'English',
    tz: 'Europe/Berlin',
    dtm: '1795687200000',
    stm: '1795687200400',
    ue_px: b64({
      schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
      data: { schema: 'iglu:com.snowplowanalytics.mobile/screen_view/jsonschema/1-0-0', data: { name: 'Checkout', id: '5a0c2c5e-8f5e-4a59-b0a0-5c1b8e9f0d11', type: 'Default' } },
    }),
    cx: b64({
      schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
      data: [
        { schema: 'iglu:com.snowplowanalytics.snowplow/mobile_context/jsonschema/1-0-2', data: { osType: 'android', osVersion: '14', deviceManufacturer: 'Google', deviceModel: 'Pixel 8', networkType: 'wifi' } },
        { schema: 'iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2', data: { eventIndex: 3, storageMechanism: 'LOCAL_STORAGE', sessionIndex: 2, firstEventId: 'f1', firstEventTimestamp: '2026-11-26T10:00:00.000Z', previousSessionId: 'p1', ...session } },
      ],
    }),
    ...extra,
  };
}
