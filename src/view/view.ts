// The query API's per-user view, main-thread side: opens the state (wiping it when it was built for
// other partitions, torn by a machine crash, or its window was widened), runs the builder thread (./builderthread.ts), serves range
// reads (ViewReader), fills what Kafka no longer holds from ClickHouse, and reports progress as
// metrics and readiness. One interface for the rest of the project: startView() -> View.
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../common/log.js';
import { Counter, Gauge, Histogram, type Registry } from '../common/metrics.js';
import type { Config } from '../config/index.js';
import { userHash, type ErasureList, type UserErasure } from '../erasure/list.js';
import { openState, type StateStore } from '../state/statestore.js';
import { BULK_META, interruptedBulk } from './bulk.js';
import { readBackfill } from './backfill.js';
import { PendingRows } from './pending.js';
import { ERASED_AT_META, readHorizon, ViewReader, VIEW_DATABASES, widenedWindow, type ViewWindow } from './viewstore.js';
import type { BackfillRange, BuilderReport, FromBuilder, ToBuilder, ViewWorkerData } from './builderthread.js';
import { startThread } from '../common/thread.js';
import { makeOwnPrivateDir } from '../common/privatedir.js';

/** Version of the view's layout (./keys.ts, ./viewstore.ts, the stored row of ./render.ts): a state of another version is rebuilt. 3: rows carry a header (field offsets, canonical texts). */
export const VIEW_LAYOUT = 3;

export interface ViewOptions {
  config: Config;
  /** Kafka brokers (resolved: the local broker's address is known only once it runs). */
  brokers: string[];
  /** The events topic's partition count. */
  partitionCount: number;
  /** Partitions this replica holds. */
  partitions: readonly number[];
  /** For events beyond the topic's retention. */
  clickhouse: ClickHouseClient;
  log: Logger;
  registry: Registry;
  /**
   * The erasure list, loaded (src/erasure/): its users' records are never written, and a user
   * erased while the view runs has their rows deleted.
   */
  erasures?: ErasureList;
}

export interface View {
  readonly reader: ViewReader;
  /** Partitions held: this shard's of the topic, including partitions added since start. */
  readonly partitions: readonly number[];
  /** The events topic's partition count, as the view last saw it (it grows while running). */
  partitionCount(): number;
  /** True once the view has applied everything the topic held when it started (readiness). */
  caughtUp(): boolean;
  /** Resolves the first time the view has caught up (never, when it is stopped before). */
  whenCaughtUp(): Promise<void>;
  /** Caught up and still reading Kafka: its pages are as fresh as the topic (else ClickHouse answers). */
  following(): boolean;
  /** The builder's latest report (null before the first). */
  report(): BuilderReport | null;
  /** Deletes a user's events from the view (for erasure); resolves with how many. */
  deleteUser(userKey: string): Promise<number>;
  /**
   * The deletion of an erased user's rows started when the erasure list named them, resolving
   * with how many were deleted; undefined when the list has not named the user since start.
   */
  erasure(userKey: string): Promise<number> | undefined;
  stop(): Promise<void>;
}

/** Which partitions shard `index` of `shards` holds: p mod shards = index. */
export function shardPartitions(partitionCount: number, shards: number, index: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < partitionCount; p++) if (p % shards === index) out.push(p);
  return out;
}

const RESTART_MS = 5_000;
/** Meta key of the window settings the view was built under (widenedWindow). */
const WINDOW_META = 'window';

/** What the view's state records it was built for: layout, topic, and the partitions of its shard. */
export function viewIdentity(layout: number, topic: string, partitionCount: number, partitions: readonly number[]): Record<string, string | number> {
  return { layout, topic, partitionCount, partitions: partitions.join(',') };
}

/**
 * Whether a state built for `stored` holds a part of what `wanted` asks for and nothing else: the
 * same layout, topic and shard, with fewer partitions (the topic grew since, as Kafka topics only
 * do). Its partitions are kept and the added ones read from their first record; anything else
 * (another shard or QUERY_SHARDS, another topic or layout) is wiped.
 */
export function keepsGrownView(stored: Readonly<Record<string, unknown>>, wanted: Readonly<Record<string, string | number>>, shards: number, shardIndex: number): boolean {
  const count = stored.partitionCount;
  if (stored.layout !== wanted.layout || stored.topic !== wanted.topic || typeof count !== 'number' || typeof wanted.partitionCount !== 'number') return false;
  if (count > wanted.partitionCount) return false;
  return stored.partitions === shardPartitions(count, shards, shardIndex).join(',');
}

