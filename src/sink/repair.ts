// At sink start, before any floor is read: an insert intent left behind (src/sink/intent.ts)
// means the last process died in the middle of that insert, with chDB having written some of its
// parts and not others. The store is put back as it was before the insert; the records are then
// read from Kafka and inserted once, as after any crash:
//   a. the block's rows that reached `events`, and the rollup days they fall on;
//   b. those days saved into the intent before anything is deleted (a repair cut short redoes them);
//   c. the block's rows deleted from `events` and `sink_recent_ids`;
//   d. each block partition's floor set to the offset before the block's first record;
//   e. the rollups of the saved days rebuilt from `events`;
//   f. the intent removed.
// Every step is safe to run again: a crash during the repair leaves the intent, and the next
// start repeats it.
import { renameSync } from 'node:fs';
import { errorMessage, TrackhouseError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { readIntent, removeIntent, writeIntent, type InsertIntent } from './intent.js';
import type { SinkMetrics } from './metrics.js';
import type { SinkStore } from './sinkstore.js';

export interface Repaired {
  /** Rows of the cut-short insert that had reached `events` (this run's count). */
  rows: number;
  days: readonly string[];
  ranges: InsertIntent['ranges'];
}

/** Repairs the insert the intent file names, if there is one; null when there was nothing to do. */
export async function repairInterruptedInsert(file: string, topic: string, store: SinkStore, log: Logger, metrics: SinkMetrics): Promise<Repaired | null> {
  const read = readIntent(file, topic);
  if (read.status === 'absent') return null;
  if (read.status === 'unreadable') {
    // Nothing to act on: keep it for a person to look at, and go on (a start must not loop on it).
    const aside = `${file}.unreadable`;
    writeAside(file, aside, log);
    log.warn(
      { file, movedTo: aside, problem: read.problem },
      'the last sink may have stopped during an insert, but its insert intent cannot be read; nothing repaired. ' +
        'Check `SELECT count() - uniqExact(kafka_topic, kafka_partition, kafka_offset) FROM events` (0 when no row is there twice)',
    );
    return null;
  }
  if (read.status === 'partial') log.warn({ file, problem: read.problem }, 'the insert intent is damaged; repairing the partitions it still names');
  const intent = read.intent;
  const { ranges } = intent;
  let found: { rows: number; days: string[] };
  let days: string[];
  try {
    found = await store.blockRows(intent.topic, ranges);
    days = [...new Set([...(intent.days ?? []), ...found.days])].sort();
    writeIntent(file, { ...intent, days });
    // sink_recent_ids too when events holds none of them (a repair cut short after events' delete).
    await store.deleteBlockRows(intent.topic, ranges, found.rows > 0);
    await store.resetFloors(intent.topic, ranges);
    await store.rebuildRollups(days);
  } catch (err) {
    throw new RepairFailed(file, err);
  }
  removeIntent(file);
  metrics.repairedInserts.inc();
  log.warn(
    {
      topic: intent.topic,
      partitions: ranges.map(([p, first, last]) => `${p}:${first}-${last}`),
      rowsRemoved: found.rows,
      rollupDaysRebuilt: days,
    },
    `the last sink stopped during an insert; ${found.rows} rows of it had reached events: removed, ` +
      `rollups of ${days.length === 0 ? 'no day' : days.join(', ')} rebuilt; they are inserted again from Kafka`,
  );
  return { rows: found.rows, days, ranges };
}

/** A rename, so the next start finds no intent; a failure is logged, not thrown (the start goes on). */
function writeAside(file: string, aside: string, log: Logger): void {
  try {
    renameSync(file, aside);
  } catch (err) {
    log.error({ file, err: errorMessage(err) }, 'cannot move the unreadable insert intent aside; remove it by hand');
  }
}

/** The repair did not finish; the intent stays, so the next start does it again. */
export class RepairFailed extends TrackhouseError {
  constructor(file: string, cause: unknown) {
    super(
      'SINK_REPAIR_FAILED',
      `the last sink stopped during an insert, and undoing it failed: ${errorMessage(cause)}. ` +
        `Nothing was consumed; start the sink again once ClickHouse answers (it repairs from ${file} again)`,
      { retriable: true, cause },
    );
  }
}
