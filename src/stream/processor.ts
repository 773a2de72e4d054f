// The stream processor: reads every partition of the events and rejected topics and the
// notification log, counts live volume, feeds the alert rules, decides, and commits everything
// with the consumed offsets in one LMDB transaction.
//
// A round (one fetch, all partitions):
//   events    project the record (src/schema/projection.ts), hash its key (the user key), skip it
//             if its (user, event id) is in the partition's resend window (a client resend of a
//             messageId: src/dedup/, as the sink and the view skip it), parse
//             properties only when a wanted property name is in their bytes, count the volume
//             (late: older than watermark - lateness, counted at arrival), feed the rules
//   rejected  source and reason from the headers, time from received_at
//   log       what the leader told receivers (notifier.applyLog)
// then the watermark moves, the rules decide (early, and on windows that became final), the
// decisions become notes, and the round is committed: at once when it made a note (so it can be
// sent), else at most every STREAM_COMMIT_INTERVAL_MS. A 1-second timer also moves the
// watermark, so silence is found with no events at all.
//
// Watermark: per partition, the newest received_at read (the edge's clock, stamped before the
// event reached Kafka); a partition with nothing left to read counts as now - STREAM_IDLE_GRACE_MS
// (an event acknowledged before that is in Kafka and would have been read). The watermark is the
// smallest of these over every partition, and never goes back.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/index.js';
import { hashBytes } from '../dedup/hash.js';
import { ResendWindow } from '../dedup/resendwindow.js';
import { partitionOffsets } from '../kafka/admin.js';
import { createPartitionReader, type PartitionReader, type ReadBatch, type ReadRecord } from '../kafka/index.js';
import { DecodeError, emptyProjection, EventProjector, utf8, type EventProjection } from '../schema/index.js';
import { Evaluator } from './evaluator.js';
import { murmur3 } from './hll.js';
import type { StreamMetrics } from './metrics.js';
import { Notifier } from './notifier.js';
import { PropertyReader } from './props.js';
import type { Rule } from './rules.js';
import { readSavedWindow, rebuildFrom, savedWindow, WINDOW_SAVE_MS } from './resendstate.js';
import type { OpenStore } from './store.js';
import { Volume } from './volume.js';

export interface ProcessorOptions {
  config: Config;
  kafka: Kafka;
  store: OpenStore;
  rules: readonly Rule[];
  log: Logger;
  metrics: () => StreamMetrics | null;
  notifier: Notifier;
}

/** The user key of the event in hand, decoded from its Kafka key only if a rule asks. */
class KeyText {
  buf: Buffer | null = null;
  private text: string | null = null;
  private decoded = false;
  reset(buf: Buffer | null): void {
    this.buf = buf;
    this.decoded = false;
    this.text = null;
  }
  get(): string | null {
    if (!this.decoded) {
      this.text = this.buf === null || this.buf.length === 0 ? null : utf8(this.buf, 0, this.buf.length);
      this.decoded = true;
    }
    return this.text;
  }
}

