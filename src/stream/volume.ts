// Live volume: per minute, hour and day, for each source, type and event name: events, distinct
// users (Hll: exact to 256, then 1.6 % standard error), sums of VOLUME_SUM_PROPERTIES, late
// events; and rejected records per source and reason.
//
// Three dimensions are kept per bucket, so a question is answered from the coarsest one that
// holds it, without merging hundreds of sketches: S (source), ST (source, type) and STE (source,
// type, event name). Hot path: an event costs one map lookup into a per-round accumulator keyed
// by (minute, source, type, event); the accumulator is folded into the 9 cells (3 granularities
// x 3 dimensions) once per round, then the cells changed are written with the round's commit.
import { Hll } from './hll.js';
import { keyPart, type StreamDbs, type VolumeCellData } from './store.js';

export const GRANULARITIES = ['minute', 'hour', 'day'] as const;
export type Granularity = (typeof GRANULARITIES)[number];
const GRAN_MS: Record<Granularity, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const G_INDEX: Record<Granularity, number> = { minute: 0, hour: 1, day: 2 };

/** Dimensions stored: 0 = source, 1 = source+type, 2 = source+type+event. */
const DIMS = [0, 1, 2] as const;

export interface VolumeOptions {
  sumProperties: readonly string[];
  /** Cells this long past their end can no longer change (STREAM_ALLOWED_LATENESS_MS). */
  latenessMs: number;
  retentionMs: Record<Granularity, number>;
}

interface Acc {
  minute: number;
  source: string;
  type: string;
  event: string;
  n: number;
  late: number;
  sums: Float64Array | null;
  users: number[];
  /** Its 9 cells (3 granularities x 3 dimensions), looked up at its first fold; null after an eviction. */
  cells: Cell[] | null;
  /** The fold round it was last listed for. */
  round: number;
}

class Cell {
  n = 0;
  l = 0;
  readonly s: Float64Array;
  h: Hll;
  constructor(
    readonly key: (string | number)[],
    readonly end: number,
    props: number,
  ) {
    this.s = new Float64Array(props);
    this.h = new Hll();
  }
}

export interface VolumeRow {
  start: string;
  key: string;
  type?: string;
  events: number;
  users: number;
  sums: Record<string, number>;
  late: number;
  rejected?: number;
}

export interface ReasonRow {
  start: string;
  key: string;
  events: number;
}

export interface VolumeQuery {
  by: 'source' | 'event' | 'type';
  window: Granularity;
  from: number;
  to: number;
  source: string | null;
  event: string | null;
  type: string | null;
}

export class Volume {
  /** This round's accumulators: event name -> (source, type) -> minute index * 2 + late. */
  private readonly accs = new Map<string, { source: string; type: string; byMinute: Map<number, Acc> }[]>();
  private readonly accList: Acc[] = [];
  private round = 0;
  private readonly rejectedAcc = new Map<string, { g: number; start: number; source: string; reason: string; n: number }>();
  private readonly cells = new Map<string, Cell>();
  private readonly dirty = new Set<Cell>();
  private readonly props: readonly string[];
  private lastPrune = 0;

  constructor(
    private readonly dbs: StreamDbs,
    private readonly opts: VolumeOptions,
  ) {
    this.props = opts.sumProperties;
  }

