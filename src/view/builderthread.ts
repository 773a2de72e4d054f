// The builder thread: reads the held partitions of the events topic from Kafka and applies them to
// the view (./builder.ts), off the query API's thread, so HTTP reads never wait behind a fetch
// being decoded and written. The main thread (./view.ts) reads the same LMDB environment.
//
// Start-up: the stored offsets, resend windows and horizon are loaded; partitions whose next offset
// Kafka no longer holds (beyond retention) are first filled from ClickHouse through the main thread
// (which owns the ClickHouse client); then the private reader (src/kafka/reader.ts) starts where
// the state left off. Progress goes to the log every few seconds until the view has caught up with
// the offsets the topic had at start, and to the main thread as reports (metrics, /readyz).
import { randomBytes } from 'node:crypto';
import { statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../common/log.js';
import type { Config } from '../config/index.js';
import { createKafka } from '../kafka/client.js';
import { createPartitionReader, type PartitionReader } from '../kafka/reader.js';
import { attachState } from '../state/statestore.js';
import { ErasureList, type UserErasure } from '../erasure/list.js';
import { TopicGrowth } from './growth.js';
import { ViewBuilder, type BackfillRow, type BuilderCounts, type CommitTimings } from './builder.js';
import { BULK_DISK_PER_RECORD, clearUnfinishedBulk } from './bulk.js';
import { createDecoder } from './decodepool.js';
import { pendingTransfer, type PendingBatch } from './pending.js';
import { nameThread, THREAD } from '../common/threads.js';
import { ageHorizon, DAY_MS, ERASED_AT_META, VIEW_DATABASES, viewSize, type ViewSize } from './viewstore.js';

export interface ViewWorkerData {
  config: Config;
  brokers: string[];
  path: string;
  /** The partitions held at start; partitions added to the topic later join them (`holds`). */
  partitions: number[];
  partitionCount: number;
  /** The count the kept state was built with, when the topic grew while the view was stopped. */
  grownFrom?: number;
  /** The erasure list when the view started; changes come as 'erasures' messages. */
  erasures: UserErasure[];
  /** The state carries a bulk build that this thread resumes (checked at open: ./bulk.ts interruptedBulk). */
  resumeBulk?: boolean;
}

/** main -> builder */
export type ToBuilder =
  | { type: 'stop' }
  | { type: 'delete-user'; id: number; userKey: string }
  /** New erasure list states: applied to every record from now on, and the users' rows deleted. */
  | { type: 'erasures'; id: number; states: UserErasure[] }
  | { type: 'backfill-rows'; partition: number; rows: BackfillRow[]; upTo: number | null };

/** A partition range Kafka no longer holds: [from, to). */
export interface BackfillRange {
  partition: number;
  from: number;
  to: number;
}

export interface BuilderReport {
  counts: BuilderCounts;
  /** Per held partition: next offset applied, and the topic's latest known end. */
  partitions: { partition: number; next: number; high: number }[];
  /** Once true, stays true: the view has applied everything the topic held when it started. */
  caughtUp: boolean;
  /**
   * Caught up and reading: false from a crash of its Kafka reader until, joined again, it has
   * applied what the topic held then. Pages come from ClickHouse meanwhile.
   */
  following: boolean;
  horizon: number;
  size: ViewSize;
  rounds: number;
  backfilled: number;
  gaps: number;
  /** The transactions committed since the report before (./builder.ts CommitTimings). */
  commits: CommitTimings;
  /** A bulk build's phase (./bulk.ts): sorting records into runs, or merging them into the view; null otherwise. */
  bulk: 'runs' | 'merging' | null;
}

/** builder -> main */
export type FromBuilder =
  | { type: 'report'; report: BuilderReport }
  | { type: 'backfill-needed'; ranges: BackfillRange[]; horizon: number }
  | { type: 'deleted'; id: number; events: number }
  /** The topic has more partitions than before: the view now reads `partitions` of `partitionCount`. */
  | { type: 'partitions'; partitions: number[]; partitionCount: number }
  /** Events applied in transaction `batch.seq`, readable before it commits (./pending.ts). */
  | { type: 'pending'; batch: PendingBatch }
  /** Transaction `seq` and those before it have committed. */
  | { type: 'committed'; seq: number }
  | { type: 'stopped' };

const REPORT_MS = 500;
const PROGRESS_LOG_MS = 5_000;
const MAINTENANCE_MS = 60_000;
const PRUNE_CHUNK = 20_000;

if (parentPort !== null && workerData?.path) void main(workerData as ViewWorkerData);

async function main(data: ViewWorkerData): Promise<void> {
  const port = parentPort!;
  nameThread(THREAD.viewBuilder);
  const { config } = data;
  const topic = config.kafka.topics.events;
  const q = config.query;
  const log = createLogger(config.logLevel, { component: 'view' });
  const state = attachState({ path: data.path, databases: VIEW_DATABASES });
  const decoder = q.viewDecodeThreads > 0 ? createDecoder(q.viewDecodeThreads) : undefined;
  const killAfter = q.viewTestKillAfterRecords;
  if (killAfter > 0) log.warn({ afterRecords: killAfter }, 'QUERY_VIEW_TEST_KILL_AFTER_RECORDS is set: this process will kill itself (test hook)');
  const erasures = new ErasureList();
  for (const u of data.erasures) erasures.setUser(u.userKey, u);
  // A bulk build this process began in a builder thread that died: its partial view goes (the
  // state cannot be wiped while the process holds it open), and it begins again, by inserting if
  // it was already the second attempt (a failure that repeats must not loop). One the state
  // brought from an earlier run resumes instead (below).
  const unfinished = data.resumeBulk === true ? undefined : await clearUnfinishedBulk(state, topic, path.join(data.path, 'bulk'));
  const builder = new ViewBuilder(state, {
    erasures,
    topic,
    partitions: data.partitions,
    window: { events: config.sink.dedupWindowEvents, ms: config.sink.dedupWindowMs },
    ...(decoder ? { decoder } : {}),
    recordsPerCommit: q.viewCommitRecords,
    catchUpRecords: q.viewCatchUpRecords,
    catchUpBytes: q.viewCatchUpBytes,
    commitMs: q.viewCommitMs,
    bulkCheckpointMs: q.viewBulkCheckpointMs,
    onPending: (batch) => port.postMessage({ type: 'pending', batch } satisfies FromBuilder, pendingTransfer(batch)),
    onCommitted: (seq) => port.postMessage({ type: 'committed', seq } satisfies FromBuilder),
    log,
    // The test hook: SIGKILL with a transaction in flight, once one of this process's committed
    // (so every kill leaves progress for the next start to resume from).
    ...(killAfter > 0 ? { afterQueued: (records: number, committed: boolean) => void (committed && records >= killAfter && process.kill(process.pid, 'SIGKILL')) } : {}),
    onBulkFailed: (err) => {
      log.error({ err }, 'the view bulk build failed; the builder thread restarts, clears what it wrote and builds again');
      process.exit(1);
    },
  });
  if (unfinished !== undefined) {
    log.warn({ ...unfinished }, 'the view builder stopped during a bulk build: its partial view is cleared, and the view is built again');
  }
  // Users erased while this view was not running: their rows go before anything is read.
  const erasedAt = state.getMeta<number>(ERASED_AT_META) ?? 0;
  let listAt = erasedAt;
  for (const u of data.erasures) {
    listAt = Math.max(listAt, u.updatedAt);
    if (u.updatedAt > erasedAt && (u.erasedAll || u.erasedUpTo !== null)) await builder.writer.deleteUser(u.userKey);
  }
  if (listAt > erasedAt) await state.write(() => state.putMeta(ERASED_AT_META, listAt));
  // The partitions held and the topic's partition counts, as the topic grows (./growth.ts).
  const growth = new TopicGrowth({
    topic,
    partitions: data.partitions,
    partitionCount: data.partitionCount,
    ...(data.grownFrom !== undefined ? { grownFrom: data.grownFrom } : {}),
    state,
    builder,
    windowMs: config.sink.dedupWindowMs,
    log,
    onGrown: (partitions, partitionCount) => post({ type: 'partitions', partitions: [...partitions], partitionCount }),
  });
  await growth.noteCount(data.partitionCount);
  const wantedHorizon = () => ageHorizon(q.viewDays, Date.now());
  if (!Number.isFinite(builder.currentHorizon)) {
    await state.write(() => builder.setHorizon(wantedHorizon()));
  }

  const kafka = createKafka(config.kafka, log, data.brokers);
  const admin = kafka.admin();
  await admin.connect();
  const watermarks = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const low = new Map<number, number>();
  const target = new Map<number, number>();
  for (const w of watermarks) {
    low.set(w.partition, Number(w.low));
    target.set(w.partition, Number(w.high));
  }
  for (const [p, h] of target) if (growth.partitions.includes(p)) builder.high.set(p, h);

  let rounds = 0;
  let caughtUp = false;
  const started = performance.now();
  const nextOf = (p: number) => builder.next.get(p) ?? low.get(p) ?? 0;
  const checkCaughtUp = async () => {
    if (caughtUp || !growth.partitions.every((p) => nextOf(p) >= (target.get(p) ?? 0))) return;
    // Ready only once what was read is also readable.
    await builder.flush();
    caughtUp = true;
    following = true;
    // A fresh build may hold more than QUERY_VIEW_MAX_BYTES: prune at once, not in a minute.
    void maintain();
    {
      const s = (performance.now() - started) / 1000;
      log.info(
        { seconds: Math.round(s * 10) / 10, applied: builder.counts.applied, eventsPerSecond: Math.round(builder.counts.applied / Math.max(s, 0.001)), view: viewSize(builder.writer.days) },
        'view caught up with the topic',
      );
    }
  };
  let following = false;
  /** After a reader crash, the end offsets it must reach again (known once it has joined). */
  let behind: Map<number, number> | null = null;
  const checkFollowing = async () => {
    const ends = behind;
    if (following || !caughtUp || ends === null || !growth.partitions.every((p) => nextOf(p) >= (ends.get(p) ?? 0))) return;
    await builder.flush();
    if (behind !== ends) return; // crashed again meanwhile
    following = true;
    behind = null;
    log.info({ partitions: growth.partitions.map((p) => ({ partition: p, next: nextOf(p) })) }, 'view following the topic again; pages come from it again');
    post({ type: 'report', report: report() });
  };
  const report = (): BuilderReport => ({
    counts: { ...builder.counts },
    partitions: growth.partitions.map((p) => ({ partition: p, next: nextOf(p), high: Math.max(builder.high.get(p) ?? 0, nextOf(p)) })),
    caughtUp,
    following,
    horizon: builder.currentHorizon,
    size: viewSize(builder.writer.days),
    rounds,
    backfilled: builder.backfilled,
    gaps: builder.gaps,
    commits: builder.takeTimings(),
    bulk: builder.bulkPhase,
  });
  const post = (m: FromBuilder) => port.postMessage(m);

  // Beyond retention: what Kafka no longer holds comes from ClickHouse, through the main thread.
  const ranges: BackfillRange[] = [];
  for (const p of growth.partitions) {
    const from = builder.next.get(p) ?? 0;
    const earliest = low.get(p) ?? 0;
    if (from < earliest) ranges.push({ partition: p, from, to: earliest });
  }
  // A paused bulk build reads on from its checkpoint's offsets, in Kafka: if retention took records
  // after them meanwhile, this thread ends before anything is read, and the next one clears the
  // state and builds it anew (with those records from ClickHouse).
  if (data.resumeBulk === true && ranges.length > 0) throw new Error('the topic no longer holds the records after the bulk build checkpoint; the view is built again');
  const backfillDone = new Map<number, () => void>();
  const backfills = ranges.map((r) => new Promise<void>((resolve) => backfillDone.set(r.partition, resolve)));
  let stopping: Promise<void> | null = null;
  let reader: PartitionReader | null = null;
  const pending: Promise<unknown>[] = [];

  port.on('message', (m: ToBuilder) => {
    if (m.type === 'stop') {
      stopping ??= stop();
    } else if (m.type === 'delete-user') {
      // After what was applied before (a transaction may be gathering its events still).
      void (async () => {
        await builder.flush();
        return builder.writer.deleteUser(m.userKey);
      })().then(
        (events) => post({ type: 'deleted', id: m.id, events }),
        (err: unknown) => {
          log.error({ err }, 'deleting a user from the view failed');
          post({ type: 'deleted', id: m.id, events: -1 });
        },
      );
    } else if (m.type === 'erasures') {
      // The list first, so no record applied from now on is theirs; then, once what was applied
      // before is committed, their rows go (LMDB runs write transactions in the order queued).
      for (const u of m.states) erasures.setUser(u.userKey, u);
      void (async () => {
        await builder.flush();
        let n = 0;
        for (const u of m.states) if (u.erasedAll || u.erasedUpTo !== null) n += await builder.writer.deleteUser(u.userKey);
        const at = Math.max(state.getMeta<number>(ERASED_AT_META) ?? 0, ...m.states.map((u) => u.updatedAt));
        await state.write(() => state.putMeta(ERASED_AT_META, at));
        return n;
      })().then(
        (events) => post({ type: 'deleted', id: m.id, events }),
        (err: unknown) => {
          log.error({ err }, 'erasing users from the view failed');
          post({ type: 'deleted', id: m.id, events: -1 });
        },
      );
    } else if (m.type === 'backfill-rows') {
      const done = builder.applyBackfill(m.partition, m.rows, m.upTo).then(() => {
        if (m.upTo !== null) backfillDone.get(m.partition)?.();
      });
      pending.push(done);
    }
  });

  const reporter = setInterval(() => post({ type: 'report', report: report() }), REPORT_MS);
  // A transaction due while no fetch comes (a quiet topic) is queued by this timer.
  const ticker =
    q.viewCommitMs > 0
      ? setInterval(
          () =>
            void builder.tick().catch((err: unknown) => {
              log.error({ err }, 'committing to the view failed; the builder thread restarts');
              process.exit(1);
            }),
          Math.max(5, Math.min(100, q.viewCommitMs / 4)),
        )
      : undefined;
  let lastProgress = performance.now();
  let lastApplied = 0;
  const progress = setInterval(() => {
    // A bulk build's merge logs its own progress (./bulk.ts); nothing is read from Kafka meanwhile.
    if (caughtUp || builder.bulkPhase === 'merging') return;
    const now = performance.now();
    const applied = builder.counts.applied;
    const remaining = growth.partitions.reduce((n, p) => n + Math.max(0, (target.get(p) ?? 0) - nextOf(p)), 0);
    const rate = (applied - lastApplied) / ((now - lastProgress) / 1000);
    log.info(
      { applied, eventsPerSecond: Math.round(rate), recordsRemaining: remaining, backfilled: builder.backfilled, view: viewSize(builder.writer.days) },
      'view catching up',
    );
    lastProgress = now;
    lastApplied = applied;
  }, PROGRESS_LOG_MS);

  let maintaining = false;
  const maintain = async () => {
    if (maintaining || stopping) return;
    maintaining = true;
    try {
      // The horizon moves forward only: by age (QUERY_VIEW_DAYS), then by size (QUERY_VIEW_MAX_BYTES).
      let horizon = Math.max(builder.currentHorizon, wantedHorizon());
      const days = [...builder.writer.days].filter(([d]) => d * DAY_MS >= horizon).sort((a, b) => b[0] - a[0]);
      let bytes = 0;
      for (const [day, s] of days) {
        bytes += s.bytes;
        if (bytes > q.viewMaxBytes) {
          horizon = Math.max(horizon, (day + 1) * DAY_MS);
          break;
        }
      }
      if (horizon > builder.currentHorizon) log.info({ horizon: new Date(horizon).toISOString(), budgetBytes: q.viewMaxBytes }, 'view horizon moves forward');
      await builder.moveHorizon(horizon, PRUNE_CHUNK, log);
    } catch (err) {
      log.error({ err }, 'view maintenance failed; retrying later');
    } finally {
      maintaining = false;
    }
  };
  const maintenance = setInterval(() => void maintain(), MAINTENANCE_MS);

  async function stop(): Promise<void> {
    clearInterval(maintenance);
    clearInterval(ticker);
    clearInterval(progress);
    await reader?.stop();
    await Promise.allSettled(pending);
    await builder.saveAll();
    await decoder?.close();
    clearInterval(reporter);
    post({ type: 'report', report: report() });
    await state.close();
    post({ type: 'stopped' });
  }

  if (ranges.length > 0) {
    log.info({ ranges }, 'Kafka no longer holds the start of these partitions: reading their events from ClickHouse');
    post({ type: 'backfill-needed', ranges, horizon: builder.currentHorizon });
    await Promise.all(backfills);
  }
  if (stopping) return;
  // An empty view in front of a large backlog is built by sorting (./bulk.ts), if the disk has room for its runs.
  const backlog = growth.partitions.reduce((n, p) => n + Math.max(0, (target.get(p) ?? 0) - (low.get(p) ?? 0)), 0);
  const attempt = (unfinished?.attempt ?? 0) + 1;
  if (data.resumeBulk === true) {
    const mark = await builder.resumeBulk(path.join(data.path, 'bulk'));
    log.info(
      { startedAt: mark.startedAt, runs: mark.runs?.length, events: mark.events, partitions: growth.partitions.map((p) => ({ partition: p, next: nextOf(p) })) },
      'view bulk build resumed from its last checkpoint: its runs are kept, and the records after them are read from Kafka',
    );
  } else if (q.viewBulkRecords > 0 && attempt <= 2 && ranges.length === 0 && builder.next.size === 0 && backlog >= q.viewBulkRecords) {
    const free = freeBytes(data.path);
    const need = backlog * BULK_DISK_PER_RECORD;
    if (free !== null && free < need) {
      log.warn({ records: backlog, freeBytes: free, neededBytes: need }, 'too little free disk for a bulk build of the view: it is built by inserting instead (slower)');
    } else {
      await builder.startBulk(path.join(data.path, 'bulk'), attempt);
      log.info({ records: backlog }, 'view bulk build: the view is empty and the topic holds many records, so they are sorted into runs and merged (a restart resumes it from its last checkpoint)');
    }
  }
  await checkCaughtUp();
  void maintain();
  const fetchBytes = 16 * 1024 * 1024;
  const groupId = `trackhouse-view-${os.hostname()}-${randomBytes(6).toString('hex')}`;
  reader = createPartitionReader(kafka, {
    topics: [topic],
    groupId,
    // This shard's partitions (p mod QUERY_SHARDS = its index) among those the topic has at each
    // join: a partition added while the view runs is read from its first record, without a restart.
    holds: (_, p) => p % q.shards === q.shardIndex,
    // Where the state says, or (a partition never read) its first record.
    position: (_, p) => builder.readFrom.get(p) ?? null,
    startTime: () => 0,
    // Fresh events at once (freshness), whole fetches when there is a backlog (build rate).
    maxWaitMs: 100,
    maxBytes: fetchBytes,
    maxBytesPerPartition: Math.max(1024 * 1024, Math.ceil(fetchBytes / Math.max(1, growth.partitions.length))),
    log,
    onCrash() {
      behind = null;
      if (!following) return;
      following = false;
      log.warn('the view stopped following the topic (its Kafka reader crashed): pages come from ClickHouse until it has caught up again');
      post({ type: 'report', report: report() });
    },
    onJoin() {
      if (reader === null) return;
      growth.joined(reader);
      if (following || !caughtUp) return;
      const r = reader;
      void r
        .endOffsets()
        .then((ends) => {
          behind = new Map(ends.get(topic) ?? []);
          for (const [p, h] of behind) if (growth.partitions.includes(p) && h > (builder.high.get(p) ?? 0)) builder.high.set(p, h);
          return checkFollowing();
        })
        .catch((err: unknown) => log.warn({ err }, 'could not read the end offsets after a re-join; the next one tries again'));
    },
  });
  log.info(
    { topic, partitions: growth.partitions, groupId, from: Object.fromEntries(builder.readFrom), horizon: new Date(builder.currentHorizon).toISOString() },
    'view reading Kafka',
  );
  await reader.start(async (batches) => {
    await builder.apply(batches);
    rounds++;
    await checkCaughtUp();
    await checkFollowing();
  });
}

/** Bytes free for this process on the file system of `dir`, or null if unknown. */
function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
