// The import's per-item work, run on the import's worker thread (./worker.ts): items (items.ts)
// -> Segment calls (the Segment event itself, a vendor payload translated by src/ingest/formats/
// with skew off, or a CSV record by its mapping) -> normalizeEvent (skew off: timestamps kept as
// given; received_at = import time) -> Avro -> keyed with userKeyOf, as the edge keys. Invalid
// events become records for the rejected topic with the reason, as the edge sends them.
//
// Hot path: events are encoded straight into one ArrayBuffer per chunk, which is then handed to
// the main thread whole (transferred, not copied) with the value end offsets and the keys: one
// message per chunk of up to 4,000 events, nothing per event crosses the thread boundary.
import { payloadReader, translatePayload, Refused, type SegmentCall } from '../ingest/formats/index.js';
import { vendorRefusal } from '../ingest/formats/refusal.js';
import { parseEventJson } from '../ingest/jsontext.js';
import { emptyRecord, normalizeEvent, type NormalizeContext } from '../ingest/normalize.js';
import { problem, type EventProblem } from '../ingest/problems.js';
import { rejectRecord } from '../ingest/rejects.js';
import { userKeyOf, type EventCodec } from '../schema/index.js';
import { csvCall, type CsvMapping } from './csvmap.js';
import { ImportInputError } from './errors.js';
import {
  GROUP_KEY_HELP,
  groupKeyMissing,
  holdsGroupProfile,
  mixpanelProfiles,
  SNOWPLOW_ENRICHED_HELP,
  snowplowEnriched,
  translateAmplitudeExport,
  translateMixpanelGroupProfiles,
  translateMixpanelProfiles,
} from './exports.js';
import { derivedEventId } from './ids.js';
import { WallClockZone } from './timezone.js';
import type { ItemFormat, Refusal, WireChunk } from './formats.js';
import { MAX_LINE_CHARS, type Item } from './items.js';

/** Per-record memory beyond its value and key, for the producer's in-flight bound (the edge counts 96, src/ingest/edge.ts). */
const RECORD_MEMORY = 64;
/** A chunk's data buffer starts at this size and doubles when a record does not fit. */
const DATA_BYTES = 640 * 1024;

export interface EncoderOptions {
  rejectedTopic: string;
  maxEventBytes: number;
  source: string;
  csv: CsvMapping;
  /** Mixpanel: the zone whose wall clock the export's times are (./timezone.ts); null or absent: UTC. */
  mixpanelTimezone?: string | null;
  /** mixpanel-groups: the group key of exported group profiles that do not name one (`--group-key`); null or absent: none. */
  mixpanelGroupKey?: string | null;
  refusesImport(userKey: string): Refusal | null;
}

export class ChunkEncoder {
  private readonly rec = emptyRecord();
  private readonly ctx: NormalizeContext = { receivedAt: 0, source: '', sentAt: null, context: null, ip: null, msTimes: true, skew: false };
  private data = Buffer.from(new ArrayBuffer(DATA_BYTES));
  private offset = 0;
  private ends = new Int32Array(1024);
  private keys = '';
  private keyEnds = new Int32Array(1024);
  private n = 0;
  private rejects: WireChunk['rejects'] = [];
  private rejectedBy: WireChunk['rejectedBy'] = {};
  /** Memory of the records in the open chunk. */
  bytes = 0;
  /** Records (events and rejects) in the open chunk. */
  records = 0;
  private inputId = '';
  private inputName = '';
  private readonly mixpanelZone: WallClockZone | null;

  constructor(
    private readonly codec: EventCodec,
    private readonly o: EncoderOptions,
  ) {
    this.ctx.source = o.source;
    this.mixpanelZone = o.mixpanelTimezone ? new WallClockZone(o.mixpanelTimezone) : null;
  }

  /** The input the next items come from (its identity derives ids; its name goes in rejects). */
  setInput(id: string, name: string): void {
    this.inputId = id;
    this.inputName = name;
  }

