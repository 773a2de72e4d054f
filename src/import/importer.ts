// `trackhouse import`: history from files through the edge's own validation into Kafka.
//
// Per input: items (items.ts) -> Segment calls (the Segment event itself, a vendor payload
// translated by src/ingest/formats/ with skew off, or a CSV record by its mapping) ->
// normalizeEvent (skew off: timestamps kept as given; received_at = import time) -> Avro in a
// slab -> keyed with userKeyOf, as the edge keys -> the project's producer (acks=all). Invalid
// events go to the rejected topic with the reason, as the edge sends them.
//
// Chunks of whole items are submitted in order; the checkpoint advances over the acknowledged
// prefix only (lanes may ack out of order). In-flight bytes are bounded (backpressure): reading
// waits for acknowledgements.
import type { Logger } from '../common/log.js';
import type { Config } from '../config/index.js';
import { translatePayload, Refused, type SegmentCall } from '../ingest/formats/index.js';
import { parseEventJson } from '../ingest/jsontext.js';
import { emptyRecord, normalizeEvent, type NormalizeContext } from '../ingest/normalize.js';
import { problem, type EventProblem } from '../ingest/problems.js';
import { rejectRecord } from '../ingest/rejects.js';
import { RecordSlab } from '../ingest/slab.js';
import type { OutRecord, ProduceError, RecordProducer } from '../kafka/producer.js';
import { userKeyOf, type EventCodec } from '../schema/index.js';
import type { Checkpoint } from './checkpoint.js';
import { csvCall, type CsvMapping } from './csvmap.js';
import { ImportKafkaError } from './errors.js';
import { derivedEventId } from './ids.js';
import { openInput, type Input } from './inputs.js';
import { csvItems, jsonItems, type Item } from './items.js';
import type { ProgressReporter } from './progress.js';

