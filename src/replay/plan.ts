// Where a replay starts and stops on each partition, decided from one snapshot of the topic
// (src/kafka/admin.ts: watermarks, offsets by record time, the sink group's state).
//
// Start: `--from`'s offsets, or each partition's first record stamped at or after `--from`'s time
// (Kafka's record time: CreateTime, when the ingest produced the record, about its received_at;
// LogAppendTime if the topic is set so; never the event's own timestamp), clamped to what Kafka
// still holds. Stop: the high watermark, or, while the sink group has members, its committed
// offset, so replay and sink never insert the same record at once (what the sink has not
// committed is the sink's). Where `--from` reaches back before what Kafka still holds
// (retention.ms, deleted records), the partition starts at its earliest offset and is reported.
import { TrackhouseError } from '../common/errors.js';
import type { TopicSnapshot } from '../kafka/admin.js';

export type ReplayFrom = { kind: 'time'; ms: number } | { kind: 'offsets'; offsets: ReadonlyMap<number, number> };

/** `--from` names something the topic does not have (or is not a start at all). */
export class ReplayArgumentError extends TrackhouseError {
  constructor(message: string) {
    super('REPLAY_ARGUMENT_INVALID', message);
  }
}

/** A partition where --from asked for records Kafka no longer holds. */
export interface TruncatedPartition {
  partition: number;
  /** The low watermark at start: the earliest offset still held, where the replay began. */
  earliest: number;
  /** The offset --from asked for; null for a time (the broker cannot tell what the gone records held). */
  requested: number | null;
}

export interface ReplayPlan {
  /** Partitions of the topic. */
  partitions: number;
  sinkActive: boolean;
  /** Per partition named (all of them for a time): replay [from, to). */
  ranges: { partition: number; from: number; to: number }[];
  truncated: TruncatedPartition[];
}

export function planReplay(topic: string, snapshot: TopicSnapshot, from: ReplayFrom): ReplayPlan {
  const bounds = snapshot.watermarks;
  let starts: Map<number, number>;
  const truncated: TruncatedPartition[] = [];
  if (from.kind === 'time') {
    // -1: no record at or after that time: nothing to replay there.
    starts = new Map([...(snapshot.offsetsAtTime ?? [])].map(([p, offset]) => [p, offset < 0 ? bounds.get(p)!.high : offset]));
    // The first record at or after the time is the first one left (or none is, and all are
    // gone): the records below it were older than it, so some may have been at or after the time.
    for (const [partition, start] of starts) {
      const { low } = bounds.get(partition)!;
      if (low > 0 && start === low) truncated.push({ partition, earliest: low, requested: null });
    }
  } else {
    for (const p of from.offsets.keys()) {
      if (!bounds.has(p)) throw new ReplayArgumentError(`--from names partition ${p}, but ${topic} has partitions 0-${bounds.size - 1}`);
    }
    starts = new Map(from.offsets);
    for (const [partition, start] of starts) {
      const { low } = bounds.get(partition)!;
      if (start < low) truncated.push({ partition, earliest: low, requested: start });
    }
  }
  truncated.sort((a, b) => a.partition - b.partition);
  const sinkActive = snapshot.groupActive;
  const ranges = [...starts]
    .sort(([a], [b]) => a - b)
    .map(([partition, start]) => {
      const { low, high } = bounds.get(partition)!;
      const fromOffset = Math.min(Math.max(start, low), high);
      // An active sink owns everything it has not committed yet (all of it, if it committed nothing).
      const c = snapshot.committed.get(partition) ?? -1;
      const to = sinkActive ? Math.min(high, Math.max(c, fromOffset)) : high;
      return { partition, from: fromOffset, to };
    });
  return { partitions: bounds.size, sinkActive, ranges, truncated };
}

/** What a person should read about truncated partitions, or null when there are none. */
export function truncationWarning(topic: string, truncated: readonly TruncatedPartition[]): string | null {
  if (truncated.length === 0) return null;
  const where = truncated.map((t) => `${t.partition} (from ${t.earliest}${t.requested === null ? '' : `, not ${t.requested}`})`).join(', ');
  return (
    `--from reaches back before what Kafka still holds of ${topic}: the history before the low watermark is gone ` +
    `(retention.ms or deleted records) and cannot be replayed; replaying partitions ${where} from the earliest offset still held`
  );
}