  /** The open chunk, handed over (its buffers are the caller's now); a new one is opened. */
  take(input: number, end: number, complete: boolean, raw: number): WireChunk {
    const n = this.n;
    const c: WireChunk = {
      input,
      end,
      complete,
      data: this.data.buffer as ArrayBuffer,
      ends: this.ends.slice(0, n),
      keys: this.keys,
      keyEnds: this.keyEnds.slice(0, n),
      rejects: this.rejects,
      rejectedBy: this.rejectedBy,
      bytes: this.bytes,
      raw,
    };
    this.data = Buffer.from(new ArrayBuffer(DATA_BYTES));
    this.offset = 0;
    this.keys = '';
    this.n = 0;
    this.rejects = [];
    this.rejectedBy = {};
    this.bytes = 0;
    this.records = 0;
    return c;
  }

  /** One item -> its calls -> records in the open chunk. */
  item(format: ItemFormat, item: Item): void {
    this.ctx.receivedAt = Date.now();
    let value = item.value;
    if (item.tooLong !== undefined) {
      const p = problem('event_too_large', `the line is longer than ${MAX_LINE_CHARS / 1024 / 1024} Mi characters (${item.tooLong} bytes)`);
      this.reject(item, p as EventProblem & { code: string }, undefined, item.text, undefined, item.tooLong);
      return;
    }
    if (item.text !== undefined && format !== 'csv') {
      try {
        // A line is read by the scanner that keeps properties/traits/context as their JSON text
        // (src/ingest/jsontext.ts: the same value for normalizeEvent, without the parse +
        // stringify round trip, 64-bit integers as sent), a vendor's by the edge's reader of its
        // bodies; anything it does not take is JSON.parse's.
        value = (format === 'segment' ? parseEventJson(item.text) : payloadReader(format)(item.text)) ?? JSON.parse(item.text);
      } catch (err) {
        this.refuseEnriched(item, undefined);
        this.reject(item, problem('invalid_field', `the line is not JSON: ${(err as Error).message}`) as EventProblem & { code: string }, 'invalid_json', item.text);
        return;
      }
    }
    if (format === 'csv') {
      this.call(item, 0, csvCall(this.o.csv, value as Record<string, string>), item.text);
      return;
    }
    if (format === 'segment') {
      const list = Array.isArray(value) ? value : isObj(value) && Array.isArray(value.batch) ? value.batch : [value];
      for (let i = 0; i < list.length; i++) this.call(item, i, list[i], list.length === 1 ? item.text : undefined);
      return;
    }
    // prepared: calls as the edge makes them (Snowplow's self-describing data and contexts as
    // text, their 64-bit integers as sent); normalizeEvent reads them with msTimes, as here.
    // Amplitude's Export API lines are not its HTTP API's events, nor Mixpanel's exported profiles
    // (of users, and of groups) its engage and group updates (./exports.ts).
    // A group's exported profile is read by mixpanel-groups only, with its group key (the entry's
    // or --group-key): without one every entry would be refused alike, so the import stops and says
    // what to pass. Cheap on other lines: a few member reads (isMixpanelProfile), once per item.
    const profiles = format === 'mixpanel-engage' || format === 'mixpanel-groups' ? mixpanelProfiles(value) : null;
    const groupKey = this.o.mixpanelGroupKey ?? null;
    if (profiles !== null && format === 'mixpanel-engage' && holdsGroupProfile(profiles)) {
      throw new ImportInputError(`${this.inputName}: item ${item.pos + 1} is a Mixpanel group profile ($group_key and $properties): import group profiles with --format mixpanel-groups`);
    }
    if (profiles !== null && format === 'mixpanel-groups' && groupKey === null && groupKeyMissing(profiles)) {
      throw new ImportInputError(`${this.inputName}: item ${item.pos + 1} is a Mixpanel group profile without $group_key; ${GROUP_KEY_HELP}`);
    }
    const t =
      (format === 'amplitude'
        ? translateAmplitudeExport(value)
        : profiles === null
          ? null
          : format === 'mixpanel-engage'
            ? translateMixpanelProfiles(profiles)
            : translateMixpanelGroupProfiles(profiles, groupKey)) ?? translatePayload(format, value, { receivedAt: this.ctx.receivedAt, skew: false, prepared: true });
    if (t.calls.length === 0) {
      if (format === 'snowplow') this.refuseEnriched(item, value);
      this.reject(item, problem('not_an_object', `the item holds no ${format} events`), undefined, item.text);
      return;
    }
    for (let i = 0; i < t.calls.length; i++) {
      const call = t.calls[i]!;
      if (call instanceof Refused) {
        this.reject(item, call, undefined, undefined, t.raw[i]);
        continue;
      }
      // Mixpanel's time (Unix ms here) as the project's wall clock -> UTC.
      if (format === 'mixpanel' && this.mixpanelZone !== null && typeof call.timestamp === 'number') call.timestamp = this.mixpanelZone.toUtc(call.timestamp);
      this.call(item, i, call, t.calls.length === 1 ? item.text : undefined, t.raw[i], format);
    }
  }

