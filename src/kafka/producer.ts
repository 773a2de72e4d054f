// The project's producer: takes the records of many callers (one HTTP request each), packs them
// into few large Kafka produce requests, and tells each caller once all of its records are
// acknowledged by every in-sync replica (acks=all), or why not.
//
// How it batches: while one produce request is in flight, new submissions queue up; when it
// returns, everything queued (up to `maxRequestBytes`) leaves in the next one. An idle producer
// sends at the next setImmediate, so all requests parsed in one event-loop turn share a request.
// kafkajs's idempotent producer holds one request in flight per broker anyway, so this loses no
// parallelism and turns N HTTP requests into ~1 Kafka request per broker round trip.
//
// Bounds: bytes queued or in flight never exceed `maxPendingBytes` (submit() refuses beyond it);
// a submission not acknowledged within `ackTimeoutMs` is settled with a retriable timeout error
// and, if still queued, never sent; while a produce has been stuck longer than `ackTimeoutMs`
// (Kafka down or stalled) submit() refuses at once instead of making callers wait.
//
// kafkajs stays behind this file: callers see Submission/RecordProducer only.
import type { Admin, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import type { CompressionTypes } from 'kafkajs';
import { DependencyError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { javaCompatiblePartitioner } from './partitioner.js';

/** One Kafka record. It is handed to kafkajs as is (no copy), so keep it to these fields. */
export interface OutRecord {
  topic: string;
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
}

/** The records of one caller, acknowledged together. */
export interface Submission {
  readonly records: readonly OutRecord[];
  /** Memory the records hold (keys, values, headers); counted against maxPendingBytes. */
  readonly bytes: number;
  /** Called exactly once: null when Kafka acknowledged every record, else the reason it did not. */
  settle(error: ProduceError | null): void;
}

export type SubmitOutcome = 'queued' | 'full' | 'unavailable' | 'closed';

export class ProduceError extends DependencyError {
  constructor(code: 'KAFKA_ACK_TIMEOUT' | 'KAFKA_PRODUCE_FAILED', message: string, cause?: unknown) {
    super(code, message, { retriable: true, cause });
  }
}

export interface ProducerStats {
  /** Called after every produce request with its outcome. */
  onSend?(records: number, bytes: number, seconds: number, ok: boolean): void;
}

export interface RecordProducer {
  /** Queues a caller's records. Anything but 'queued' means settle() will not be called. */
  submit(submission: Submission): SubmitOutcome;
  /** Bytes queued or in flight. */
  readonly pendingBytes: number;
  /** Resolves when Kafka answers (readiness); rejects with the reason it does not. */
  probe(): Promise<void>;
  /** Resolves once every submission made so far is settled, or after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Flushes (bounded) and disconnects. */
  close(timeoutMs: number): Promise<void>;
}

export interface ProducerOptions {
  kafka: Kafka;
  log: Logger;
  compression: CompressionTypes;
  ackTimeoutMs: number;
  maxPendingBytes: number;
  maxRequestBytes: number;
  /** Topic the readiness probe asks metadata for. */
  probeTopic: string;
  stats?: ProducerStats;
}

/** Per-record overhead inside a Kafka record batch (length, attributes, deltas, varints). */
const RECORD_OVERHEAD = 24;

/** Producer-side bookkeeping for one submission. */
class Tracker {
  /** Index of the next record to send. */
  next = 0;
  /** Records of this submission in the produce request now in flight. */
  inFlight = 0;
  settled = false;
  /** Its bytes were taken off `pending` (exactly once). */
  released = false;
  constructor(
    readonly sub: Submission,
    readonly deadline: number,
  ) {}
}

export async function createRecordProducer(opts: ProducerOptions): Promise<RecordProducer> {
  const p = new BatchingProducer(opts);
  await p.connect();
  return p;
}

class BatchingProducer implements RecordProducer {
  private producer: Producer;
  private readonly admin: Admin;
  private readonly log: Logger;
  /** FIFO of submissions with records left to send; `head` avoids O(n) shifts. */
  private queue: Tracker[] = [];
  private head = 0;
  /** Trackers with records in the request now in flight, and how many records each. */
  private sending: Tracker[] = [];
  private sendingCounts: number[] = [];
  private sendStartedAt = 0;
  private busy = false;
  private scheduled = false;
  private closed = false;
  private pending = 0;
  private lastAckAt = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly opts: ProducerOptions) {
    this.log = opts.log.child({ component: 'producer' });
    this.producer = this.newProducer();
    // Readiness asks once, without kafkajs's long retry loop: an unanswered probe is the answer.
    this.admin = opts.kafka.admin({ retry: { retries: 0 } });
    // One timer for all deadlines instead of a timer per request.
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(20, Math.min(250, opts.ackTimeoutMs / 4)));
    this.sweepTimer.unref();
  }

  private newProducer(): Producer {
    return this.opts.kafka.producer({
      idempotent: true,
      // kafkajs's recommendation for idempotence: retry retriable errors without end. While
      // Kafka is down one request keeps retrying (the probe); callers are answered by deadline.
      retry: { retries: Number.MAX_SAFE_INTEGER },
      allowAutoTopicCreation: false,
      createPartitioner: javaCompatiblePartitioner,
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    await this.admin.connect();
  }

  get pendingBytes(): number {
    return this.pending;
  }

  submit(sub: Submission): SubmitOutcome {
    if (this.closed) return 'closed';
    const now = Date.now();
    if (this.busy && now - this.sendStartedAt > this.opts.ackTimeoutMs) return 'unavailable';
    if (this.pending + sub.bytes > this.opts.maxPendingBytes) return 'full';
    this.pending += sub.bytes;
    this.queue.push(new Tracker(sub, now + this.opts.ackTimeoutMs));
    this.schedule();
    return 'queued';
  }

  private schedule(): void {
    if (this.busy || this.scheduled || this.head >= this.queue.length) return;
    this.scheduled = true;
    setImmediate(this.sendNext);
  }

  /** Takes queued records up to maxRequestBytes and sends them as one produce request. */
  private readonly sendNext = (): void => {
    this.scheduled = false;
    if (this.busy) return;
    const byTopic = new Map<string, Message[]>();
    let bytes = 0;
    let records = 0;
    const limit = this.opts.maxRequestBytes;
    while (this.head < this.queue.length && bytes < limit) {
      const t = this.queue[this.head]!;
      if (t.settled) {
        // Timed out or failed while queued: never sent.
        this.head++;
        this.releaseIfDone(t);
        continue;
      }
      const recs = t.sub.records;
      const first = t.next;
      while (t.next < recs.length) {
        const r = recs[t.next]!;
        const size = recordSize(r);
        if (bytes + size > limit && bytes > 0) break;
        let list = byTopic.get(r.topic);
        if (list === undefined) byTopic.set(r.topic, (list = []));
        list.push(r as Message);
        bytes += size;
        t.next++;
      }
      const taken = t.next - first;
      if (taken > 0) {
        t.inFlight = taken;
        records += taken;
        this.sending.push(t);
        this.sendingCounts.push(taken);
      }
      if (t.next < recs.length) break; // request full; the rest of this submission goes next
      this.head++;
    }
    this.compact();
    if (records === 0) {
      this.notifyIfIdle();
      return;
    }
    const topicMessages: TopicMessages[] = [];
    for (const [topic, messages] of byTopic) topicMessages.push({ topic, messages });
    this.busy = true;
    this.sendStartedAt = Date.now();
    this.producer.sendBatch({ acks: -1, compression: this.opts.compression, topicMessages }).then(
      () => this.finishSend(null, records, bytes),
      (err: unknown) => this.finishSend(err, records, bytes),
    );
  };

  private finishSend(err: unknown, records: number, bytes: number): void {
    const seconds = (Date.now() - this.sendStartedAt) / 1000;
    this.opts.stats?.onSend?.(records, bytes, seconds, err === null);
    const error =
      err === null ? null : new ProduceError('KAFKA_PRODUCE_FAILED', `Kafka did not accept the records: ${errorMessage(err)}`, err);
    if (error === null) this.lastAckAt = Date.now();
    const sending = this.sending;
    const counts = this.sendingCounts;
    this.sending = [];
    this.sendingCounts = [];
    for (let i = 0; i < sending.length; i++) {
      const t = sending[i]!;
      t.inFlight -= counts[i]!;
      if (error !== null) this.settle(t, error);
      else if (t.inFlight === 0 && t.next === t.sub.records.length) this.settle(t, null);
      this.releaseIfDone(t);
    }
    if (error !== null && !this.closed) {
      this.log.warn({ err, records }, 'produce failed; starting a new Kafka producer');
      void this.restartProducer().finally(() => {
        this.busy = false;
        this.schedule();
        this.notifyIfIdle();
      });
      return;
    }
    this.busy = false;
    this.schedule();
    this.notifyIfIdle();
  }

  /**
   * kafkajs retries retriable errors forever for an idempotent producer, so an error that reaches
   * us has left its sequence numbers unusable; a new producer (new producer id) starts clean.
   */
  private async restartProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    await old.disconnect().catch(() => undefined);
    try {
      await this.producer.connect();
    } catch (err) {
      this.log.warn({ err }, 'Kafka producer could not connect yet; the next send retries');
    }
  }

  private settle(t: Tracker, error: ProduceError | null): void {
    if (t.settled) return;
    t.settled = true;
    try {
      t.sub.settle(error);
    } catch (err) {
      this.log.error({ err }, 'a submission callback threw');
    }
  }

  /** Frees a tracker's bytes once none of its records is in flight or still to be sent. */
  private releaseIfDone(t: Tracker): void {
    if (t.released || t.inFlight > 0) return;
    if (!t.settled && t.next < t.sub.records.length) return;
    t.released = true;
    this.pending -= t.sub.bytes;
  }

  /** Settles submissions whose deadline passed; queued ones are then skipped, never sent. */
  private sweep(): void {
    const now = Date.now();
    for (const t of this.sending) {
      if (now > t.deadline) this.settle(t, timeoutError(this.opts.ackTimeoutMs));
    }
    for (let i = this.head; i < this.queue.length; i++) {
      const t = this.queue[i]!;
      if (now <= t.deadline) break; // deadlines grow along the queue
      this.settle(t, timeoutError(this.opts.ackTimeoutMs));
      this.releaseIfDone(t);
    }
    // Drop settled trackers at the head now, so their memory goes before the next send.
    while (this.head < this.queue.length) {
      const t = this.queue[this.head]!;
      if (!t.settled || t.inFlight > 0) break;
      this.head++;
    }
    this.compact();
    this.notifyIfIdle();
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private idle(): boolean {
    return !this.busy && this.head >= this.queue.length;
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.idle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  async probe(): Promise<void> {
    if (this.busy && Date.now() - this.sendStartedAt > this.opts.ackTimeoutMs) {
      throw new ProduceError(
        'KAFKA_ACK_TIMEOUT',
        `a produce request has waited ${Math.round((Date.now() - this.sendStartedAt) / 1000)} s for Kafka`,
      );
    }
    // A recent acknowledgement is proof enough; otherwise ask the cluster for metadata.
    if (Date.now() - this.lastAckAt < 5_000) return;
    await this.admin.fetchTopicMetadata({ topics: [this.opts.probeTopic] });
  }

  flush(timeoutMs: number): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    await this.flush(timeoutMs);
    clearInterval(this.sweepTimer);
    // Whatever is left (Kafka down) is answered now rather than never.
    for (const t of this.sending) this.settle(t, timeoutError(this.opts.ackTimeoutMs));
    for (let i = this.head; i < this.queue.length; i++) this.settle(this.queue[i]!, timeoutError(this.opts.ackTimeoutMs));
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}

function recordSize(r: OutRecord): number {
  let size = r.value.length + RECORD_OVERHEAD;
  if (r.key !== null) size += r.key.length;
  if (r.headers !== undefined) {
    for (const k in r.headers) size += k.length + r.headers[k]!.length + 4;
  }
  return size;
}

function timeoutError(ms: number): ProduceError {
  return new ProduceError('KAFKA_ACK_TIMEOUT', `Kafka did not acknowledge within ${ms} ms`);
}
