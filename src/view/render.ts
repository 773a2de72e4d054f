// One event's reply JSON, the object the query API puts in `events`. The one renderer of it: the
// view renders records from Kafka with it, and the query API renders ClickHouse's rows with it, so
// both give the same bytes for the same event.
//
// In ClickHouse's terms: absent strings are stored as '' and answered as null; times are
// DateTime64(3) and answered as ISO 8601 UTC with milliseconds; properties, traits and context are
// spliced in as stored when isValidJSON accepts them, else null, so a reply is always JSON.
import type { EventRecord, StoredRow } from '../schema/index.js';
import { isValidJson, wasCanonical } from './jsonvalid.js';

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

/** The fields of an event's reply JSON, in their order (the REST names). */
export const EVENT_FIELDS = [
  'event_id',
  'type',
  'event',
  'user_id',
  'anonymous_id',
  'timestamp',
  'received_at',
  'source',
  'category',
  'group_id',
  'properties',
  'traits',
  'context',
  'name',
  'previous_id',
] as const;
export type EventField = (typeof EVENT_FIELDS)[number];

/**
 * An event as the view stores it: a header, then its reply JSON (what REST copies into a page).
 * The header says where each field's value lies, so GraphQL copies values out of the row instead
 * of parsing it (src/graphql/fastpage.ts):
 *   byte 0        flags: ROW_CANONICAL << k when JSON text k (properties, traits, context) is as
 *                 JSON.stringify(JSON.parse(text)) writes it (or null); ROW_NO_LAYOUT when the
 *                 JSON is too long for 16-bit offsets (the offsets are then 0)
 *   bytes 1..30   per field of EVENT_FIELDS, the offset of its value in the JSON (uint16 LE); a
 *                 value ends where the next field's `,"name":` starts, the last one before `}`
 */
export const ROW_HEADER = 1 + 2 * EVENT_FIELDS.length;
export const ROW_CANONICAL = 1;
export const ROW_NO_LAYOUT = 0x80;
/** Offset of the JSON text fields in EVENT_FIELDS (properties, traits, context). */
export const FIRST_TEXT_FIELD = 10;

const starts = new Int32Array(EVENT_FIELDS.length);
let flags = 0;
const canonicalText = (t: string, k: number) => {
  const ok = isValidJson(t);
  if (!ok || (wasCanonical() && t.charCodeAt(0) !== 0xfeff)) flags |= ROW_CANONICAL << k;
  return text(t, ok);
};

/**
 * The reply JSON of a record from Kafka, as the query API renders the row the sink writes for it.
 * Avro strings decode to well-formed UTF-16, which the sink stores as UTF-8 and reads back
 * unchanged, so JSON.stringify of the record's strings is what the ClickHouse path produces.
 * Notes where each value starts (UTF-16 units) in `starts`, and the flags of the texts in `flags`.
 */
export function recordJson(r: EventRecord): string {
  flags = 0;
  let s = '{"event_id":';
  starts[0] = s.length;
  s += str(r.event_id) + ',"type":';
  starts[1] = s.length;
  s += str(r.type) + ',"event":';
  starts[2] = s.length;
  s += opt(r.event) + ',"user_id":';
  starts[3] = s.length;
  s += opt(r.user_id) + ',"anonymous_id":';
  starts[4] = s.length;
  s += opt(r.anonymous_id) + ',"timestamp":';
  starts[5] = s.length;
  s += `"${iso(r.timestamp)}","received_at":`;
  starts[6] = s.length;
  s += `"${iso(r.received_at)}","source":`;
  starts[7] = s.length;
  s += str(r.source) + ',"category":';
  starts[8] = s.length;
  s += opt(r.category) + ',"group_id":';
  starts[9] = s.length;
  s += opt(r.group_id) + ',"properties":';
  starts[10] = s.length;
  s += canonicalText(r.properties, 0) + ',"traits":';
  starts[11] = s.length;
  s += canonicalText(r.traits, 1) + ',"context":';
  starts[12] = s.length;
  s += canonicalText(r.context, 2) + ',"name":';
  starts[13] = s.length;
  s += opt(r.name) + ',"previous_id":';
  starts[14] = s.length;
  return s + opt(r.previous_id) + '}';
}

/** Bytes storedEvent() may write for a record whose reply JSON has `jsonLength` UTF-16 units. */
export const storedEventMax = (jsonLength: number) => ROW_HEADER + 3 * jsonLength;

/**
 * Writes the record recordJson() rendered last, `json`, as the view stores it (header, then the
 * reply JSON; see ROW_HEADER) into `out` at `at`, which has storedEventMax(json.length) bytes
 * free; returns the bytes written.
 *
 * Hot path (every event the view takes in): the JSON is written once; its UTF-16 offsets are its
 * byte offsets when it is ASCII (bytes written = its length), else each piece is measured.
 */
export function writeStoredEvent(json: string, out: Buffer, at: number): number {
  const n = out.write(json, at + ROW_HEADER, 'utf8');
  let f = flags;
  if (n >= 0xffff) {
    f |= ROW_NO_LAYOUT;
    out.fill(0, at + 1, at + ROW_HEADER);
  } else {
    let bytes = 0;
    let from = 0;
    for (let k = 0; k < starts.length; k++) {
      const s = starts[k]!;
      bytes += n === json.length ? s - from : Buffer.byteLength(json.slice(from, s), 'utf8');
      from = s;
      out[at + 1 + 2 * k] = bytes & 0xff;
      out[at + 2 + 2 * k] = bytes >>> 8;
    }
  }
  out[at] = f;
  return ROW_HEADER + n;
}

/** A record as the view stores it, in a buffer of its own (for backfilled rows). */
export function storedEvent(r: EventRecord): Buffer {
  const json = recordJson(r);
  const buf = Buffer.allocUnsafe(storedEventMax(json.length));
  return Buffer.from(buf.subarray(0, writeStoredEvent(json, buf, 0)));
}