  /** Stops the import at a Snowplow enriched event: every line would be refused, and why is not what a reject says. */
  private refuseEnriched(item: Item, value: unknown): void {
    const what = snowplowEnriched(item.text, value);
    if (what !== null) throw new ImportInputError(`${this.inputName}: item ${item.pos + 1} is ${what}; ${SNOWPLOW_ENRICHED_HELP}`);
  }

  /** `vendor`: the format `original` is in (raw its translation), whose fields a refusal names. */
  private call(item: Item, index: number, raw: unknown, text: string | undefined, original: unknown = raw, vendor: ItemFormat | null = null): void {
    if (isObj(raw) && (raw as SegmentCall).messageId === undefined) {
      // No id of its own: one derived from the file and position, the same on every run.
      (raw as SegmentCall).messageId = derivedEventId(this.inputId, item.pos, index);
    }
    const rec = this.rec;
    let p: EventProblem | null = normalizeEvent(raw, null, this.ctx, rec);
    if (p === null) {
      const key = userKeyOf(rec);
      const refused = this.o.refusesImport(key);
      if (refused !== null) {
        const message = refused === 'user_suppressed' ? 'the user is suppressed (POST /v1/regulations)' : 'the user\'s events were erased (POST /v1/regulations)';
        this.reject(item, { code: refused, message }, undefined, text, original);
        return;
      }
      const end = this.encode();
      if (end - this.offset <= this.o.maxEventBytes) {
        const n = this.n++;
        if (n === this.ends.length) {
          this.ends = grow(this.ends);
          this.keyEnds = grow(this.keyEnds);
        }
        this.ends[n] = end;
        // Appended: V8 builds a rope, flattened once when the chunk is posted.
        this.keys += key;
        this.keyEnds[n] = this.keys.length;
        this.bytes += end - this.offset + key.length + RECORD_MEMORY;
        this.records++;
        this.offset = end;
        return;
      }
      p = problem('event_too_large', `the event is larger than ${this.o.maxEventBytes / 1024} KB`);
    }
    // A vendor's event is refused naming its own field (distinct_id, not userId), as at the edge.
    this.reject(item, (vendor === null ? null : vendorRefusal(vendor, p, raw, original)) ?? p, undefined, text, original);
  }

  /** Encodes this.rec after the open chunk's values (growing the buffer when it does not fit); returns its end. */
  private encode(): number {
    for (;;) {
      const end = this.codec.encodeInto(this.rec, this.data, this.offset);
      if (end >= 0) return end;
      const bigger = Buffer.from(new ArrayBuffer(this.data.length * 2));
      this.data.copy(bigger, 0, 0, this.offset);
      this.data = bigger;
    }
  }

  /** `totalBytes`: the original's size when `text` is only its start. */
  private reject(item: Item, p: { code: string; message: string }, code: string | undefined, text: string | undefined, original?: unknown, totalBytes?: number): void {
    const why = code ?? p.code;
    const bytes = text !== undefined ? Buffer.from(text) : Buffer.from(safeJson(original ?? item.value));
    const r = rejectRecord(
      { topic: this.o.rejectedTopic, code: why, reason: p.message, source: this.o.source, endpoint: 'import', receivedAt: this.ctx.receivedAt, index: item.pos },
      bytes,
      totalBytes,
    );
    r.headers!.file = this.inputName;
    this.rejects.push({ value: r.value, headers: r.headers! });
    this.bytes += r.value.length + RECORD_MEMORY * 4;
    this.records++;
    const e = (this.rejectedBy[why] ??= { count: 0, example: p.message });
    e.count++;
  }
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(a.length * 2);
  bigger.set(a);
  return bigger;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return '"<not serializable>"';
  }
}
