// `trackhouse import`: history from files through the edge's own validation into Kafka.
//
// Two threads. The reading thread (./worker.ts) opens each input, cuts it into items and turns
// them into encoded records and rejects (./encoder.ts: the edge's scanner, normalization,
// formats and reject records), in chunks of whole items, each handed over as one transferred
// buffer. This thread takes the chunks in order: rate limit, the project's producer (acks=all),
// retries, the checkpoint, progress. Measured on the bench (1 M lines): the two halves cost about
// the same CPU, so on two cores they overlap instead of adding up.
//
// Chunks are submitted in order; the checkpoint advances over the acknowledged prefix only
// (lanes may ack out of order). In-flight bytes are bounded (backpressure): taking the next chunk
// waits for acknowledgements, and the reading thread posts at most READER_CREDITS chunks ahead.
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/index.js';
import type { OutRecord, ProduceError, RecordProducer } from '../kafka/producer.js';
import type { Checkpoint } from './checkpoint.js';
import type { CsvMapping } from './csvmap.js';
import type { ImportFormat, ItemFormat, Refusal, WireChunk } from './formats.js';
import { ImportInputError, ImportKafkaError } from './errors.js';
import type { Input } from './inputs.js';
import type { ProgressReporter } from './progress.js';
import type { FromReader, ReaderInit, ReaderJob, ToReader } from './thread-messages.js';
import { startThread } from '../common/thread.js';

export { IMPORT_FORMATS, VENDOR_FORMATS, type ImportFormat, type VendorFormat } from './formats.js';

export interface ImportOptions {
  inputs: readonly Input[];
  format: ImportFormat;
  csv: CsvMapping;
  csvDelimiter: string;
  /** Mixpanel: the project's zone when the export's times are its wall clock (./timezone.ts); null: UTC. */
  mixpanelTimezone?: string | null;
  /** mixpanel-groups: the group key of exported group profiles that name none (./exports.ts); null: none given. */
  mixpanelGroupKey?: string | null;
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
  producer: RecordProducer;
  log: Logger;
  /**
   * The erasure list, loaded (src/erasure/): an import brings history back, so every event of a
   * suppressed user, or of a user with erased events, is refused (to the rejected topic). The
   * reading thread gets the refused users at the start and every change after.
   */
  erasures: {
    refusesImport(userKey: string): Refusal | null;
    allUsers(): readonly { userKey: string }[];
    onUser(listener: (state: { userKey: string }) => void): void;
  };
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

/** At most this many bytes of records wait for Kafka; taking the next chunk waits beyond it. */
const WINDOW_BYTES = 16 * 1024 * 1024;
const CHUNK_BYTES = 512 * 1024;
const CHUNK_RECORDS = 4000;
/** Chunks the reading thread may have encoded ahead of this thread (each up to CHUNK_BYTES). */
const READER_CREDITS = 4;
const MAX_ATTEMPTS = 8;
const CHECKPOINT_EVERY_MS = 200;

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

/** An import whose reading thread is starting; run() once Kafka is ready, or cancel(). */
export interface PreparedImport {
  run(deps: ImportDeps): Promise<ImportSummary>;
  /** Stops the reading thread when run() will not be called (setup failed). */
  cancel(): Promise<void>;
}

/**
 * Starts the reading thread now (it loads its modules and opens the first input while the caller
 * connects to Kafka, ~0.4 s of a 10 s import); it encodes nothing before run() passes it the
 * erasure list.
 */
export function prepareImport(config: Config, o: ImportOptions): PreparedImport {
  return new Importer(config, o);
}

export async function runImport(deps: ImportDeps & { config: Config }, o: ImportOptions): Promise<ImportSummary> {
  return prepareImport(deps.config, o).run(deps);
}

class Importer implements PreparedImport {
  private deps!: ImportDeps;
  private readonly jobs: ReaderJob[] = [];
  private readonly reader: Worker | null = null;
  private skippedFiles = 0;
  private resumedAfter = 0;
  private readonly eventsTopic: string;
  private readonly rejectedTopic: string;
  private readonly window: Chunk[] = [];
  private inFlightBytes = 0;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private loaded = 0;
  private rejected = 0;
  private readonly rejectedBy: Record<string, { count: number; example: string }> = {};
  private bytesDone = 0;
  private currentRaw = 0;
  private currentIndex = -1;
  private started = Date.now();
  private sentEvents = 0;
  /** From the reading thread, not yet taken. */
  private readonly inbox: FromReader[] = [];
  private arrived: (() => void) | null = null;

