// Pure data shaping for the panels: API rows in, chart series and lists out. No DOM here, so
// these run (and are unit-tested) in Node as well as in the page.
import type { RollupRow, VolumeRow } from './types.js';

export const SECOND = 1_000;
export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** The name the panels give keys beyond the ones they draw one by one. */
export const OTHER = 'other';

export interface Series {
  /** Unix seconds (uPlot's x unit). */
  x: number[];
  lines: { label: string; values: number[] }[];
}

/** "YYYY-MM-DD" of the UTC day holding `ms`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC day `n` days after `day` ("YYYY-MM-DD"). */
export function addDays(day: string, n: number): string {
  return utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY);
}

/**
 * Per-minute volume rows -> events per second per key, one point per minute of the last
 * `minutes` (the current minute included). A finished minute's rate is its count over 60 s; the
 * current minute's is its count over the seconds elapsed in it, so the line does not dip at the
 * right edge while the minute fills. Keys beyond the `maxKeys` busiest are summed as "other".
 */
export function liveSeries(rows: readonly VolumeRow[], nowMs: number, minutes = 15, maxKeys = 8): Series {
  const current = Math.floor(nowMs / MINUTE) * MINUTE;
  const first = current - (minutes - 1) * MINUTE;
  const starts = Array.from({ length: minutes }, (_, i) => first + i * MINUTE);
  const counts = new Map<string, number[]>();
  for (const r of rows) {
    const t = Date.parse(r.start);
    if (!Number.isFinite(t) || t < first || t > current) continue;
    const i = Math.floor((t - first) / MINUTE);
    let c = counts.get(r.key);
    if (c === undefined) counts.set(r.key, (c = new Array<number>(minutes).fill(0)));
    c[i]! += r.events;
  }
  const elapsed = Math.max(1, (nowMs - current) / SECOND);
  const lines = limitKeys(counts, maxKeys).map(({ label, values }) => ({
    label,
    values: values.map((n, i) => n / (i === minutes - 1 ? elapsed : 60)),
  }));
  return { x: starts.map((t) => t / SECOND), lines };
}

/** Keeps the `max` keys with the most events (ties by name), summing the rest into "other". */
function limitKeys(counts: ReadonlyMap<string, number[]>, max: number): { label: string; values: number[] }[] {
  const total = (v: number[]) => v.reduce((a, b) => a + b, 0);
  const ranked = [...counts].sort(([ka, va], [kb, vb]) => total(vb) - total(va) || (ka < kb ? -1 : 1));
  const kept = ranked.slice(0, max).map(([label, values]) => ({ label, values }));
  const rest = ranked.slice(max);
  if (rest.length > 0) {
    const sum = rest[0]![1].map((_, i) => rest.reduce((a, [, v]) => a + v[i]!, 0));
    kept.push({ label: OTHER, values: sum });
  }
  return kept;
}

/** Events per second between successive readings of a counter, kept for a span of time. */
export class CounterRate {
  private last: { t: number; v: number } | null = null;
  readonly x: number[] = [];
  readonly y: number[] = [];

  constructor(private readonly spanMs = 15 * MINUTE) {}

  /** A reading of the counter at `t` (ms). A counter that went down restarted from 0. */
  add(t: number, v: number): void {
    const prev = this.last;
    this.last = { t, v };
    if (prev === null || t <= prev.t) return;
    const delta = v >= prev.v ? v - prev.v : v;
    this.x.push(t / SECOND);
    this.y.push((delta * SECOND) / (t - prev.t));
    while (this.x.length > 0 && this.x[0]! * SECOND < t - this.spanMs) {
      this.x.shift();
      this.y.shift();
    }
  }

  /** The newest rate, or null before two readings. */
  latest(): number | null {
    return this.y.length > 0 ? this.y[this.y.length - 1]! : null;
  }
}

/** A value kept over a span of time (sink lag while the page is open). */
export class History {
  readonly x: number[] = [];
  readonly y: number[] = [];
  constructor(private readonly spanMs = 15 * MINUTE) {}
  add(t: number, v: number): void {
    this.x.push(t / SECOND);
    this.y.push(v);
    while (this.x.length > 0 && this.x[0]! * SECOND < t - this.spanMs) {
      this.x.shift();
      this.y.shift();
    }
  }
}

export interface Ranked {
  key: string;
  events: number;
  users: number;
}

/**
 * Rollup rows summed by key, busiest first (ties by name), the first `n`. `users` is summed too:
 * exact for one day's rows, an upper bound across days.
 */
export function topKeys(rows: readonly RollupRow[], n: number): Ranked[] {
  const by = new Map<string, Ranked>();
  for (const r of rows) {
    const e = by.get(r.key);
    if (e === undefined) by.set(r.key, { key: r.key, events: r.events, users: r.users });
    else {
      e.events += r.events;
      e.users += r.users;
    }
  }
  return [...by.values()].sort((a, b) => b.events - a.events || (a.key < b.key ? -1 : 1)).slice(0, n);
}

/**
 * Daily rollup rows -> one line per key (the `maxKeys` busiest over the range, the rest as
 * "other"), one point per UTC day in [from, to), 0 where a key has no row.
 */
export function dailySeries(rows: readonly RollupRow[], from: string, to: string, maxKeys = 8): Series {
  const days: string[] = [];
  for (let d = from; d < to && days.length < 3_660; d = addDays(d, 1)) days.push(d);
  const index = new Map(days.map((d, i) => [d, i]));
  const counts = new Map<string, number[]>();
  for (const r of rows) {
    const i = index.get(r.day);
    if (i === undefined) continue;
    let c = counts.get(r.key);
    if (c === undefined) counts.set(r.key, (c = new Array<number>(days.length).fill(0)));
    c[i]! += r.events;
  }
  return { x: days.map((d) => Date.parse(`${d}T00:00:00Z`) / SECOND), lines: limitKeys(counts, maxKeys) };
}

/** Events summed by key over every bucket (by=reason rows: rejected records per error code). */
export function sumByKey(rows: readonly VolumeRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.key] = (out[r.key] ?? 0) + r.events;
  return out;
}

/** Counts by name, largest first, zeros left out. */
export function rankCounts(counts: Readonly<Record<string, number>>): { key: string; count: number }[] {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
}
