// One event's reply JSON, the object the query API puts in `events`. The one renderer of it: the
// view renders records from Kafka with it, and the query API renders ClickHouse's rows with it, so
// both give the same bytes for the same event.
//
// In ClickHouse's terms: absent strings are stored as '' and answered as null; times are
// DateTime64(3) and answered as ISO 8601 UTC with milliseconds; properties, traits and context are
// spliced in as stored when isValidJSON accepts them, else null, so a reply is always JSON.
import type { EventRecord, StoredRow } from '../schema/index.js';
import { isValidJson } from './jsonvalid.js';

const str = JSON.stringify;
/**
 * A stored JSON text as it goes into a reply: as stored when isValidJSON accepts it (less a leading
 * byte order mark, which it accepts but which is not JSON inside a reply), else null.
 */
const text = (t: string, ok: boolean) => (!ok ? 'null' : t.charCodeAt(0) === 0xfeff ? t.slice(1) : t);
/** Optional strings: '' (ClickHouse's absent) and null both answer null. */
const opt = (s: string | null) => (s === null || s === '' ? 'null' : JSON.stringify(s));
const P2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const P3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const DAY = 86_400_000;
let lastDay = NaN;
let lastDate = '';

/**
 * new Date(ms).toISOString() for the years events can have (1900-2299, four digits), in a third of
 * its time: two per event on the builder's hot path. The date part is kept for the last day seen
 * (events of one fetch mostly share it); days to a civil date by Hinnant's algorithm.
 */
export function iso(ms: number): string {
  const days = Math.floor(ms / DAY);
  let t = ms - days * DAY;
  if (days !== lastDay) {
    const z = days + 719_468;
    const era = Math.floor(z / 146_097);
    const doe = z - era * 146_097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const m = mp < 10 ? mp + 3 : mp - 9;
    const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    if (y < 1000 || y > 9999) return new Date(ms).toISOString();
    lastDay = days;
    lastDate = `${y}-${P2[m]}-${P2[d]}T`;
  }
  const h = Math.floor(t / 3_600_000);
  t -= h * 3_600_000;
  const mi = Math.floor(t / 60_000);
  t -= mi * 60_000;
  const sec = Math.floor(t / 1000);
  return `${lastDate}${P2[h]}:${P2[mi]}:${P2[sec]}.${P3[t - sec * 1000]}Z`;
}

/**
 * The reply JSON of one event; `*Ok` say whether each JSON text passes isValidJSON.
 *
 * Hot path: one template literal per event; the JSON texts are spliced in, never parsed and
 * stringified again.
 */
export function eventJson(f: StoredRow, propertiesOk: boolean, traitsOk: boolean, contextOk: boolean): string {
  return (
    `{"event_id":${str(f.event_id)},"type":${str(f.type)},"event":${opt(f.event)},"user_id":${opt(f.user_id)},` +
    `"anonymous_id":${opt(f.anonymous_id)},"timestamp":"${iso(f.timestamp)}","received_at":"${iso(f.received_at)}",` +
    `"source":${str(f.source)},"category":${opt(f.category)},"group_id":${opt(f.group_id)},` +
    `"properties":${text(f.properties, propertiesOk)},"traits":${text(f.traits, traitsOk)},` +
    `"context":${text(f.context, contextOk)},"name":${opt(f.name)},"previous_id":${opt(f.previous_id)}}`
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
    `"properties":${text(r.properties, isValidJson(r.properties))},"traits":${text(r.traits, isValidJson(r.traits))},` +
    `"context":${text(r.context, isValidJson(r.context))},"name":${opt(r.name)},"previous_id":${opt(r.previous_id)}}`
  );
}