  constructor(
    config: Config,
    private readonly o: ImportOptions,
  ) {
    this.eventsTopic = config.kafka.topics.events;
    this.rejectedTopic = config.kafka.topics.rejected;
    for (let i = 0; i < o.inputs.length; i++) {
      const input = o.inputs[i]!;
      const state = input.name === '-' ? undefined : o.checkpoint.get(input.id);
      if (state?.complete === true) {
        this.skippedFiles++;
        // Finished inputs count as read for the progress bar.
        this.bytesDone += input.size ?? 0;
        continue;
      }
      const skip = state?.done ?? 0;
      this.resumedAfter += skip;
      this.jobs.push({ input: i, skip, format: this.formatOf(input) });
    }
    if (this.jobs.length > 0) this.reader = this.startReader(config);
  }

  async cancel(): Promise<void> {
    if (this.reader === null) return;
    if (this.reader.stdin !== null) process.stdin.unpipe(this.reader.stdin);
    await this.reader.terminate();
  }

  async run(deps: ImportDeps): Promise<ImportSummary> {
    this.deps = deps;
    this.started = Date.now();
    const o = this.o;
    const totalBytes = o.inputs.some((i) => i.size === null) ? null : o.inputs.reduce((n, i) => n + (i.size ?? 0), 0);
    const tick = () =>
      o.progress.update({
        file: this.currentIndex >= 0 ? o.inputs[this.currentIndex]!.name : '',
        fileIndex: Math.max(0, this.currentIndex),
        files: o.inputs.length,
        bytes: this.bytesDone + this.currentRaw,
        totalBytes,
        loaded: this.loaded,
        rejected: this.rejected,
        elapsedMs: Date.now() - this.started,
      });
    const timer = setInterval(tick, o.progressEveryMs);
    // The checkpoint is small: saved often, so a crash repeats little.
    const saver = setInterval(() => o.checkpoint.save(), CHECKPOINT_EVERY_MS);
    const reader = this.reader;
    const stop = () => reader?.postMessage({ type: 'stop' } satisfies ToReader);
    o.signal.addEventListener('abort', stop);
    try {
      if (reader !== null && !o.signal.aborted) {
        this.go(reader);
        await this.takeChunks(reader);
      }
      await this.drain();
    } finally {
      o.signal.removeEventListener('abort', stop);
      await this.cancel();
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
      skippedFiles: this.skippedFiles,
      resumedAfter: this.resumedAfter,
      loaded: this.loaded,
      rejected: this.rejected,
      rejectedBy: this.rejectedBy,
      interrupted: o.signal.aborted,
      durationMs,
      eventsPerSecond: Math.round(((this.loaded + this.rejected) / Math.max(1, durationMs)) * 1000),
    };
  }

  private formatOf(input: Input): ItemFormat {
    if (this.o.format !== 'auto') return this.o.format;
    return /\.csv(\.gz)?$/i.test(input.name) ? 'csv' : 'segment';
  }

  private startReader(config: Config): Worker {
    const o = this.o;
    const init: ReaderInit = {
      inputs: [...o.inputs],
      jobs: this.jobs,
      rejectedTopic: this.rejectedTopic,
      maxEventBytes: config.ingest.maxEventBytes,
      source: o.source,
      csv: o.csv,
      csvDelimiter: o.csvDelimiter,
      mixpanelTimezone: o.mixpanelTimezone ?? null,
      mixpanelGroupKey: o.mixpanelGroupKey ?? null,
      chunkBytes: CHUNK_BYTES,
      chunkRecords: o.rate === null ? CHUNK_RECORDS : Math.max(1, Math.min(CHUNK_RECORDS, Math.floor(o.rate / 10))),
      credits: READER_CREDITS,
    };
    const reader = newReader(init, this.jobs.some((j) => o.inputs[j.input]!.name === '-'));
    reader.on('message', (m: FromReader) => this.deliver(m));
    reader.on('error', (err) => this.deliver({ type: 'error', code: undefined, message: err.message, stack: err.stack }));
    reader.on('exit', () => this.deliver({ type: 'error', code: undefined, message: 'the reading thread exited early', stack: undefined }));
    if (reader.stdin !== null) process.stdin.pipe(reader.stdin);
    return reader;
  }

