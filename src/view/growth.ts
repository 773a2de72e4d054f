// The events topic growing while the view runs (docs/architecture/view.md, "Partitions added to
// the topic"), builder-thread side: which partitions the builder holds, and the partition counts
// the topic had, which the builder needs to drop client resends across a count change (a user's
// key hashes to another partition after it: ViewBuilder.setPartitionCounts). The builder thread
// (./builderthread.ts) tells it about every join of its Kafka reader.
import type { Logger } from '../common/log.js';
import type { StateStore } from '../state/statestore.js';
import type { ViewBuilder } from './builder.js';

/** The partition counts the view has read the events topic with, kept in the state's meta. */
interface PartitionCounts {
  count: number;
  /** Earlier counts, until when a resend of an event written under them may still come. */
  earlier: { count: number; until: number }[];
}

const COUNTS = 'partitions/counts';

/** What the growth needs of the view's Kafka reader (src/kafka/reader.ts). */
export interface JoinedReader {
  assigned(): ReadonlyMap<string, readonly number[]>;
  partitionCounts(): ReadonlyMap<string, number>;
  endOffsets(): Promise<Map<string, Map<number, number>>>;
}

export interface TopicGrowthOptions {
  topic: string;
  /** The partitions held at start. */
  partitions: readonly number[];
  partitionCount: number;
  /** The count the kept state was built with, when the topic grew while the view was stopped. */
  grownFrom?: number;
  state: StateStore;
  builder: Pick<ViewBuilder, 'setPartitionCounts' | 'high'>;
  /** SINK_DEDUP_WINDOW_MS: how long after a change a resend of an event written before it may come (0: ever). */
  windowMs: number;
  log: Logger;
  /** The topic has more partitions than before: the view now holds `partitions` of `partitionCount`. */
  onGrown(partitions: readonly number[], partitionCount: number): void;
}

export class TopicGrowth {
  /** The partitions held: this shard's of the topic, including those added since start (sorted). */
  partitions: number[];
  /** The topic's partition count, as the view last saw it. */
  count: number;

  constructor(private readonly o: TopicGrowthOptions) {
    this.partitions = [...o.partitions].sort((a, b) => a - b);
    this.count = o.partitionCount;
  }

  /**
   * The topic has `count` partitions: the builder also looks for resends in the partitions their
   * keys hashed to under the counts of the resend window's time before (kept in the state's meta:
   * the count this view last read with, and earlier ones until a resend of an event written under
   * them would be out of the window anyway, SINK_DEDUP_WINDOW_MS after the change; 0: kept).
   * The builder uses the counts once this returns; the promise is their saving (queued before
   * any transaction of records applied after the call).
   */
  noteCount(count: number): Promise<void> {
    const { state, builder, log, windowMs } = this.o;
    // A state of a version before these counts were kept: the count its identity named, if it grew.
    const stored = state.getMeta<PartitionCounts>(COUNTS) ?? (this.o.grownFrom !== undefined ? { count: this.o.grownFrom, earlier: [] } : undefined);
    const now = Date.now();
    const earlier = (stored?.earlier ?? []).filter((e) => e.until > now);
    if (stored !== undefined && stored.count < count) earlier.push({ count: stored.count, until: windowMs > 0 ? now + windowMs : Number.MAX_SAFE_INTEGER });
    builder.setPartitionCounts(count, earlier.map((e) => e.count));
    if (earlier.length > 0) log.info({ partitionCount: count, earlier }, 'the events topic changed partition count recently: resends are also looked for on the partitions their users had before');
    if (stored !== undefined && stored.count === count && earlier.length === stored.earlier.length) return Promise.resolve();
    return state.write(() => state.putMeta(COUNTS, { count, earlier } satisfies PartitionCounts));
  }

  /**
   * The reader joined its group (called in its onJoin, before any record of the join is fetched):
   * partitions it was assigned beyond those held are held from now on (in readiness, lag and
   * reports; caught up already, as nothing of them was in the topic when the view started, so the
   * view stays ready while it reads them), and the builder gets the topic's count as of the join
   * at once. Their first records are often resends of events written before the change (a client
   * retrying, the user's key now hashing to a new partition): the builder must know the count to
   * drop them, so it is not left waiting on a round trip to the broker (which, on a loaded
   * machine, the fetch of those records overtook). Returns the partitions added.
   */
  joined(reader: JoinedReader): number[] {
    const { topic, builder, log } = this.o;
    const added = (reader.assigned().get(topic) ?? []).filter((p) => !this.partitions.includes(p));
    const count = Math.max(this.count, reader.partitionCounts().get(topic) ?? 0, ...added.map((p) => p + 1));
    if (added.length === 0 && count === this.count) return added;
    this.partitions = [...this.partitions, ...added].sort((a, b) => a - b);
    this.count = count;
    // In kafkajs's GROUP_JOIN listener: a failure to save is logged, never thrown into the join.
    try {
      this.noteCount(count).catch((err: unknown) => log.warn({ err }, 'could not save the new partition count (the builder uses it all the same)'));
    } catch (err) {
      log.warn({ err }, 'could not read the partition counts kept in the view; resends across this change may be taken as new events');
    }
    log.info(
      { topic, added, partitions: this.partitions, partitionCount: count },
      added.length > 0 ? 'the events topic has new partitions: the view reads them from their first record, no restart needed' : 'the events topic has new partitions, none of them this shard\'s',
    );
    this.o.onGrown([...this.partitions], count);
    // Their lag until their first fetch says (reports, metrics).
    if (added.length > 0) {
      void reader
        .endOffsets()
        .then((ends) => {
          for (const [p, h] of ends.get(topic) ?? []) if (added.includes(p) && h > (builder.high.get(p) ?? 0)) builder.high.set(p, h);
        })
        .catch((err: unknown) => log.warn({ err, added }, 'could not read the end offsets of the new partitions'));
    }
    return added;
  }
}
