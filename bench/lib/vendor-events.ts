// The bench's Segment track call (bench/lib/events.ts) in each other vendor's wire form, with the
// same ids, names, properties and context, so every endpoint carries the same information.
import { segmentTrack } from './events.js';

type Json = Record<string, any>;

export function posthogCapture(i: number): Json {
  const s = segmentTrack(i) as Json;
  return {
    event: s.event,
    distinct_id: s.userId,
    uuid: s.messageId,
    timestamp: s.timestamp,
    properties: { ...s.properties, $lib: 'posthog-node', $lib_version: '5.21.2', $ip: s.context.ip, $raw_user_agent: s.context.userAgent, $pathname: '/checkout' },
  };
}

export function amplitudeEvent(i: number): Json {
  const s = segmentTrack(i) as Json;
  return {
    event_type: s.event,
    user_id: s.userId,
    insert_id: s.messageId,
    time: Date.parse(s.timestamp),
    event_properties: s.properties,
    ip: s.context.ip,
    user_agent: s.context.userAgent,
    language: 'en-US',
    library: 'amplitude-node-ts/1.5.73',
  };
}

export function mixpanelEvent(i: number, token: string): Json {
  const s = segmentTrack(i) as Json;
  return {
    event: s.event,
    properties: { ...s.properties, token, distinct_id: s.userId, $insert_id: s.messageId, time: Date.parse(s.timestamp), mp_lib: 'node', $lib_version: '0.24.0', ip: s.context.ip },
  };
}

export function snowplowEvent(i: number, appId: string): Json {
  const s = segmentTrack(i) as Json;
  const now = String(Date.parse(s.timestamp));
  return {
    e: 'ue',
    ue_pr: JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0', data: { schema: 'iglu:com.acme/order_completed/jsonschema/1-0-0', data: s.properties } }),
    aid: appId,
    p: 'srv',
    tv: 'node-4.8.0',
    uid: s.userId,
    eid: s.messageId,
    dtm: now,
    stm: now,
    ip: s.context.ip,
    ua: s.context.userAgent,
    lang: 'en-US',
  };
}

/** `count` bodies of `size` events each, built by `body(events)` from `event(i)`. */
export function bodies(count: number, size: number, event: (i: number) => Json, body: (events: Json[]) => Json): string[] {
  return Array.from({ length: count }, (_, b) => JSON.stringify(body(Array.from({ length: size }, (_, i) => event(b * size + i)))));
}