const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class StreamProcessor {
  readonly volume: Volume;
  readonly evaluator: Evaluator;
  readonly notifier: Notifier;
  private reader: PartitionReader | null = null;
  private readonly topics: { events: string; rejected: string; alerts: string };
  /** Next offset to read, per topic and partition. */
  private readonly positions = new Map<string, number>();
  private readonly changedPositions = new Set<string>();
  /** Newest arrival time read, per partition of events and rejected. */
  private readonly partitionTime = new Map<string, number>();
  /** End offsets last seen, per partition. */
  private readonly ends = new Map<string, number>();
  /** End offsets when this process started: caught up once every position reached them. */
  private startEnds: Map<string, number> | null = null;
  private watermarkMs = -Infinity;
  private backfill: boolean;
  private caught = false;
  private lastCommit = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private committing: Promise<void> | null = null;
  private commitAgain = false;
  private endsTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly projector = new EventProjector(undefined, { ids: false, intern: true });
  private readonly proj: EventProjection = emptyProjection();
  private readonly key = new KeyText();
  private readonly props: PropertyReader;
  private readonly sumIndex: number[];
  private readonly sums: Float64Array | null;
  /**
   * Per events partition, the recent (user, event id) identities: a client's resend of a
   * messageId is a new record in the same partition (the key is the user) and is skipped, as
   * the sink and the view skip it (same bounds, SINK_DEDUP_WINDOW_*). Saved in the store and
   * restored or rebuilt at start (./resendstate.ts), so a resend of an event read before this
   * process started is skipped too.
   */
  private readonly resendWindows = new Map<string, ResendWindow>();
  /**
   * Per events partition whose window is being brought up to its position: the offset it is read
   * from; records below the position only feed the window (they were counted before).
   */
  private readonly replayFrom = new Map<string, number>();
  /** Partitions whose window took identities since it was last saved. */
  private readonly windowsChanged = new Set<string>();
  private lastWindowSave = 0;
  private saveWindowsNext = false;
  private readonly idHash = new Uint32Array(2);
  private readonly o: ProcessorOptions;

  constructor(o: ProcessorOptions) {
    this.o = o;
    const cfg = o.config.stream;
    const { dbs } = o.store;
    this.topics = { events: o.config.kafka.topics.events, rejected: o.config.kafka.topics.rejected, alerts: cfg.topics.alerts };
    this.volume = new Volume(dbs, { sumProperties: cfg.sumProperties, latenessMs: cfg.allowedLatenessMs, retentionMs: cfg.retentionMs });
    this.evaluator = new Evaluator(o.rules, dbs);
    this.notifier = o.notifier;
    const names = [...new Set([...cfg.sumProperties, ...this.evaluator.properties])];
    this.props = new PropertyReader(names);
    this.evaluator.bindProperties(names);
    this.sumIndex = cfg.sumProperties.map((p) => names.indexOf(p));
    this.sums = cfg.sumProperties.length > 0 ? new Float64Array(cfg.sumProperties.length) : null;
    for (const { key, value } of dbs.offsets.getRange({})) {
      const [topic, partition] = key as [string, number];
      this.positions.set(tp(topic, partition), value);
    }
    this.watermarkMs = (dbs.meta.get('watermark') as number | undefined) ?? -Infinity;
    this.restoreWindows();
    // A store that never read the events topic replays only STREAM_BACKFILL_MS of it, and
    // notifies nothing of that history (see notifier.backfillDone).
    const stored = dbs.meta.get('backfill') as boolean | undefined;
    this.backfill = stored ?? ![...this.positions.keys()].some((k) => k.startsWith(`${this.topics.events}\u0000`));
  }

  get watermark(): number {
    return this.watermarkMs;
  }

  get caughtUp(): boolean {
    return this.caught;
  }

  get replaying(): boolean {
    return this.backfill;
  }

  /** Loads the rules' state, starts reading. Resolves once the reader joined. */
  async start(): Promise<void> {
    const reset = this.evaluator.load();
    if (reset.length > 0) this.o.log.warn({ rules: reset }, 'rules changed since their state was written: their windows and alert states start afresh');
    this.evaluator.ensureGlobalGroups();
    this.notifier.load();
    const cfg = this.o.config.stream;
    const startTime = Date.now() - cfg.backfillMs;
    await this.planRebuilds();
    this.reader = createPartitionReader(this.o.kafka, {
      topics: [this.topics.events, this.topics.rejected, this.topics.alerts],
      // A new group per start: a process killed a moment ago would otherwise stay a member of its
      // group until its session expires, and the restart would wait for it to be dropped.
      groupId: `trackhouse-stream-${this.o.store.instance}-${randomUUID().slice(0, 8)}`,
      position: (topic, partition) => this.replayFrom.get(tp(topic, partition)) ?? this.positions.get(tp(topic, partition)) ?? null,
      onSeek: (topic, partition, offset) => {
        if (offset !== null && !this.positions.has(tp(topic, partition))) {
          this.positions.set(tp(topic, partition), offset);
          this.changedPositions.add(tp(topic, partition));
        }
      },
      // The notification log is read whole (it is compacted); the data topics from the backfill.
      startTime: (topic) => (topic === this.topics.alerts ? 0 : startTime),
      maxWaitMs: cfg.fetchMaxWaitMs,
      maxBytes: cfg.fetchMaxBytes,
      maxBytesPerPartition: Math.max(1024 * 1024, Math.floor(cfg.fetchMaxBytes / 4)),
      // Fetch the next round while this one is counted: rounds skip what they already read.
      prefetch: true,
      log: this.o.log,
    });
    const ends = await this.reader.endOffsets();
    this.startEnds = new Map();
    for (const [topic, parts] of ends) for (const [p, end] of parts) {
      this.startEnds.set(tp(topic, p), end);
      this.ends.set(tp(topic, p), end);
    }
    await this.reader.start((batches) => this.round(batches));
    this.timer = setInterval(() => this.tick(), 1_000);
    this.timer.unref();
    // End offsets for lag and idleness of partitions that get nothing new.
    this.endsTimer = setInterval(() => void this.refreshEnds(), 5_000);
    this.endsTimer.unref();
  }

  /** Position on the notification log, and its end: the new leader waits until they meet. */
  async logEnd(): Promise<number> {
    const ends = await this.reader!.endOffsets();
    return ends.get(this.topics.alerts)?.get(0) ?? 0;
  }

  logPosition(): number {
    return this.positions.get(tp(this.topics.alerts, 0)) ?? 0;
  }

  private async refreshEnds(): Promise<void> {
    if (this.stopped || this.reader === null) return;
    try {
      for (const [topic, parts] of await this.reader.endOffsets()) for (const [p, end] of parts) this.ends.set(tp(topic, p), Math.max(end, this.ends.get(tp(topic, p)) ?? 0));
    } catch (err) {
      this.o.log.debug({ err }, 'could not read end offsets');
    }
  }

  lag(): { topic: string; partition: number; lag: number }[] {
    const out: { topic: string; partition: number; lag: number }[] = [];
    for (const [k, end] of this.ends) {
      const [topic, p] = k.split('\u0000') as [string, string];
      out.push({ topic, partition: Number(p), lag: Math.max(0, end - (this.positions.get(k) ?? 0)) });
    }
    return out;
  }

  private checkCaughtUp(): void {
    if (this.caught || this.startEnds === null || this.reader === null || this.reader.assigned().size === 0) return;
    for (const [k, end] of this.startEnds) if ((this.positions.get(k) ?? 0) < end) return;
    this.caught = true;
    this.o.log.info({ watermark: Number.isFinite(this.watermarkMs) ? new Date(this.watermarkMs).toISOString() : null }, 'stream processor caught up');
    if (this.backfill) {
      this.backfill = false;
      this.dirty = true;
      const alerting: { rule: Rule; group: string; windowEnd: number; value: number }[] = [];
      for (const rt of this.evaluator.runtimes) for (const [group, g] of rt.rw.groups) if (g.alert) alerting.push({ rule: rt.rule, group, windowEnd: g.transitionEnd, value: g.value });
      this.notifier.backfillDone(alerting, Date.now());
    }
  }

  private async round(batches: readonly ReadBatch[]): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    const m = this.o.metrics();
    const now = Date.now();
    let events = 0;
    let rejected = 0;
    let logged = 0;
    for (const b of batches) {
      const k = tp(b.topic, b.partition);
      const from = this.positions.get(k) ?? -1;
      let last = -1;
      if (b.topic === this.topics.events) events += this.events(b, from, k);
      else if (b.topic === this.topics.rejected) rejected += this.rejected(b, from, k);
      else if (b.topic === this.topics.alerts) {
        for (const r of b.records) {
          if (Number(r.offset) < from) continue;
          this.o.notifier.applyLog(r.key === null ? null : r.key.toString(), r.value, now);
          logged++;
        }
      }
      const tail = b.records[b.records.length - 1];
      if (tail !== undefined) last = Number(tail.offset);
      if (last + 1 > from) {
        this.positions.set(k, last + 1);
        this.changedPositions.add(k);
      }
      this.ends.set(k, Math.max(b.highWatermark, this.ends.get(k) ?? 0));
    }
    if (m) {
      m.records.inc({ topic: 'events' }, events);
      m.records.inc({ topic: 'rejected' }, rejected);
      m.records.inc({ topic: 'alerts' }, logged);
    }
    this.volume.fold();
    this.dirty = true;
    this.checkCaughtUp();
    this.decide(now);
    m?.roundSeconds.observe((performance.now() - started) / 1000);
  }

  private resendWindow(k: string): ResendWindow | null {
    const { dedupWindowEvents, dedupWindowMs } = this.o.config.sink;
    if (dedupWindowEvents === 0) return null;
    let w = this.resendWindows.get(k);
    if (w === undefined) this.resendWindows.set(k, (w = new ResendWindow(dedupWindowEvents, dedupWindowMs)));
    return w;
  }

  private events(b: ReadBatch, from: number, k: string): number {
    const { proj, key, projector, volume, evaluator, idHash } = this;
    const resends = this.resendWindow(k);
    const wantsProps = this.props.wanted.length > 0;
    const m = this.o.metrics();
    const lateness = this.o.config.stream.allowedLatenessMs;
    const lateBefore = this.watermarkMs - lateness;
    let newest = this.partitionTime.get(k) ?? -Infinity;
    let n = 0;
    const records = b.records;
    // Offsets rise within a batch: only its head can be before `from` (read already).
    let i = this.replayFrom.has(k) ? this.replay(b, from, k) : 0;
    while (i < records.length && Number(records[i]!.offset) < from) i++;
    if (resends !== null && i < records.length) this.windowsChanged.add(k);
    for (; i < records.length; i++) {
      const r = records[i]!;
      if (r.value === null) continue;
      try {
        projector.read(r.value, proj);
      } catch (err) {
        if (err instanceof DecodeError) {
          m?.undecodable.inc();
          continue;
        }
        throw err;
      }
      n++;
      if (proj.received_at > newest) newest = proj.received_at;
      const user = r.key === null || r.key.length === 0 ? -1 : murmur3(r.key);
      if (resends !== null) {
        hashBytes(user, proj.buf, proj.idStart, proj.idEnd, idHash, 0);
        if (resends.seen(idHash[0]!, idHash[1]!, proj.received_at)) {
          m?.resends.inc();
          continue;
        }
      }
      key.reset(r.key);
      // Properties: only the wanted members (src/stream/props.ts), not the whole object, and not
      // at all when no rule or sum reads any.
      let props: readonly unknown[] | null = null;
      if (wantsProps && proj.propsEnd - proj.propsStart > 2 && this.props.read(proj.buf, proj.propsStart, proj.propsEnd)) props = this.props.values;
      let sums: Float64Array | null = null;
      if (this.sums !== null && props !== null) {
        sums = this.sums;
        for (let i = 0; i < this.sumIndex.length; i++) {
          const v = props[this.sumIndex[i]!];
          sums[i] = typeof v === 'number' && Number.isFinite(v) ? v : NaN;
        }
      }
      const late = proj.timestamp < lateBefore;
      if (late) m?.late.inc();
      const t = late ? proj.received_at : proj.timestamp;
      volume.add(t - (((t % 60_000) + 60_000) % 60_000), proj.source, proj.type, proj.event ?? '', user, sums, late);
      evaluator.onEvent(proj, user, key, props);
    }
    this.partitionTime.set(k, newest);
    return n;
  }

  /**
   * Feeds the records of `b` below `from` (counted before this start) to the partition's resend
   * window, nothing else; ends the replay once the batch reaches `from`. Returns the index of the
   * first record at or after `from`.
   */
  private replay(b: ReadBatch, from: number, k: string): number {
    const { proj, projector, idHash } = this;
    const records: readonly ReadRecord[] = b.records;
    const resends = this.resendWindow(k);
    let i = 0;
    for (; i < records.length; i++) {
      const r = records[i]!;
      if (Number(r.offset) >= from) break;
      if (r.value === null || resends === null) continue;
      try {
        projector.read(r.value, proj);
      } catch (err) {
        if (err instanceof DecodeError) continue;
        throw err;
      }
      hashBytes(r.key === null || r.key.length === 0 ? -1 : murmur3(r.key), proj.buf, proj.idStart, proj.idEnd, idHash, 0);
      resends.seen(idHash[0]!, idHash[1]!, proj.received_at);
    }
    if (b.lastOffset + 1 >= from) {
      this.replayFrom.delete(k);
      this.windowsChanged.add(k);
    }
    return i;
  }

  /** The saved windows of the events partitions this store has positions for (./resendstate.ts). */
  private restoreWindows(): void {
    const { dedupWindowEvents, dedupWindowMs } = this.o.config.sink;
    if (dedupWindowEvents === 0) return;
    for (const { key, value } of this.o.store.dbs.windows.getRange({})) {
      const [topic, partition] = key as [string, number];
      const k = tp(topic, partition);
      const position = this.positions.get(k);
      const saved = readSavedWindow(value);
      if (topic !== this.topics.events || position === undefined || saved === null || saved.offset > position) continue;
      this.resendWindows.set(k, ResendWindow.restore(saved.bytes, dedupWindowEvents, dedupWindowMs));
      if (saved.offset < position) this.replayFrom.set(k, saved.offset);
    }
  }

  /**
   * For each events partition read before and without a restored window (a store written before
   * windows were kept, or a start killed before its first save): where to read from so its window
   * holds what it held, within its bounds, before the position. Logged, with the records re-read.
   */
  private async planRebuilds(): Promise<void> {
    const { dedupWindowEvents, dedupWindowMs } = this.o.config.sink;
    const prefix = `${this.topics.events}\u0000`;
    const missing = [...this.positions.entries()].filter(([k, position]) => k.startsWith(prefix) && position > 0 && !this.resendWindows.has(k)).map(([k]) => k);
    const restored = [...this.replayFrom.entries()].reduce((n, [k, from]) => n + (this.positions.get(k)! - from), 0);
    if (this.resendWindows.size > 0) {
      this.o.log.info({ partitions: this.resendWindows.size, records: restored }, 'stream: resend windows kept from the last run (records read since they were saved are read again to bring them up to date)');
    }
    if (dedupWindowEvents === 0 || missing.length === 0) return;
    const offsets = partitionOffsets(this.o.kafka);
    let atTime: Map<number, number> | null = null;
    try {
      if (dedupWindowMs > 0) atTime = await offsets.atTime(this.topics.events, Date.now() - dedupWindowMs);
    } finally {
      await offsets.close();
    }
    let records = 0;
    let partitions = 0;
    for (const k of missing) {
      const partition = Number(k.slice(prefix.length));
      const position = this.positions.get(k)!;
      const from = rebuildFrom(position, dedupWindowEvents, atTime === null ? null : (atTime.get(partition) ?? -1));
      if (from >= position) continue;
      this.replayFrom.set(k, from);
      records += position - from;
      partitions++;
    }
    // A partition with nothing in its window's bounds (never read, or quiet for longer) has nothing to rebuild.
    if (partitions === 0) return;
    this.o.log.info(
      { partitions, records },
      'stream: no saved resend window for partitions read before (a store written by an earlier version, or a start stopped before its first save): re-reading their last records within SINK_DEDUP_WINDOW_MS / _EVENTS to rebuild it, so a client resend of an event counted before is not counted again',
    );
  }

  private rejected(b: ReadBatch, from: number, k: string): number {
    let newest = this.partitionTime.get(k) ?? -Infinity;
    let n = 0;
    for (const r of b.records) {
      if (Number(r.offset) < from) continue;
      const h = r.headers ?? {};
      const source = headerText(h.source) || '(none)';
      const reason = headerText(h.error_code) || '(none)';
      const received = Date.parse(headerText(h.received_at));
      const t = Number.isFinite(received) ? received : Number(r.timestamp);
      if (t > newest) newest = t;
      this.volume.addRejected(t, source, reason);
      this.evaluator.onRejected(source, reason, t);
      n++;
    }
    this.partitionTime.set(k, newest);
    return n;
  }

  /** Moves the watermark, decides, records notes, commits when due. */
  private decide(now: number): void {
    this.moveWatermark(now);
    const transitions = this.evaluator.afterRound(this.watermarkMs);
    if (transitions.length > 0) {
      this.notifier.record(transitions, this.backfill, now);
      this.dirty = true;
    }
    if (this.notifier.hasUncommitted || (this.dirty && now - this.lastCommit >= this.o.config.stream.commitIntervalMs)) this.commit(now);
  }

  private moveWatermark(now: number): void {
    const reader = this.reader;
    if (reader === null) return;
    const grace = this.o.config.stream.idleGraceMs;
    let min = Infinity;
    let any = false;
    for (const [topic, parts] of reader.assigned()) {
      if (topic === this.topics.alerts) continue;
      for (const p of parts) {
        any = true;
        const k = tp(topic, p);
        let t = this.partitionTime.get(k) ?? -Infinity;
        const end = this.ends.get(k);
        if (end !== undefined && (this.positions.get(k) ?? 0) >= end) t = Math.max(t, now - grace);
        if (t < min) min = t;
      }
    }
    if (any && min > this.watermarkMs) {
      this.watermarkMs = min;
      this.dirty = true;
    }
  }

  private tick(): void {
    if (this.stopped || this.reader === null) return;
    this.checkCaughtUp();
    this.decide(Date.now());
  }

  /**
   * One transaction: offsets, watermark, volume, rule groups, notes. Asynchronous: the callback
   * writes a snapshot of memory as it is when it runs (between rounds: rounds are synchronous),
   * and lmdb-js commits and flushes off the event loop, so reading goes on meanwhile. One commit
   * at a time; a commit asked for while one runs follows it.
   */
  commit(now = Date.now()): void {
    if (this.committing !== null) {
      this.commitAgain = true;
      return;
    }
    const { dbs } = this.o.store;
    const started = performance.now();
    this.lastCommit = now;
    let notes: ReturnType<Notifier['takeUncommitted']> = [];
    this.committing = dbs.root
      .transaction(() => {
        for (const k of this.changedPositions) {
          const [topic, p] = k.split('\u0000') as [string, string];
          dbs.offsets.put([topic, Number(p)], this.positions.get(k)!);
        }
        if (Number.isFinite(this.watermarkMs)) dbs.meta.put('watermark', this.watermarkMs);
        if (this.saveWindowsNext || now - this.lastWindowSave >= WINDOW_SAVE_MS) {
          this.saveWindowsNext = false;
          this.lastWindowSave = now;
          for (const k of this.windowsChanged) {
            const position = this.positions.get(k);
            const w = this.resendWindows.get(k);
            // A window still being replayed is behind its position: the saved one stays.
            if (position === undefined || w === undefined || this.replayFrom.has(k)) continue;
            const [topic, p] = k.split('\u0000') as [string, string];
            dbs.windows.put([topic, Number(p)], savedWindow(position, w.snapshot()));
            this.windowsChanged.delete(k);
          }
        }
        dbs.meta.put('backfill', this.backfill);
        this.volume.write();
        this.volume.prune(Date.now());
        this.evaluator.write();
        this.notifier.write((rule) => this.evaluator.horizonOf(rule));
        notes = this.notifier.takeUncommitted();
        this.changedPositions.clear();
        this.dirty = false;
      })
      .then(
        () => {
          this.notifier.committed(notes);
          this.volume.evict(this.watermarkMs);
          this.o.metrics()?.commitSeconds.observe((performance.now() - started) / 1000);
        },
        (err: unknown) => {
          // The store refused a write (disk full, say): nothing of this commit is in it, and the
          // records after the last commit are read again after a restart. Stop rather than drift.
          // process.exit, not cli/hardexit.ts's exitNow: beside chDB (`start`, `query`) this runs
          // in the stream host thread (hostthread.ts), where process.exit ends that thread only and
          // the host starts it again, while exitNow's _exit() would end the whole process;
          // `trackhouse alerts` runs it on its main thread, in a process without chDB.
          this.o.log.fatal({ err }, 'the stream store could not commit; exiting so the next start resumes from the last commit');
          process.exit(1);
        },
      )
      .finally(() => {
        this.committing = null;
        if (this.commitAgain) {
          this.commitAgain = false;
          this.commit();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.endsTimer) clearInterval(this.endsTimer);
    await this.reader?.stop();
    // What was read and counted is kept: the next start resumes after it.
    while (this.committing !== null) await this.committing;
    // The windows as they are now, so the next start replays nothing.
    this.saveWindowsNext = this.windowsChanged.size > 0;
    if (this.dirty || this.changedPositions.size > 0 || this.saveWindowsNext) {
      this.commit();
      while (this.committing !== null) await this.committing;
    }
  }
}

function headerText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return headerText(v[0]);
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}