export async function startView(opts: ViewOptions): Promise<View> {
  const { config, log } = opts;
  const topic = config.kafka.topics.events;
  const shardsWarning = (before: number, after: number) => {
    const shards = config.query.shards;
    if (shards > 1 && (before % shards !== 0 || after % shards !== 0)) {
      log.error(
        { before, partitionCount: after, shards },
        `the events topic went from ${before} to ${after} partitions, and QUERY_SHARDS=${shards} does not divide both: a user's events from before the change may sit on another shard than the user's newer ones, and per-user pages miss them. Give the topic a multiple of QUERY_SHARDS partitions (or set QUERY_SHARDS to a divisor of both), then restart the query replicas with their view directories removed`,
      );
    }
  };
  const dir = path.join(config.dataDir, 'view');
  // Every event of the view's window: trackhouse's own folder, 0700 even if an earlier version made it 0755.
  makeOwnPrivateDir(dir);
  const reader = new ViewReader();
  const window: ViewWindow = { days: config.query.viewDays, maxBytes: config.query.viewMaxBytes };
  // Users erased after the view last applied the list (a paused bulk build's runs may hold their events).
  const erasedSince = (at: number) => (opts.erasures?.allUsers() ?? []).some((u) => u.updatedAt > at && (u.erasedAll || u.erasedUpTo !== null));
  const state: StateStore = await openState({
    path: dir,
    databases: VIEW_DATABASES,
    identity: viewIdentity(VIEW_LAYOUT, topic, opts.partitionCount, opts.partitions),
    // Partitions added to the topic since the state was written (while the view ran, or while it
    // was stopped): kept, not rebuilt; the new partitions are read from their first record.
    keeps: (stored, wanted) => keepsGrownView(stored, wanted, config.query.shards, config.query.shardIndex),
    wipeIf: (s) =>
      interruptedBulk(s, path.join(dir, 'bulk'), { erasedSince: erasedSince(s.getMeta<number>(ERASED_AT_META) ?? 0), bulkOn: config.query.viewBulkRecords > 0 }) ??
      widenedWindow(s.getMeta<ViewWindow>(WINDOW_META), readHorizon(s.db('view_meta')), window, Date.now()),
    dbOptions: reader.dbOptions,
    log,
  });
  const kept = state.offsets(topic);
  await state.write(() => state.putMeta(WINDOW_META, window));
  const grownFrom = state.keptFrom === null ? undefined : Number(state.keptFrom.partitionCount);
  if (grownFrom !== undefined) {
    log.info(
      { before: grownFrom, partitionCount: opts.partitionCount, partitions: opts.partitions },
      'the events topic has more partitions than when the view was written: the view is kept and reads the added ones from their first record',
    );
    shardsWarning(grownFrom, opts.partitionCount);
  }
  // Events the builder applied and has not committed yet: the reader merges them into its pages.
  const pending = new PendingRows();
  reader.attach(state, pending);
  const metrics = viewMetrics(opts.registry, state, pending);
  let last: BuilderReport | null = null;
  let worker: Worker | null = null;
  let stopping = false;
  let stopped: Promise<void> | null = null;
  let nextId = 1;
  const deletes = new Map<number, (n: number) => void>();
  let onStopped: (() => void) | null = null;
  let caughtUpFirst!: () => void;
  const caughtUpOnce = new Promise<void>((resolve) => (caughtUpFirst = resolve));

  // The partitions held and the topic's count, as the builder thread last reported them (a
  // restarted thread starts from them too).
  const data: ViewWorkerData = {
    config,
    brokers: opts.brokers,
    path: dir,
    partitions: [...opts.partitions],
    partitionCount: opts.partitionCount,
    ...(grownFrom !== undefined && grownFrom < opts.partitionCount ? { grownFrom } : {}),
    erasures: opts.erasures?.allUsers() ?? [],
    // Still marked after the open's checks: its bulk build resumes (a thread restarted later clears it).
    resumeBulk: state.getMeta(BULK_META) !== undefined,
  };

  const backfill = async (w: Worker, ranges: BackfillRange[]) => {
    for (const r of ranges) {
      const started = performance.now();
      const n = await readBackfill(opts.clickhouse, topic, r.partition, r.from, r.to, async (rows, lastChunk) => {
        const m: ToBuilder = { type: 'backfill-rows', partition: r.partition, rows, upTo: lastChunk ? r.to : null };
        w.postMessage(m);
      });
      log.info({ partition: r.partition, from: r.from, to: r.to, events: n, seconds: Math.round((performance.now() - started) / 100) / 10 }, 'view backfilled from ClickHouse');
    }
  };

  const spawn = () => {
    const w = startThread(import.meta.url, 'builderthread', { workerData: data });
    worker = w;
    w.on('message', (m: FromBuilder) => {
      if (m.type === 'report') {
        metrics.update(m.report, last);
        last = m.report;
        if (m.report.caughtUp) caughtUpFirst();
      } else if (m.type === 'backfill-needed') {
        backfill(w, m.ranges).catch((err: unknown) => {
          log.error({ err }, 'reading events beyond the topic retention from ClickHouse failed; the view restarts and tries again');
          void w.terminate();
        });
      } else if (m.type === 'pending') {
        pending.add(m.batch);
      } else if (m.type === 'committed') {
        // LMDB serves them from the next read on: a new snapshot first, then they go.
        state.renewReads();
        pending.committed(m.seq);
      } else if (m.type === 'deleted') {
        deletes.get(m.id)?.(m.events);
        deletes.delete(m.id);
      } else if (m.type === 'partitions') {
        data.partitions = [...m.partitions];
        if (m.partitionCount !== data.partitionCount) {
          shardsWarning(data.partitionCount, m.partitionCount);
          data.partitionCount = m.partitionCount;
        }
      } else if (m.type === 'stopped') {
        onStopped?.();
      }
    });
    w.on('error', (err) => log.error({ err }, 'view builder failed'));
    w.on('exit', (code) => {
      if (worker === w) worker = null;
      // Never committed: a new builder reads them from Kafka again.
      pending.clear();
      for (const resolve of deletes.values()) resolve(-1);
      deletes.clear();
      if (stopping) {
        onStopped?.();
        return;
      }
      // Not ready until the new builder has caught up again.
      last = last === null ? null : { ...last, caughtUp: false, following: false };
      log.error({ code, restartInMs: RESTART_MS }, 'view builder stopped unexpectedly; restarting it');
      data.resumeBulk = false;
      setTimeout(() => {
        if (!stopping) spawn();
      }, RESTART_MS).unref();
    });
  };
  spawn();
  // Every state the list applies from now on reaches the builder (a later restart of the thread
  // gets the whole list in its workerData).
  const erasing = new Map<string, { at: number; done: Promise<number> }>();
  const erase = (states: UserErasure[]): Promise<number> => {
    const w = worker;
    if (w === null) return Promise.reject(new Error('the view builder is not running'));
    const id = nextId++;
    return new Promise<number>((resolve, reject) => {
      deletes.set(id, (n) => (n < 0 ? reject(new Error('erasing users from the view failed')) : resolve(n)));
      w.postMessage({ type: 'erasures', id, states } satisfies ToBuilder);
    });
  };
  opts.erasures?.onUser((u) => {
    data.erasures = opts.erasures!.allUsers();
    const seen = erasing.get(u.userKey);
    if (seen !== undefined && seen.at === u.updatedAt) return;
    const done = erase([u]).catch((err: unknown) => {
      log.error({ err, userKeyHash: userHash(u.userKey) }, 'erasing a user from the view failed; the builder thread is restarting and gets the list');
      return 0;
    });
    erasing.set(u.userKey, { at: u.updatedAt, done });
  });
  if (state.wiped !== null) log.info({ reason: state.wiped }, 'view rebuilt from scratch');
  else if (data.resumeBulk === true) log.info('view bulk build found unfinished: it resumes from its last checkpoint');
  else if (kept.size > 0) log.info({ partitions: kept.size }, 'view kept from the last run: it reads on from its stored offsets, nothing is rebuilt');
  else log.info('no view yet: it is built from Kafka (and ClickHouse beyond the topic retention), older pages come from ClickHouse meanwhile');

  return {
    reader,
    get partitions() {
      return data.partitions;
    },
    partitionCount: () => data.partitionCount,
    caughtUp: () => last?.caughtUp === true,
    whenCaughtUp: () => caughtUpOnce,
    following: () => last?.following === true,
    report: () => last,
    erasure: (userKey) => erasing.get(userKey)?.done,
    deleteUser(userKey) {
      const w = worker;
      if (w === null) return Promise.reject(new Error('the view builder is not running'));
      const id = nextId++;
      return new Promise<number>((resolve, reject) => {
        deletes.set(id, (n) => (n < 0 ? reject(new Error('deleting the user from the view failed')) : resolve(n)));
        w.postMessage({ type: 'delete-user', id, userKey } satisfies ToBuilder);
      });
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const w = worker;
        if (w !== null) {
          await new Promise<void>((resolve) => {
            onStopped = resolve;
            w.postMessage({ type: 'stop' } satisfies ToBuilder);
          });
          await w.terminate();
        }
        await state.close();
      })();
      return stopped;
    },
  };
}

