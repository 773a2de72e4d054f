// The insert intent (chDB only): a small file naming the block the sink is inserting, written
// before each insert into `events` and removed once ClickHouse confirmed it. chDB runs in this
// process and writes an insert's parts one after another (`events`, then each materialized
// view's); a kill -9 between them leaves rows in `events` that `sink_offsets` and
// `sink_recent_ids` do not know. A file left behind at start names the block that was cut short;
// src/sink/repair.ts puts the store back as it was before that insert.
//
// Written as a temporary file renamed over the intent: a reader sees the old file or the new one,
// never a mix. No fsync: the file must outlive the process, not the machine (chDB's own parts are
// not synced either). One small write + rename before and one unlink after each insert.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';

/** One Kafka partition of the block: its records in the block are first..last (offsets, inclusive). */
export type IntentRange = readonly [partition: number, first: number, last: number];

export interface InsertIntent {
  topic: string;
  /** The insert's deduplication token (for a person reading the file; the repair does not need it). */
  token: string;
  ranges: readonly IntentRange[];
  /**
   * Set by the repair before it deletes anything: the days (YYYY-MM-DD) whose rollups it rebuilds,
   * so a repair cut short rebuilds them again even once the rows are gone from `events`.
   */
  days?: readonly string[];
}

/** The intent as one JSON line (a format version, so a later layout can be told apart). */
export function intentText(i: InsertIntent): string {
  return `${JSON.stringify({ v: 1, topic: i.topic, token: i.token, ranges: i.ranges, ...(i.days ? { days: i.days } : {}) })}\n`;
}

/** Writes the intent atomically (temp file + rename). Synchronous: small, once per insert. */
export function writeIntent(file: string, intent: InsertIntent): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, intentText(intent), { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes the intent; absent already is fine. */
export function removeIntent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export type ReadIntent =
  | { status: 'absent' }
  | { status: 'ok'; intent: InsertIntent }
  /** Part of the file could not be read: `intent` holds what could (at least one range). */
  | { status: 'partial'; intent: InsertIntent; problem: string }
  /** Nothing usable in it. */
  | { status: 'unreadable'; problem: string };

/**
 * Reads the intent left by the last process. Never throws for a bad file (a sink that cannot
 * start over a file it wrote would be stuck): a torn or edited one gives every range that can
 * still be read, or `unreadable`. `topic` stands in for a topic the file does not name.
 */
export function readIntent(file: string, topic: string): ReadIntent {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'absent' };
    return { status: 'unreadable', problem: `cannot read it: ${(err as Error).message}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>;
    const ranges = Array.isArray(o.ranges) ? o.ranges.map(asRange) : [];
    const good = ranges.filter((r): r is IntentRange => r !== null);
    const days = Array.isArray(o.days) ? o.days.filter(isDay) : undefined;
    const intent: InsertIntent = {
      topic: typeof o.topic === 'string' && o.topic !== '' ? o.topic : topic,
      token: typeof o.token === 'string' ? o.token : '',
      ranges: good,
      ...(days && days.length > 0 ? { days } : {}),
    };
    if (good.length > 0 && good.length === ranges.length && o.v === 1 && typeof o.topic === 'string') return { status: 'ok', intent };
    if (good.length > 0) return { status: 'partial', intent, problem: `${ranges.length - good.length} of ${ranges.length} partition ranges are not [partition, first, last] offsets` };
    return { status: 'unreadable', problem: 'it names no partition range' };
  }
  // Not JSON (torn, edited): take every complete [partition, first, last] and day still in it.
  const good = [...text.matchAll(/\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]/g)].map((m) => asRange([Number(m[1]), Number(m[2]), Number(m[3])])).filter((r): r is IntentRange => r !== null);
  const topicMatch = /"topic"\s*:\s*"([^"\\]+)"/.exec(text);
  const days = [...text.matchAll(/"(\d{4}-\d{2}-\d{2})"/g)].map((m) => m[1]!).filter(isDay);
  if (good.length === 0) return { status: 'unreadable', problem: 'it is not JSON and names no partition range' };
  return {
    status: 'partial',
    intent: { topic: topicMatch?.[1] ?? topic, token: '', ranges: good, ...(days.length > 0 ? { days } : {}) },
    problem: 'it is not JSON (cut short?); the partition ranges still in it are used',
  };
}

function asRange(r: unknown): IntentRange | null {
  if (!Array.isArray(r) || r.length !== 3) return null;
  const [p, first, last] = r as unknown[];
  if (!isCount(p) || !isCount(first) || !isCount(last) || p > 0xffff_ffff || first > last) return null;
  return [p, first, last];
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isDay(v: unknown): v is string {
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v);
}

/** A block's intent: its token and, per partition, the first and last offset of its records. */
export function blockIntent(topic: string, token: string, ranges: ReadonlyMap<number, readonly [number, number]>): InsertIntent {
  const out: IntentRange[] = [];
  for (const [p, [first, last]] of ranges) out.push([p, first, last]);
  return { topic, token, ranges: out };
}
