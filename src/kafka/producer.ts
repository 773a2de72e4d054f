// The project's producer: takes the records of many callers (one HTTP request each), packs them
// into few large Kafka produce requests, and tells each caller once all of its records are
// acknowledged by every in-sync replica (acks=all), or why not.
//
// How it batches: kafkajs's idempotent producer keeps one produce request in flight per broker.
// While it is in flight, new submissions queue up; when it returns, everything queued (up to
// `maxRequestBytes`) leaves in the next one. An idle producer sends at the next setImmediate, so
// all requests parsed in one event-loop turn share a produce request.
//
// Linger (`lingerMs`, `lingerBytes`): when records trickle in (single events), a free lane with
// fewer than `lingerBytes` queued waits until its oldest queued record is `lingerMs` old before
// sending, as Kafka's linger.ms does. Every produce request costs the broker and kafkajs a fixed
// amount of CPU per request and per partition batch, whatever its size; a few records more per
// request cut both per event (measured: docs/architecture/ingest.md, "Producer"). No record waits
// more than `lingerMs` for it; a lane whose queue reaches `lingerBytes`, and holds at least as many
// records as the lane's last request carried, sends at once. The second condition is for steady
// load from many callers: the callers a request answered come back within one client round trip,
// and waiting for them sends them together rather than split across two requests.
//
// Lanes: `lanes` kafkajs producers side by side, each with its own queue and its own request in
// flight, so one lane encodes (kafkajs spends ~8 us of CPU per record) while another waits for
// the broker, and a request arriving mid-produce need not wait a full round trip. A record's lane
// follows from its key (the same hash the partitioner uses), so a user's records always travel
// through one lane, in order; each lane is an idempotent producer with its own producer id.
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
import { childLogger, type Logger } from '../common/log.js';
import { settledWithin } from '../common/wait.js';
import { javaCompatiblePartitioner, murmur2String } from './partitioner.js';

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
  /**
   * Flushes (bounded) and disconnects. Resolves with what it gave up on: submissions Kafka had
   * not acknowledged by then, answered now with a timeout error (their callers never got an ack).
   */
  close(timeoutMs: number): Promise<{ submissions: number; records: number }>;
}

export interface ProducerOptions {
  kafka: Kafka;
  log: Logger;
  compression: CompressionTypes;
  ackTimeoutMs: number;
  maxPendingBytes: number;
  maxRequestBytes: number;
  /** kafkajs producers working side by side (see "Lanes" above); default 1. */
  lanes?: number;
  /** Longest a queued record waits for more to join it while its lane is free (see "Linger"); default 0. */
  lingerMs?: number;
  /** Queued record bytes at which a lingering lane sends at once; default 0 (never lingers). */
  lingerBytes?: number;
  /** Topic the readiness probe asks metadata for. */
  probeTopic: string;
  stats?: ProducerStats;
}

/**
 * Queued bytes past which a free lane no longer waits for as many records as its last request
 * carried: a produce request's fixed cost (~150 us in kafkajs and the socket) is then under
 * ~0.4 us per record, and under 100-event batches (requests near maxRequestBytes) waiting only
 * idled the edge (docs/architecture/ingest.md, "Fuller produce requests").
 */
const FILL_BYTES = 256 * 1024;

/** Per-record overhead inside a Kafka record batch (length, attributes, deltas, varints). */
const RECORD_OVERHEAD = 24;

/** Producer-side bookkeeping for one submission. */
class Tracker {
  /** Parts (one per lane used) not yet finished. */
  openParts = 0;
  settled = false;
  constructor(
    readonly sub: Submission,
    readonly deadline: number,
  ) {}
}

/** The records of one submission that travel through one lane. */
class Part {
  /** Index of the next record to send. */
  next = 0;
  /** Records of this part in the lane's request now in flight. */
  inFlight = 0;
  /** recordSize of records[next..], summed once at enqueue: each record is sized once, not per pass. */
  bytesLeft = 0;
  done = false;
  constructor(
    readonly tracker: Tracker,
    readonly records: readonly OutRecord[],
    /** When it was queued (Date.now()): its lane lingers at most lingerMs past it. */
    readonly at: number,
  ) {}
}

class Lane {
  /** FIFO of parts with records left to send; `head` avoids O(n) shifts. */
  queue: Part[] = [];
  head = 0;
  /** Parts with records in the request now in flight, and how many records each. */
  sending: Part[] = [];
  counts: number[] = [];
  busy = false;
  scheduled = false;
  /** The linger timer while one is pending (then `scheduled` is true too). */
  timer: NodeJS.Timeout | null = null;
  /** Record bytes queued and not yet taken into a request (recordSize), for the linger bound. */
  queuedBytes = 0;
  /** Records queued and not yet taken into a request, for the linger bound. */
  queuedRecords = 0;
  /** Records the lane's last acknowledged request carried: a free lane waits for as many (see schedule). */
  lastRecords = 0;
  startedAt = 0;
  constructor(
    readonly index: number,
    public producer: Producer,
  ) {}