  /**
   * Counts one event. `minute`: the minute of its event time, or of its arrival when late;
   * `user`: its user key's hash, or -1; `sums`: the values of the sum properties (NaN: absent).
   */
  add(minute: number, source: string, type: string, event: string, user: number, sums: Float64Array | null, late: boolean): void {
    // No key string per event: building and hashing one was a tenth of the processor's CPU. The
    // projector interns source and event name, so the lookup by event name hashes nothing new,
    // and its few (source, type) pairs are compared by identity; the innermost key is the
    // minute's index (a small integer) and lateness.
    let list = this.accs.get(event);
    if (list === undefined) this.accs.set(event, (list = []));
    let byMinute: Map<number, Acc> | undefined;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (e.source === source && e.type === type) {
        byMinute = e.byMinute;
        break;
      }
    }
    if (byMinute === undefined) list.push({ source, type, byMinute: (byMinute = new Map()) });
    const k = (minute / 60_000) * 2 + (late ? 1 : 0);
    let a = byMinute.get(k);
    if (a === undefined) {
      a = { minute, source, type, event, n: 0, late: 0, sums: this.props.length > 0 ? new Float64Array(this.props.length) : null, users: [], cells: null, round: -1 };
      byMinute.set(k, a);
    }
    if (a.round !== this.round) {
      a.round = this.round;
      this.accList.push(a);
    }
    if (late) {
      a.late++;
      return;
    }
    a.n++;
    if (user >= 0) a.users.push(user);
    if (sums !== null && a.sums !== null) for (let i = 0; i < sums.length; i++) if (!Number.isNaN(sums[i]!)) a.sums[i]! += sums[i]!;
  }

  addRejected(time: number, source: string, reason: string): void {
    for (const g of GRANULARITIES) {
      const start = Math.floor(time / GRAN_MS[g]) * GRAN_MS[g];
      const k = `${G_INDEX[g]}\u0000${start}\u0000${source}\u0000${reason}`;
      const r = this.rejectedAcc.get(k);
      if (r) r.n++;
      else this.rejectedAcc.set(k, { g: G_INDEX[g], start, source, reason, n: 1 });
    }
  }

  /**
   * Folds the round's accumulators into the cells. The accumulators outlive the round (emptied),
   * each holding its 9 cells, so a fold looks no cell up by key until an eviction drops them.
   */
  fold(): void {
    for (const a of this.accList) {
      let cells = a.cells;
      if (cells === null) {
        cells = [];
        for (const g of GRANULARITIES) {
          const size = GRAN_MS[g];
          const start = Math.floor(a.minute / size) * size;
          for (const dim of DIMS) cells.push(this.cell(G_INDEX[g], dim, start, size, a));
        }
        a.cells = cells;
      }
      for (const c of cells) {
        c.n += a.n;
        c.l += a.late;
        if (a.sums !== null) for (let i = 0; i < a.sums.length; i++) c.s[i]! += a.sums[i]!;
        c.h.addAll(a.users);
        this.dirty.add(c);
      }
      a.n = 0;
      a.late = 0;
      a.sums?.fill(0);
      a.users.length = 0;
    }
    this.accList.length = 0;
    this.round++;
  }

  private cell(g: number, dim: number, start: number, size: number, a: Acc): Cell {
    const parts: (string | number)[] = dim === 0 ? [g, dim, start, a.source] : dim === 1 ? [g, dim, start, a.source, a.type] : [g, dim, start, a.source, a.type, keyPart(a.event)];
    const k = parts.join('\u0000');
    let c = this.cells.get(k);
    if (c === undefined) {
      c = new Cell(parts, start + size, this.props.length);
      // Evicted or from before a restart: continue from what was committed.
      const stored = this.dbs.volume.get(parts);
      if (stored !== undefined) this.load(c, stored);
      this.cells.set(k, c);
    }
    return c;
  }

  private load(c: Cell, d: VolumeCellData): void {
    c.n = d.n;
    c.l = d.l;
    this.props.forEach((p, i) => (c.s[i] = d.s[p] ?? 0));
    c.h = Hll.fromBytes(d.h);
  }

  /** Inside the commit's transaction: every cell and rejected count changed since the last one. */
  write(): void {
    for (const c of this.dirty) {
      const s: Record<string, number> = {};
      this.props.forEach((p, i) => (s[p] = c.s[i]!));
      this.dbs.volume.put(c.key, { n: c.n, l: c.l, s, h: c.h.toBytes() });
    }
    this.dirty.clear();
    for (const r of this.rejectedAcc.values()) {
      const key = [r.g, r.start, r.source, r.reason];
      this.dbs.rejected.put(key, (this.dbs.rejected.get(key) ?? 0) + r.n);
    }
    this.rejectedAcc.clear();
  }

  /** Drops from memory the cells that can no longer change at watermark `w` (all written already). */
  evict(w: number): void {
    let evicted = false;
    for (const [k, c] of this.cells) {
      if (c.end + this.opts.latenessMs < w && !this.dirty.has(c)) {
        this.cells.delete(k);
        evicted = true;
      }
    }
    // The accumulators hold cells: drop them all (they are empty between rounds) so none adds to
    // an evicted cell; the next fold looks their cells up again (from the store if need be).
    if (evicted) this.accs.clear();
  }

  /** Inside a transaction, at most once a minute: removes buckets older than their retention. */
  prune(now: number): void {
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    for (const g of GRANULARITIES) {
      const before = now - this.opts.retentionMs[g];
      for (const dim of DIMS) {
        for (const key of this.dbs.volume.getKeys({ start: [G_INDEX[g], dim], end: [G_INDEX[g], dim, before] })) this.dbs.volume.remove(key);
      }
      for (const key of this.dbs.rejected.getKeys({ start: [G_INDEX[g]], end: [G_INDEX[g], before] })) this.dbs.rejected.remove(key);
    }
  }

  /** Rows of /v1/volume, from what is committed. */
  query(q: VolumeQuery): VolumeRow[] {
    const g = G_INDEX[q.window];
    const dim = q.by === 'event' || q.event !== null ? 2 : q.by === 'type' || q.type !== null ? 1 : 0;
    const rows = new Map<string, { start: number; key: string; type?: string; n: number; l: number; s: Float64Array; h: Hll }>();
    const wanted = q.event === null ? null : keyPart(q.event);
    for (const { key, value } of this.dbs.volume.getRange({ start: [g, dim, q.from], end: [g, dim, q.to] })) {
      const [, , start, source, type, event] = key as [number, number, number, string, string?, string?];
      if (q.source !== null && source !== q.source) continue;
      if (q.type !== null && type !== q.type) continue;
      if (wanted !== null && event !== wanted) continue;
      const rowKey = q.by === 'source' ? source : q.by === 'type' ? type! : event || type!;
      const id = `${start}\u0000${rowKey}\u0000${q.by === 'event' ? type : ''}`;
      let r = rows.get(id);
      if (r === undefined) {
        r = { start, key: rowKey, n: 0, l: 0, s: new Float64Array(this.props.length), h: new Hll(), ...(q.by === 'event' ? { type: type! } : {}) };
        rows.set(id, r);
      }
      r.n += value.n;
      r.l += value.l;
      this.props.forEach((p, i) => (r!.s[i]! += value.s[p] ?? 0));
      r.h.merge(Hll.fromBytes(value.h));
    }
    const rejected = q.by === 'source' && q.event === null && q.type === null ? this.rejectedBySource(g, q) : null;
    const out: VolumeRow[] = [];
    for (const r of rows.values()) {
      const sums: Record<string, number> = {};
      this.props.forEach((p, i) => (sums[p] = r.s[i]!));
      out.push({
        start: new Date(r.start).toISOString(),
        key: r.key,
        ...(r.type !== undefined ? { type: r.type } : {}),
        events: r.n,
        users: r.h.estimate(),
        sums,
        late: r.l,
        ...(rejected ? { rejected: rejected.get(`${r.start}\u0000${r.key}`) ?? 0 } : {}),
      });
    }
    // Sources with only rejected records in a bucket still get their row.
    if (rejected) {
      for (const [id, n] of rejected) {
        const [start, key] = id.split('\u0000') as [string, string];
        if (rows.has(`${start}\u0000${key}\u0000`)) continue;
        out.push({ start: new Date(Number(start)).toISOString(), key, events: 0, users: 0, sums: Object.fromEntries(this.props.map((p) => [p, 0])), late: 0, rejected: n });
      }
    }
    return out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : (a.type ?? '') < (b.type ?? '') ? -1 : 1));
  }

  private rejectedBySource(g: number, q: VolumeQuery): Map<string, number> {
    const out = new Map<string, number>();
    for (const { key, value } of this.dbs.rejected.getRange({ start: [g, q.from], end: [g, q.to] })) {
      const [, start, source] = key as [number, number, string, string];
      if (q.source !== null && source !== q.source) continue;
      const id = `${start}\u0000${source}`;
      out.set(id, (out.get(id) ?? 0) + value);
    }
    return out;
  }

  /** Rows of /v1/volume?by=reason: rejected records per reason (error code). */
  reasons(window: Granularity, from: number, to: number, source: string | null): ReasonRow[] {
    const g = G_INDEX[window];
    const rows = new Map<string, ReasonRow>();
    for (const { key, value } of this.dbs.rejected.getRange({ start: [g, from], end: [g, to] })) {
      const [, start, src, reason] = key as [number, number, string, string];
      if (source !== null && src !== source) continue;
      const id = `${start}\u0000${reason}`;
      const r = rows.get(id);
      if (r) r.events += value;
      else rows.set(id, { start: new Date(start).toISOString(), key: reason, events: value });
    }
    return [...rows.values()].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.key < b.key ? -1 : 1));
  }

  /** Events and users per key of one dimension in the minute starting at `start`, for /metrics. */
  minute(start: number, by: 'source' | 'type' | 'event'): { key: string; events: number; users: number; sums: Record<string, number> }[] {
    return this.query({ by, window: 'minute', from: start, to: start + 1, source: null, event: null, type: null }).map((r) => ({
      key: by === 'event' && r.type !== 'track' ? `(${r.type})` : r.key,
      events: r.events,
      users: r.users,
      sums: r.sums,
    }));
  }

  rejectedMinute(start: number): { key: string; events: number }[] {
    return this.reasons('minute', start, start + 1, null).map((r) => ({ key: r.key, events: r.events }));
  }
}

export const granularityMs = (g: Granularity): number => GRAN_MS[g];