export const VENDOR_FORMATS = ['posthog', 'amplitude', 'mixpanel', 'mixpanel-engage', 'snowplow'] as const;
export type VendorFormat = (typeof VENDOR_FORMATS)[number];
export const IMPORT_FORMATS = ['auto', 'segment', ...VENDOR_FORMATS, 'csv'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportOptions {
  inputs: readonly Input[];
  format: ImportFormat;
  csv: CsvMapping;
  csvDelimiter: string;
  /** Stamped as every event's source. */
  source: string;
  /** Events per second at most; null: as fast as Kafka takes them. */
  rate: number | null;
  checkpoint: Checkpoint;
  progress: ProgressReporter;
  progressEveryMs: number;
  /** Aborted: stop reading, wait for what was sent, save the checkpoint. */
  signal: AbortSignal;
}

export interface ImportDeps {
  config: Config;
  producer: RecordProducer;
  codec: EventCodec;
  log: Logger;
  /**
   * The erasure list, loaded (src/erasure/): an import brings history back, so every event of a
   * suppressed user, or of a user with erased events, is refused (to the rejected topic).
   */
  erasures: { refusesImport(userKey: string): 'user_suppressed' | 'user_erased' | null };
}

export interface ImportSummary {
  files: number;
  /** Inputs the checkpoint said were finished already. */
  skippedFiles: number;
  /** Items (lines, elements, records) skipped because an earlier run loaded them. */
  resumedAfter: number;
  loaded: number;
  rejected: number;
  /** Rejected events by reason code, and one example message per code. */
  rejectedBy: Record<string, { count: number; example: string }>;
  interrupted: boolean;
  durationMs: number;
  eventsPerSecond: number;
}

/** At most this many bytes of records wait for Kafka; reading pauses beyond it. */
const WINDOW_BYTES = 16 * 1024 * 1024;
const CHUNK_BYTES = 512 * 1024;
const CHUNK_RECORDS = 4000;
const MAX_ATTEMPTS = 8;
const CHECKPOINT_EVERY_MS = 200;
/** Per-record memory beyond its value, as the edge counts it. */
const RECORD_MEMORY = 64;

interface Chunk {
  input: Input;
  /** Items through this position are in this chunk or before it. */
  end: number;
  complete: boolean;
  records: OutRecord[];
  bytes: number;
  events: number;
  acked: boolean;
  attempts: number;
}

export async function runImport(deps: ImportDeps, o: ImportOptions): Promise<ImportSummary> {
  return new Importer(deps, o).run();
}

class Importer {
  private readonly slab: RecordSlab;
  private readonly rec = emptyRecord();
  private readonly ctx: NormalizeContext = { receivedAt: 0, source: '', sentAt: null, context: null, ip: null, msTimes: true, skew: false };
  private readonly eventsTopic: string;
  private readonly rejectedTopic: string;
  private readonly maxEventBytes: number;
  private readonly window: Chunk[] = [];
  private inFlightBytes = 0;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private loaded = 0;
  private rejected = 0;
  private readonly rejectedBy: Record<string, { count: number; example: string }> = {};
  private chunk: Chunk | null = null;
  private bytesDone = 0;
  private currentRaw: () => number = () => 0;
  private currentName = '';
  private currentIndex = 0;
  private readonly started = Date.now();
  private sentEvents = 0;

  constructor(
    private readonly deps: ImportDeps,
    private readonly o: ImportOptions,
  ) {
    this.slab = new RecordSlab(deps.codec);
    this.eventsTopic = deps.config.kafka.topics.events;
    this.rejectedTopic = deps.config.kafka.topics.rejected;
    this.maxEventBytes = deps.config.ingest.maxEventBytes;
    this.ctx.source = o.source;
  }

  async run(): Promise<ImportSummary> {
    const o = this.o;
    const totalBytes = o.inputs.some((i) => i.size === null) ? null : o.inputs.reduce((n, i) => n + (i.size ?? 0), 0);
    const tick = () =>
      o.progress.update({
        file: this.currentName,
        fileIndex: this.currentIndex,
        files: o.inputs.length,
        bytes: this.bytesDone + this.currentRaw(),
        totalBytes,
        loaded: this.loaded,
        rejected: this.rejected,
        elapsedMs: Date.now() - this.started,
      });
    const timer = setInterval(tick, o.progressEveryMs);
    // The checkpoint is small: saved often, so a crash repeats little.
    const saver = setInterval(() => o.checkpoint.save(), CHECKPOINT_EVERY_MS);
    let skippedFiles = 0;
    let resumedAfter = 0;
    try {
      for (let i = 0; i < o.inputs.length && !o.signal.aborted && this.failure === null; i++) {
        const input = o.inputs[i]!;
        this.currentIndex = i;
        this.currentName = input.name;
        const state = input.name === '-' ? undefined : o.checkpoint.get(input.id);
        if (state?.complete === true) {
          skippedFiles++;
          this.bytesDone += input.size ?? 0;
          continue;
        }
        const skip = state?.done ?? 0;
        resumedAfter += skip;
        await this.importInput(input, skip);
        this.bytesDone += input.size ?? this.currentRaw();
        this.currentRaw = () => 0;
      }
      await this.drain();
    } finally {
      clearInterval(timer);
      clearInterval(saver);
      tick();
      o.progress.finish();
      o.checkpoint.save();
    }
    if (this.failure !== null) throw this.failure;
    const durationMs = Date.now() - this.started;
    return {
      files: o.inputs.length,
      skippedFiles,
      resumedAfter,
      loaded: this.loaded,
      rejected: this.rejected,
      rejectedBy: this.rejectedBy,
      interrupted: o.signal.aborted,
      durationMs,
      eventsPerSecond: Math.round(((this.loaded + this.rejected) / Math.max(1, durationMs)) * 1000),
    };
  }

  private formatOf(input: Input): Exclude<ImportFormat, 'auto'> {
    if (this.o.format !== 'auto') return this.o.format;
    return /\.csv(\.gz)?$/i.test(input.name) ? 'csv' : 'segment';
  }

  private async importInput(input: Input, skip: number): Promise<void> {
    const format = this.formatOf(input);
    const opened = await openInput(input);
    this.currentRaw = opened.rawBytes;
    const items = format === 'csv' ? csvItems(opened.stream, skip, this.o.csvDelimiter) : jsonItems(opened.stream, skip);
    let last = skip - 1;
    for await (const batch of items) {
      for (let k = 0; k < batch.length; k++) {
        const item = batch[k]!;
        this.item(input, format, item);
        last = item.pos;
        const c = this.chunk!;
        c.end = item.pos + 1;
        if (c.bytes >= CHUNK_BYTES || c.records.length >= this.chunkRecords()) await this.flush();
        if (this.o.signal.aborted || this.failure !== null) break;
      }
      if (this.o.signal.aborted || this.failure !== null) break;
    }
    const finished = !this.o.signal.aborted && this.failure === null;
    this.openChunk(input);
    const c = this.chunk!;
    c.end = Math.max(c.end, last + 1);
    c.complete = finished;
    await this.flush();
  }

  private chunkRecords(): number {
    return this.o.rate === null ? CHUNK_RECORDS : Math.max(1, Math.min(CHUNK_RECORDS, Math.floor(this.o.rate / 10)));
  }

  private openChunk(input: Input): void {
    if (this.chunk === null || this.chunk.input !== input) {
      this.chunk = { input, end: 0, complete: false, records: [], bytes: 0, events: 0, acked: false, attempts: 0 };
    }
  }

  /** One item -> its calls -> records in the current chunk. */
  private item(input: Input, format: Exclude<ImportFormat, 'auto'>, item: Item): void {
    this.openChunk(input);
    this.ctx.receivedAt = Date.now();
    let value = item.value;
    if (item.text !== undefined && format !== 'csv') {
      try {
        // A Segment line is read by the scanner that keeps properties/traits/context as their
        // JSON text (src/ingest/jsontext.ts: the same value for normalizeEvent, without the
        // parse + stringify round trip); anything it does not take is JSON.parse's.
        value = (format === 'segment' ? parseEventJson(item.text) : null) ?? JSON.parse(item.text);
      } catch (err) {
        this.reject(input, item, problem('invalid_field', `the line is not JSON: ${(err as Error).message}`) as EventProblem & { code: string }, 'invalid_json', item.text);
        return;
      }
    }
    if (format === 'csv') {
      this.call(input, item, 0, csvCall(this.o.csv, value as Record<string, string>), item.text);
      return;
    }
    if (format === 'segment') {
      const list = Array.isArray(value) ? value : isObj(value) && Array.isArray(value.batch) ? value.batch : [value];
      for (let i = 0; i < list.length; i++) this.call(input, item, i, list[i], list.length === 1 ? item.text : undefined);
      return;
    }
    const t = translatePayload(format, value, { receivedAt: this.ctx.receivedAt, skew: false });
    if (t.calls.length === 0) {
      this.reject(input, item, problem('not_an_object', `the item holds no ${format} events`), undefined, item.text);
      return;
    }
    for (let i = 0; i < t.calls.length; i++) {
      const call = t.calls[i]!;
      if (call instanceof Refused) this.reject(input, item, call, undefined, undefined, t.raw[i]);
      else this.call(input, item, i, call, t.calls.length === 1 ? item.text : undefined, t.raw[i]);
    }
  }

  private call(input: Input, item: Item, index: number, raw: unknown, text: string | undefined, original: unknown = raw): void {
    if (isObj(raw) && (raw as SegmentCall).messageId === undefined) {
      // No id of its own: one derived from the file and position, the same on every run.
      (raw as SegmentCall).messageId = derivedEventId(input.id, item.pos, index);
    }
    const rec = this.rec;
    let p: EventProblem | null = normalizeEvent(raw, null, this.ctx, rec);
    if (p === null) {
      const key = userKeyOf(rec);
      const refused = this.deps.erasures.refusesImport(key);
      if (refused !== null) {
        const message = refused === 'user_suppressed' ? 'the user is suppressed (POST /v1/regulations)' : 'the user\'s events were erased (POST /v1/regulations)';
        this.reject(input, item, { code: refused, message }, undefined, text, original);
        return;
      }
      const value = this.slab.encode(rec, this.maxEventBytes);
      if (value !== null) {
        const c = this.chunk!;
        c.records.push({ topic: this.eventsTopic, key, value });
        c.bytes += value.length + key.length + RECORD_MEMORY;
        c.events++;
        return;
      }
      p = problem('event_too_large', `the event is larger than ${this.maxEventBytes / 1024} KB`);
    }
    this.reject(input, item, p, undefined, text, original);
  }

  private reject(input: Input, item: Item, p: { code: string; message: string }, code: string | undefined, text: string | undefined, original?: unknown): void {
    const why = code ?? p.code;
    const bytes = text !== undefined ? Buffer.from(text) : Buffer.from(safeJson(original ?? item.value));
    const r = rejectRecord(
      { topic: this.rejectedTopic, code: why, reason: p.message, source: this.o.source, endpoint: 'import', receivedAt: this.ctx.receivedAt, index: item.pos },
      bytes,
    );
    r.headers!.file = input.name;
    const c = this.chunk!;
    c.records.push(r);
    c.bytes += r.value.length + RECORD_MEMORY * 4;
    const e = (this.rejectedBy[why] ??= { count: 0, example: p.message });
    e.count++;
    this.rejected++;
  }

  /** Submits the current chunk (after the rate limit), waiting while the window is full. */
  private async flush(): Promise<void> {
    const c = this.chunk;
    if (c === null) return;
    this.chunk = null;
    if (this.o.rate !== null && c.events > 0) {
      this.sentEvents += c.events;
      const due = this.started + (this.sentEvents / this.o.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait, this.o.signal);
    }
    while (this.inFlightBytes > WINDOW_BYTES && this.failure === null) await this.waitForAck();
    this.window.push(c);
    this.inFlightBytes += c.bytes;
    this.send(c);
  }

  private send(c: Chunk): void {
    c.attempts++;
    if (c.records.length === 0) {
      this.acked(c);
      return;
    }
    const outcome = this.deps.producer.submit({ records: c.records, bytes: c.bytes, settle: (err) => this.settled(c, err) });
    if (outcome === 'queued') return;
    if (outcome === 'closed') {
      this.fail(new ImportKafkaError('the producer is closed'));
      return;
    }
    // 'full' / 'unavailable': try again shortly (counts as an attempt).
    this.retryLater(c, new ImportKafkaError(`Kafka is not taking records (${outcome})`));
  }

  private settled(c: Chunk, err: ProduceError | null): void {
    if (err === null) this.acked(c);
    else this.retryLater(c, err);
  }

  private retryLater(c: Chunk, err: Error): void {
    if (c.attempts >= MAX_ATTEMPTS) {
      this.fail(new ImportKafkaError(`Kafka did not acknowledge records after ${c.attempts} attempts: ${err.message}; run the same command again to resume`, err));
      return;
    }
    this.deps.log.warn({ err, attempt: c.attempts }, 'import: records not acknowledged; sending them again');
    setTimeout(() => this.send(c), Math.min(10_000, 250 * 2 ** c.attempts)).unref();
  }

  private acked(c: Chunk): void {
    c.acked = true;
    // The checkpoint moves over the acknowledged prefix only.
    while (this.window.length > 0 && this.window[0]!.acked) {
      const h = this.window.shift()!;
      this.inFlightBytes -= h.bytes;
      this.loaded += h.events;
      if (h.input.name !== '-') this.o.checkpoint.advance(h.input.id, h.input.name, h.end, h.complete);
    }
    this.notify();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private waitForAck(): Promise<void> {
    return new Promise((r) => (this.wake = r));
  }

  private async drain(): Promise<void> {
    while (this.window.length > 0 && this.failure === null) await this.waitForAck();
  }
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