  stuck(now: number, limitMs: number): boolean {
    return this.busy && now - this.startedAt > limitMs;
  }

  idle(): boolean {
    return !this.busy && this.head >= this.queue.length;
  }
}

export async function createRecordProducer(opts: ProducerOptions): Promise<RecordProducer> {
  const p = new BatchingProducer(opts);
  await p.connect();
  return p;
}

class BatchingProducer implements RecordProducer {
  private readonly lanes: Lane[];
  private readonly admin: Admin;
  private readonly log: Logger;
  private closed = false;
  private pending = 0;
  private lastAckAt = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly lingerMs: number;
  private readonly lingerBytes: number;
  private readonly fillBytes: number;

  constructor(private readonly opts: ProducerOptions) {
    this.log = childLogger(opts.log, { module: 'producer' });
    this.lingerBytes = Math.max(0, opts.lingerBytes ?? 0);
    this.lingerMs = this.lingerBytes > 0 ? Math.max(0, opts.lingerMs ?? 0) : 0;
    this.fillBytes = Math.min(FILL_BYTES, opts.maxRequestBytes);
    this.lanes = Array.from({ length: Math.max(1, opts.lanes ?? 1) }, (_, i) => new Lane(i, this.newProducer()));
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
      // Kafka is down one request per lane keeps retrying (the probe); callers are answered by
      // their deadline.
      retry: { retries: Number.MAX_SAFE_INTEGER },
      allowAutoTopicCreation: false,
      createPartitioner: javaCompatiblePartitioner,
    });
  }

  async connect(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.producer.connect()));
    await this.admin.connect();
  }

  get pendingBytes(): number {
    return this.pending;
  }

  submit(sub: Submission): SubmitOutcome {
    if (this.closed) return 'closed';
    const now = Date.now();
    for (const l of this.lanes) if (l.stuck(now, this.opts.ackTimeoutMs)) return 'unavailable';
    if (this.pending + sub.bytes > this.opts.maxPendingBytes) return 'full';
    this.pending += sub.bytes;
    const t = new Tracker(sub, now + this.opts.ackTimeoutMs);
    const n = this.lanes.length;
    const recs = sub.records;
    if (n === 1 || recs.length === 0) {
      this.enqueue(this.lanes[0]!, new Part(t, recs, now));
      return 'queued';
    }
    const first = this.laneOf(recs[0]!);
    let split = false;
    for (let i = 1; i < recs.length && !split; i++) split = this.laneOf(recs[i]!) !== first;
    if (!split) {
      this.enqueue(this.lanes[first]!, new Part(t, recs, now));
      return 'queued';
    }
    const byLane: OutRecord[][] = Array.from({ length: n }, () => []);
    for (const r of recs) byLane[this.laneOf(r)]!.push(r);
    for (let i = 0; i < n; i++) if (byLane[i]!.length > 0) this.enqueue(this.lanes[i]!, new Part(t, byLane[i]!, now));
    return 'queued';
  }

  /** The lane of a record: from its key, so one key always uses one lane; keyless ones use lane 0. */
  private laneOf(r: OutRecord): number {
    return r.key === null ? 0 : (murmur2String(r.key) & 0x7fffffff) % this.lanes.length;
  }

  private enqueue(lane: Lane, part: Part): void {
    part.tracker.openParts++;
    lane.queue.push(part);
    part.bytesLeft = bytesFrom(part.records, 0);
    if (this.lingerMs > 0) {
      lane.queuedBytes += part.bytesLeft;
      lane.queuedRecords += part.records.length;
    }
    this.schedule(lane);
  }

  /**
   * Arranges the lane's next send: at the next setImmediate, or, lingering, once its oldest queued
   * record is lingerMs old; a linger timer gives way to setImmediate once lingerBytes are queued.
   */
  private schedule(lane: Lane): void {
    if (lane.busy || lane.head >= lane.queue.length) return;
    const ready = this.lingerReady(lane);
    if (lane.scheduled) {
      if (lane.timer === null || !ready) return;
      clearTimeout(lane.timer);
      lane.timer = null;
    } else if (this.lingerMs > 0 && !ready && !this.closed) {
      const wait = lane.queue[lane.head]!.at + this.lingerMs - Date.now();
      if (wait >= 1) {
        lane.scheduled = true;
        lane.timer = setTimeout(() => {
          lane.timer = null;
          this.sendNext(lane);
        }, wait);
        return;
      }
    }
    lane.scheduled = true;
    setImmediate(() => this.sendNext(lane));
  }

  /**
   * Whether a free lane has enough queued to send before its linger ends: lingerBytes, and at
   * least as many records as its last request carried. Under a steady load the callers answered
   * by that request come back within a round trip of the client; waiting for them (never past
   * lingerMs) makes each produce request fuller instead of splitting the same callers across two
   * requests, each with kafkajs's and the broker's fixed cost.
   */
  private lingerReady(lane: Lane): boolean {
    if (lane.queuedBytes < this.lingerBytes) return false;
    // A request of FILL_BYTES already spreads the fixed cost thin (batches): no waiting for more.
    return lane.queuedRecords >= lane.lastRecords || lane.queuedBytes >= this.fillBytes;
  }

  /** Takes a lane's queued records up to maxRequestBytes and sends them as one produce request. */
  private sendNext(lane: Lane): void {
    lane.scheduled = false;
    if (lane.timer !== null) {
      // close() or a full queue asked for this send before the linger ended.
      clearTimeout(lane.timer);
      lane.timer = null;
    }
    if (lane.busy) return;
    const byTopic = new Map<string, Message[]>();
    let bytes = 0;
    let records = 0;
    const limit = this.opts.maxRequestBytes;
    while (lane.head < lane.queue.length && bytes < limit) {
      const part = lane.queue[lane.head]!;
      if (part.tracker.settled) {
        // Timed out or failed while queued: never sent.
        lane.head++;
        this.dequeued(lane, part);
        this.partDone(part);
        continue;
      }
      const recs = part.records;
      const first = part.next;
      // The rest of the part fits whole (the usual case): no record is sized again.
      const whole = bytes + part.bytesLeft <= limit;
      while (part.next < recs.length) {
        const r = recs[part.next]!;
        if (!whole) {
          const size = recordSize(r);
          if (bytes + size > limit && bytes > 0) break;
          bytes += size;
          part.bytesLeft -= size;
        }
        let list = byTopic.get(r.topic);
        if (list === undefined) byTopic.set(r.topic, (list = []));
        list.push(r);
        part.next++;
      }
      if (whole) {
        bytes += part.bytesLeft;
        part.bytesLeft = 0;
      }
      const taken = part.next - first;
      if (taken > 0) {
        part.inFlight = taken;
        records += taken;
        lane.sending.push(part);
        lane.counts.push(taken);
      }
      if (part.next < recs.length) break; // request full; the rest of this part goes next
      lane.head++;
    }
    if (this.lingerMs > 0) {
      lane.queuedBytes -= bytes;
      lane.queuedRecords -= records;
    }
    compact(lane);
    if (records === 0) {
      this.notifyIfIdle();
      return;
    }
    const topicMessages: TopicMessages[] = [];
    for (const [topic, messages] of byTopic) topicMessages.push({ topic, messages });
    lane.busy = true;
    lane.startedAt = Date.now();
    lane.producer.sendBatch({ acks: -1, compression: this.opts.compression, topicMessages }).then(
      () => this.finishSend(lane, null, records, bytes),
      (err: unknown) => this.finishSend(lane, err, records, bytes),
    );
  }

  private finishSend(lane: Lane, err: unknown, records: number, bytes: number): void {
    const now = Date.now();
    this.opts.stats?.onSend?.(records, bytes, (now - lane.startedAt) / 1000, err === null);
    const error =
      err === null ? null : new ProduceError('KAFKA_PRODUCE_FAILED', `Kafka did not accept the records: ${errorMessage(err)}`, err);
    if (error === null) {
      this.lastAckAt = now;
      lane.lastRecords = records;
    }
    const sending = lane.sending;
    const counts = lane.counts;
    lane.sending = [];
    lane.counts = [];
    for (let i = 0; i < sending.length; i++) {
      const part = sending[i]!;
      part.inFlight -= counts[i]!;
      if (error !== null) this.settle(part.tracker, error);
      if (part.inFlight === 0 && (part.tracker.settled || part.next === part.records.length)) this.partDone(part);
    }
    if (error !== null && !this.closed) {
      this.log.warn({ err, records, lane: lane.index }, 'produce failed; starting a new Kafka producer for this lane');
      void this.restartProducer(lane).finally(() => {
        lane.busy = false;
        this.schedule(lane);
        this.notifyIfIdle();
      });
      return;
    }
    lane.busy = false;
    this.schedule(lane);
    this.notifyIfIdle();
  }

  /**
   * kafkajs retries retriable errors forever for an idempotent producer, so an error that reaches
   * us has left its sequence numbers unusable; a new producer (new producer id) starts clean.
   */
  private async restartProducer(lane: Lane): Promise<void> {
    const old = lane.producer;
    lane.producer = this.newProducer();
    await old.disconnect().catch(() => undefined);
    try {
      await lane.producer.connect();
    } catch (err) {
      this.log.warn({ err, lane: lane.index }, 'Kafka producer could not connect yet; the next send retries');
    }
  }

  /** A part leaves its lane's queue with records never taken (it timed out or failed). */
  private dequeued(lane: Lane, part: Part): void {
    if (this.lingerMs > 0) {
      lane.queuedBytes -= part.bytesLeft;
      lane.queuedRecords -= part.records.length - part.next;
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

  /** A part has nothing in flight and nothing left to send; the last part settles and frees. */
  private partDone(part: Part): void {
    if (part.done) return;
    part.done = true;
    const t = part.tracker;
    if (--t.openParts > 0) return;
    this.settle(t, null); // no-op when already settled by an error or its deadline
    this.pending -= t.sub.bytes;
  }

  /** Settles submissions whose deadline passed; their queued records are then never sent. */
  private sweep(): void {
    const now = Date.now();
    for (const lane of this.lanes) {
      for (const part of lane.sending) {
        if (now > part.tracker.deadline) this.settle(part.tracker, timeoutError(this.opts.ackTimeoutMs));
      }
      for (let i = lane.head; i < lane.queue.length; i++) {
        const part = lane.queue[i]!;
        if (now <= part.tracker.deadline) break; // deadlines grow along a queue
        this.settle(part.tracker, timeoutError(this.opts.ackTimeoutMs));
        if (part.inFlight === 0) this.partDone(part);
      }
      // Drop finished parts at the head now, so their memory goes before the next send.
      while (lane.head < lane.queue.length && lane.queue[lane.head]!.done) this.dequeued(lane, lane.queue[lane.head++]!);
      compact(lane);
    }
    this.notifyIfIdle();
  }

  private idle(): boolean {
    return this.lanes.every((l) => l.idle());
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.idle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  async probe(): Promise<void> {
    const now = Date.now();
    for (const l of this.lanes) {
      if (l.stuck(now, this.opts.ackTimeoutMs)) {
        throw new ProduceError('KAFKA_ACK_TIMEOUT', `a produce request has waited ${Math.round((now - l.startedAt) / 1000)} s for Kafka`);
      }
    }
    // A recent acknowledgement is proof enough; otherwise ask the cluster for metadata.
    if (now - this.lastAckAt < 5_000) return;
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

  async close(timeoutMs: number): Promise<{ submissions: number; records: number }> {
    this.closed = true;
    for (const lane of this.lanes) {
      // Closing: what lingers leaves now.
      if (lane.timer === null) continue;
      clearTimeout(lane.timer);
      lane.timer = null;
      lane.scheduled = false;
      this.schedule(lane);
    }
    await this.flush(timeoutMs);
    clearInterval(this.sweepTimer);
    // Whatever is left (Kafka down) is answered now rather than never.
    const left = { submissions: 0, records: 0 };
    const giveUp = (t: Tracker) => {
      if (t.settled) return;
      left.submissions++;
      left.records += t.sub.records.length;
      this.settle(t, timeoutError(this.opts.ackTimeoutMs));
    };
    for (const lane of this.lanes) {
      for (const part of lane.sending) giveUp(part.tracker);
      for (let i = lane.head; i < lane.queue.length; i++) giveUp(lane.queue[i]!.tracker);
    }
    // kafkajs's disconnect waits for requests a paused broker never answers: bounded too.
    const disconnected = Promise.allSettled([...this.lanes.map((l) => l.producer.disconnect()), this.admin.disconnect()]);
    await settledWithin(disconnected, Math.max(1_000, timeoutMs));
    return left;
  }
}

function compact(lane: Lane): void {
  if (lane.head === lane.queue.length) {
    lane.queue.length = 0;
    lane.head = 0;
    lane.queuedBytes = 0;
    lane.queuedRecords = 0;
  } else if (lane.head > 1024 && lane.head * 2 > lane.queue.length) {
    lane.queue = lane.queue.slice(lane.head);
    lane.head = 0;
  }
}

/** In bytes as Kafka gets them: a key of 8192 characters may be 24 KB in UTF-8. */
function recordSize(r: OutRecord): number {
  let size = r.value.length + RECORD_OVERHEAD;
  if (r.key !== null) size += Buffer.byteLength(r.key);
  if (r.headers !== undefined) {
    for (const k in r.headers) size += Buffer.byteLength(k) + Buffer.byteLength(r.headers[k]!) + 4;
  }
  return size;
}

/** recordSize of records[from..]. */
function bytesFrom(records: readonly OutRecord[], from: number): number {
  let n = 0;
  for (let i = from; i < records.length; i++) n += recordSize(records[i]!);
  return n;
}

function timeoutError(ms: number): ProduceError {
  return new ProduceError('KAFKA_ACK_TIMEOUT', `Kafka did not acknowledge within ${ms} ms`);
}