interface ViewMetrics {
  update(now: BuilderReport, before: BuilderReport | null): void;
}

function viewMetrics(registry: Registry, state: StateStore, pending: PendingRows): ViewMetrics {
  let report: BuilderReport | null = null;
  const gauge = (name: string, help: string, value: (r: BuilderReport) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        if (report !== null) this.set(value(report));
      },
    });
  gauge('trackhouse_query_view_caught_up', '1 once the view has applied everything the topic held when it started (/readyz waits for it)', (r) => (r.caughtUp ? 1 : 0));
  gauge('trackhouse_query_view_following', '1 while the view is caught up and reading Kafka; 0 after its reader crashed, until caught up again (pages come from ClickHouse meanwhile)', (r) =>
    r.following ? 1 : 0,
  );
  gauge('trackhouse_query_view_lag_records', 'Records of the held partitions not applied yet (latest known end offset minus next offset)', (r) =>
    r.partitions.reduce((n, p) => n + Math.max(0, p.high - p.next), 0),
  );
  gauge('trackhouse_query_view_events', 'Events in the view', (r) => r.size.events);
  gauge('trackhouse_query_view_bytes', 'Bytes of event data in the view (keys and reply JSON; the budget QUERY_VIEW_MAX_BYTES applies to it)', (r) => r.size.bytes);
  gauge('trackhouse_query_view_horizon_seconds', 'The view holds every event from this time on (Unix seconds); older ones are answered by ClickHouse', (r) =>
    Number.isFinite(r.horizon) ? r.horizon / 1000 : 0,
  );
  new Gauge({
    name: 'trackhouse_query_view_pending_events',
    help: 'Events applied to the view and readable, not committed to its LMDB file yet (QUERY_VIEW_COMMIT_MS)',
    registers: [registry],
    collect() {
      this.set(pending.size);
    },
  });
  new Gauge({
    name: 'trackhouse_query_view_disk_bytes',
    help: 'Disk blocks the view file takes',
    registers: [registry],
    collect() {
      this.set(state.diskBytes());
    },
  });
  const records = new Counter({
    name: 'trackhouse_query_view_records_total',
    help:
      'Kafka records handled by the view, by outcome: applied, redelivered (already applied), replayed (resend window rebuilt after a ' +
      'restart), resent (client resend dropped), invalid (the sink dead-letters it), beyond_horizon (older than the view keeps), ' +
      'erased (its user is on the erasure list)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const backfilled = new Counter({ name: 'trackhouse_query_view_backfilled_total', help: 'Events read from ClickHouse because Kafka no longer held them', registers: [registry] });
  const gaps = new Counter({ name: 'trackhouse_query_view_gap_records_total', help: 'Records deleted by retention before the view read them', registers: [registry] });
  const commitSeconds = new Histogram({
    name: 'trackhouse_query_view_commit_seconds',
    help: 'Time from a view transaction being queued to its commit (it waits for the one before it). Its events are readable before (QUERY_VIEW_COMMIT_MS)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const recordAge = new Histogram({
    name: 'trackhouse_query_view_record_age_seconds',
    help:
      "Age of each view transaction's oldest record when it committed: from its Kafka timestamp (the producer's clock) to its commit (a caught-up view serves it from memory before). " +
      'Large while the view catches up',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [registry],
  });
  const outcomes = [
    ['applied', 'applied'],
    ['redelivered', 'redelivered'],
    ['replayed', 'replayed'],
    ['resent', 'resent'],
    ['invalid', 'invalid'],
    ['beyond_horizon', 'beyondHorizon'],
    ['erased', 'erased'],
  ] as const;
  return {
    update(now, before) {
      report = now;
      // Counts restart from 0 with a new builder thread: count only what grew.
      const b = before !== null && before.counts.records <= now.counts.records ? before : null;
      for (const [label, key] of outcomes) {
        const d = now.counts[key] - (b?.counts[key] ?? 0);
        if (d > 0) records.inc({ outcome: label }, d);
      }
      const db = now.backfilled - (b?.backfilled ?? 0);
      if (db > 0) backfilled.inc(db);
      const dg = now.gaps - (b?.gaps ?? 0);
      if (dg > 0) gaps.inc(dg);
      const c = now.commits;
      for (let i = 0; i + 1 < c.length; i += 2) {
        commitSeconds.observe(c[i]!);
        recordAge.observe(c[i + 1]!);
      }
    },
  };
}
