// One event's reply JSON, the object the query API puts in `events`. The one renderer of it: the
// view renders records from Kafka with it, and the query API renders ClickHouse's rows with it, so
// both give the same bytes for the same event.
//
// In ClickHouse's terms: absent strings are stored as '' and answered as null; times are
// DateTime64(3) and answered as ISO 8601 UTC with milliseconds; properties, traits and context are
// spliced in as stored when isValidJSON accepts them, else null, so a reply is always JSON.
import type { EventRecord } from '../schema/index.js';
import { isValidJson } from './jsonvalid.js';

/** An event as ClickHouse's `events` row holds the fields the API shows ('' for absent strings). */
export interface EventFields {
  readonly event_id: string;
  readonly type: string;
  readonly event: string;
  readonly user_id: string;
  readonly anonymous_id: string;
  /** Unix ms. */
  readonly timestamp: number;
  readonly received_at: number;
  readonly source: string;
  readonly category: string;
  readonly group_id: string;
  readonly name: string;
  readonly previous_id: string;
  readonly properties: string;
  readonly traits: string;
  readonly context: string;
}

const str = JSON.stringify;
/** Optional strings: '' (ClickHouse's absent) and null both answer null. */
const opt = (s: string | null) => (s === null || s === '' ? 'null' : JSON.stringify(s));
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The reply JSON of one event; `*Ok` say whether each JSON text passes isValidJSON.
 *
 * Hot path: one template literal per event; the JSON texts are spliced in, never parsed and
 * stringified again.
 */
export function eventJson(f: EventFields, propertiesOk: boolean, traitsOk: boolean, contextOk: boolean): string {
  return (
    `{"event_id":${str(f.event_id)},"type":${str(f.type)},"event":${opt(f.event)},"user_id":${opt(f.user_id)},` +
    `"anonymous_id":${opt(f.anonymous_id)},"timestamp":"${iso(f.timestamp)}","received_at":"${iso(f.received_at)}",` +
    `"source":${str(f.source)},"category":${opt(f.category)},"group_id":${opt(f.group_id)},` +
    `"properties":${propertiesOk ? f.properties : 'null'},"traits":${traitsOk ? f.traits : 'null'},` +
    `"context":${contextOk ? f.context : 'null'},"name":${opt(f.name)},"previous_id":${opt(f.previous_id)}}`
  );
}

/**
 * The reply JSON of a record from Kafka, as the query API renders the row the sink writes for it.
 * Avro strings decode to well-formed UTF-16, which the sink stores as UTF-8 and reads back
 * unchanged, so JSON.stringify of the record's strings is what the ClickHouse path produces.
 */
export function recordJson(r: EventRecord): string {
  return (
    `{"event_id":${str(r.event_id)},"type":${str(r.type)},"event":${opt(r.event)},"user_id":${opt(r.user_id)},` +
    `"anonymous_id":${opt(r.anonymous_id)},"timestamp":"${iso(r.timestamp)}","received_at":"${iso(r.received_at)}",` +
    `"source":${str(r.source)},"category":${opt(r.category)},"group_id":${opt(r.group_id)},` +
    `"properties":${isValidJson(r.properties) ? r.properties : 'null'},"traits":${isValidJson(r.traits) ? r.traits : 'null'},` +
    `"context":${isValidJson(r.context) ? r.context : 'null'},"name":${opt(r.name)},"previous_id":${opt(r.previous_id)}}`
  );
}