  /** The erasure list as it is now, and every change after: the thread starts encoding. */
  private go(reader: Worker): void {
    const list = this.deps.erasures;
    const refused: [string, Refusal][] = [];
    for (const u of list.allUsers()) {
      const r = list.refusesImport(u.userKey);
      if (r !== null) refused.push([u.userKey, r]);
    }
    let open = true;
    reader.once('exit', () => (open = false));
    list.onUser((state) => {
      if (open) reader.postMessage({ type: 'erasure', userKey: state.userKey, refused: list.refusesImport(state.userKey) } satisfies ToReader);
    });
    reader.postMessage({ type: 'go', refused } satisfies ToReader);
  }

  private deliver(m: FromReader): void {
    this.inbox.push(m);
    const a = this.arrived;
    this.arrived = null;
    a?.();
  }

  /** The reading thread's chunks, in order, into the producer, until it is done or fails. */
  private async takeChunks(reader: Worker): Promise<void> {
    for (;;) {
      while (this.inbox.length === 0 && this.failure === null) await new Promise<void>((r) => (this.arrived = r));
      if (this.failure !== null) return;
      const m = this.inbox.shift()!;
      if (m.type === 'done') return;
      if (m.type === 'error') {
        // 'done' came first when the thread finished; anything after it is its exit.
        const err = m.code === 'IMPORT_INPUT_UNREADABLE' ? new ImportInputError(m.message) : new Error(`import reading thread: ${m.message}`);
        if (m.stack !== undefined && !(err instanceof ImportInputError)) err.stack = m.stack;
        throw err;
      }
      if (this.failure !== null) return;
      await this.flush(this.toChunk(m.chunk));
      reader.postMessage({ type: 'credit' } satisfies ToReader);
    }
  }

  /** A chunk from the reading thread as producer records (views of its transferred buffer). */
  private toChunk(w: WireChunk): Chunk {
    const input = this.o.inputs[w.input]!;
    if (w.input !== this.currentIndex) {
      if (this.currentIndex >= 0) this.bytesDone += this.o.inputs[this.currentIndex]!.size ?? this.currentRaw;
      this.currentIndex = w.input;
    }
    this.currentRaw = w.raw;
    const n = w.ends.length;
    const records: OutRecord[] = new Array(n + w.rejects.length);
    const topic = this.eventsTopic;
    const keys = w.keys;
    let start = 0;
    let keyStart = 0;
    for (let i = 0; i < n; i++) {
      const end = w.ends[i]!;
      const keyEnd = w.keyEnds[i]!;
      records[i] = { topic, key: keys.slice(keyStart, keyEnd), value: Buffer.from(w.data, start, end - start) };
      start = end;
      keyStart = keyEnd;
    }
    for (let i = 0; i < w.rejects.length; i++) {
      const r = w.rejects[i]!;
      records[n + i] = { topic: this.rejectedTopic, key: null, value: Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength), headers: r.headers };
    }
    for (const code in w.rejectedBy) {
      const d = w.rejectedBy[code]!;
      const e = (this.rejectedBy[code] ??= { count: 0, example: d.example });
      e.count += d.count;
      this.rejected += d.count;
    }
    return { input, end: w.end, complete: w.complete, records, bytes: w.bytes, events: n, acked: false, attempts: 0 };
  }

  /** Submits a chunk (after the rate limit), waiting while the window is full. */
  private async flush(c: Chunk): Promise<void> {
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
    // takeChunks may be waiting for the reading thread, which waits for credit: wake it to stop.
    const a = this.arrived;
    this.arrived = null;
    a?.();
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

/** The reading thread (./worker.ts); `stdin`: it reads stdin. */
function newReader(workerData: ReaderInit, stdin: boolean): Worker {
  return startThread(import.meta.url, 'worker', { workerData, stdin });
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
