// Windows and the alert state machine of one rule, free of I/O (the evaluator persists it).
//
// Time is cut into buckets of `step` ms; the window ending at e is [e - size, e), for every e
// that is a multiple of step (tumbling: step = size; sliding: size is a multiple of step). A
// group keeps one aggregate per bucket, so a window's value is the merge of its buckets.
//
// The state machine, over the windows of a group in the order of their ends:
//   ok    -> alert      at the first window whose value satisfies the condition;
//   alert -> recovered  at the first window after the alert window whose value does not.
// A window is final once the watermark passed its end plus the allowed lateness; no event is
// added to it after that (a later event is late). Decisions on final windows are exact. To
// notify within seconds, a window that is not final yet may decide early when its running value
// already decides it: an `above` condition met now (a count, a distinct count or a non-negative
// sum can only grow) and a `below`/`absent` alert whose window already reached the threshold.
// With events arriving in time order (within a window's lateness they may not), the early
// decisions are the ones the final windows would give, only sooner; the property test in
// window.test.ts checks both against a brute-force count.
//
// Between two "change points" (a bucket entering or leaving the window) a group's windows all
// have the same value, so a final decision visits only those points, not every step.
import { Hll } from './hll.js';

export interface WindowSpec {
  /** Window length, ms. */
  size: number;
  /** Bucket length and distance between window ends, ms; size is a multiple of it. */
  step: number;
  /** Allowed lateness, ms: windows are final this long after their end (watermark time). */
  lateness: number;
}

export type MeasureKind = 'count' | 'users' | 'sum' | 'rejected' | 'rejected_ratio';

export type ConditionOp = 'above' | 'below' | 'absent';

export interface Condition {
  op: ConditionOp;
  /** above: value > threshold; below: value < threshold; absent: no events (threshold unused). */
  threshold: number;
}

/** One bucket's (or window's) aggregate: events, property sum, rejected records, users. */
export interface Agg {
  n: number;
  s: number;
  r: number;
  h: Hll | null;
}

export const newAgg = (users: boolean): Agg => ({ n: 0, s: 0, r: 0, h: users ? new Hll() : null });

export function addAgg(into: Agg, from: Agg): void {
  into.n += from.n;
  into.s += from.s;
  into.r += from.r;
  if (into.h !== null && from.h !== null) into.h.merge(from.h);
}

export function measureValue(kind: MeasureKind, a: Agg): number {
  switch (kind) {
    case 'count':
      return a.n;
    case 'users':
      return a.h === null ? 0 : a.h.estimate();
    case 'sum':
      return a.s;
    case 'rejected':
      return a.r;
    case 'rejected_ratio':
      return a.n + a.r === 0 ? 0 : a.r / (a.n + a.r);
  }
}

export function satisfies(c: Condition, value: number, a: Agg): boolean {
  switch (c.op) {
    case 'above':
      return value > c.threshold;
    case 'below':
      return value < c.threshold;
    case 'absent':
      return a.n + a.r === 0;
  }
}

/** floor to a multiple of `step`, also for times before 1970. */
export const floorTo = (t: number, step: number): number => Math.floor(t / step) * step;

export interface Transition {
  group: string;
  kind: 'alert' | 'recovered';
  /** End of the window that decided it; the window is [windowEnd - size, windowEnd). */
  windowEnd: number;
  value: number;
  /** Decided on a window that was not final yet. */
  early: boolean;
}

export class GroupState {
  /** bucket start -> aggregate; only buckets some undecided window still contains. */
  readonly buckets = new Map<number, Agg>();
  alert = false;
  /** End of the window of the last transition; windows up to it are never decided again. */
  transitionEnd = -Infinity;
  /** Every window ending at or before this is decided. */
  decidedEnd: number;
  /** Newest bucket this group had an event in. */
  lastSeen = -Infinity;
  /** Value of the window last evaluated, for the API. */
  value = 0;
  // Hot-path marks (RuleWindows.bucketFor): the bucket last added to, and the epochs in which
  // this group was last recorded as changed and as touched, so a run of events into one group
  // costs field reads, not a Set and a Map update each.
  lastBucket = NaN;
  lastAgg: Agg | null = null;
  changedMark = -1;
  touchedMark = -1;
  touchLo = 0;
  touchHi = 0;

  constructor(decidedEnd: number) {
    this.decidedEnd = decidedEnd;
  }
}

export interface RuleWindowsOptions {
  spec: WindowSpec;
  measure: MeasureKind;
  condition: Condition;
}

/**
 * Whether a running (not final) value may decide: only where the value cannot move back across
 * the threshold before the window is final. A sum of properties may hold negative values, but
 * the seeds' example (a user's order total for the day above a line) must notify when it
 * happens, not at midnight, so sums decide early too (documented); a ratio never does.
 */
function earlyAllowed(measure: MeasureKind, op: ConditionOp): { enter: boolean; recover: boolean } {
  if (measure === 'rejected_ratio') return { enter: false, recover: false };
  if (op === 'above') return { enter: true, recover: false };
  return { enter: false, recover: true };
}

export class RuleWindows {
  readonly spec: WindowSpec;
  readonly measure: MeasureKind;
  readonly condition: Condition;
  readonly groups = new Map<string, GroupState>();
  /** Groups changed since clearChanged() (for writing them out). */
  readonly changed = new Set<string>();
  private changedEpoch = 0;
  readonly deleted = new Set<string>();
  /** Windows ending at or before this are final. */
  horizon: number;
  /** Groups with events since the last afterBatch() (each group's touchLo..touchHi: the buckets touched). */
  private readonly touched: { key: string; g: GroupState }[] = [];
  private touchedEpoch = 0;
  /** The group group() returned last (every removal goes through remove(), which forgets it). */
  private lastKey: string | null = null;
  private lastGroup: GroupState | null = null;
  private readonly early: { enter: boolean; recover: boolean };
  private readonly users: boolean;

  constructor(opts: RuleWindowsOptions, horizon = -Infinity) {
    this.spec = opts.spec;
    this.measure = opts.measure;
    this.condition = opts.condition;
    this.horizon = horizon;
    this.early = earlyAllowed(opts.measure, opts.condition.op);
    this.users = opts.measure === 'users';
    if (opts.spec.size % opts.spec.step !== 0) throw new Error('window size must be a multiple of its step');
  }

  /**
   * The group's state, made when missing. A group is born with its first event, at bucket
   * `from`: the windows that end before they could hold it count as decided (a user never seen
   * before is not "below" in the hours before it existed). The rule's ungrouped group is made
   * at start with `from` -Infinity: every window counts.
   */
  group(key: string, from = -Infinity): GroupState {
    // Runs of events into one group (every event of an ungrouped rule) skip the map.
    if (key === this.lastKey) return this.lastGroup!;
    let g = this.groups.get(key);
    if (g === undefined) {
      g = new GroupState(Math.max(this.horizon, from));
      this.groups.set(key, g);
      this.changed.add(key);
      g.changedMark = this.changedEpoch;
      this.deleted.delete(key);
    }
    this.lastKey = key;
    this.lastGroup = g;
    return g;
  }

  /** Removes a group (it is deleted from the store at the next write). */
  remove(key: string): void {
    this.groups.delete(key);
    this.changed.delete(key);
    this.deleted.add(key);
    if (key === this.lastKey) {
      this.lastKey = null;
      this.lastGroup = null;
    }
  }

  /** True when an event at time t is late: some window containing it is already final. */
  isLate(t: number): boolean {
    return floorTo(t, this.spec.step) < this.horizon;
  }

  /**
   * The bucket aggregate an on-time event at time t adds to (made when missing). The caller
   * checks isLate first and adds its contribution to the returned aggregate.
   */
  bucketFor(key: string, t: number): Agg {
    const b = floorTo(t, this.spec.step);
    const g = this.group(key, b);
    let a: Agg | undefined;
    if (b === g.lastBucket) a = g.lastAgg!;
    else {
      a = g.buckets.get(b);
      if (a === undefined) {
        a = newAgg(this.users);
        g.buckets.set(b, a);
      }
      g.lastBucket = b;
      g.lastAgg = a;
      if (b > g.lastSeen) g.lastSeen = b;
    }
    if (g.changedMark !== this.changedEpoch) {
      this.changed.add(key);
      g.changedMark = this.changedEpoch;
    }
    if (g.touchedMark !== this.touchedEpoch) {
      g.touchedMark = this.touchedEpoch;
      g.touchLo = g.touchHi = b;
      this.touched.push({ key, g });
    } else if (b < g.touchLo) g.touchLo = b;
    else if (b > g.touchHi) g.touchHi = b;
    return a;
  }

  /** Forgets which groups changed (after they were written). */
  clearChanged(): void {
    this.changed.clear();
    this.changedEpoch++;
  }

  /** Value of the window ending at `end` for a group. */
  windowAgg(g: GroupState, end: number): Agg {
    const out = newAgg(this.users);
    const from = end - this.spec.size;
    for (const [b, a] of g.buckets) if (b >= from && b < end) addAgg(out, a);
    return out;
  }

  /** Early decisions for the groups touched since the last call. */
  afterBatch(): Transition[] {
    const out: Transition[] = [];
    for (const { key, g } of this.touched) {
      if (this.groups.get(key) === g) this.decideEarly(key, g, g.touchLo, g.touchHi, out);
    }
    this.touched.length = 0;
    this.touchedEpoch++;
    return out;
  }

  /**
   * Early decision of one group whose buckets lo..hi took events: the earliest undecided window
   * that already decides.
   */
  private decideEarly(key: string, g: GroupState, lo: number, hi: number, out: Transition[]): void {
    const wants = g.alert ? this.early.recover : this.early.enter;
    if (!wants) return;
    const { size, step } = this.spec;
    const start = Math.max(g.decidedEnd, g.transitionEnd, this.horizon);
    // Distinct counts: the first window holding each bucket touched (with events in time order
    // it holds the most of the past; a union per change point would merge every bucket for each);
    // additive measures: every change point.
    const ends = this.users
      ? [...g.buckets.keys()].filter((b) => b >= lo && b <= hi).map((b) => b + step).sort((a, b) => a - b)
      : this.changePoints(g, start, hi + size);
    for (const e of ends) {
      if (e <= start) continue;
      const agg = this.windowAgg(g, e);
      const v = measureValue(this.measure, agg);
      const sat = satisfies(this.condition, v, agg);
      if (!g.alert && sat) {
        this.transition(key, g, 'alert', e, v, true, out);
        return;
      }
      if (g.alert && !sat) {
        this.transition(key, g, 'recovered', e, v, true, out);
        return;
      }
    }
  }

  /** Sorted window ends in (after, upTo] where the group's window value may change. */
  private changePoints(g: GroupState, after: number, upTo: number): number[] {
    const { size, step } = this.spec;
    const set = new Set<number>();
    const first = after === -Infinity ? -Infinity : after + step;
    if (first !== -Infinity && first <= upTo) set.add(first);
    for (const b of g.buckets.keys()) {
      const enter = b + step;
      const leave = b + size + step;
      if (enter > after && enter <= upTo) set.add(enter);
      if (leave > after && leave <= upTo) set.add(leave);
    }
    return [...set].sort((a, b) => a - b);
  }

  private transition(key: string, g: GroupState, kind: Transition['kind'], end: number, value: number, early: boolean, out: Transition[]): void {
    g.alert = kind === 'alert';
    g.transitionEnd = end;
    this.changed.add(key);
    g.value = value;
    out.push({ group: key, kind, windowEnd: end, value, early });
  }

  /**
   * Moves the horizon to the windows final at watermark `w` (ends <= w - lateness) and decides
   * them for every group; `keep(key, g)` says whether a group with nothing left stays (groups of
   * `below`/`absent` rules do, to be found silent). Returns the transitions in window order per group.
   */
  advance(w: number, keep: (key: string, g: GroupState) => boolean = () => false): Transition[] {
    const horizon = floorTo(w - this.spec.lateness, this.spec.step);
    if (!(horizon > this.horizon)) return [];
    this.horizon = horizon;
    const out: Transition[] = [];
    for (const [key, g] of this.groups) {
      this.decideFinal(key, g, horizon, out);
      this.expire(g);
      if (g.buckets.size === 0 && !g.alert && !keep(key, g)) {
        this.remove(key);
      } else {
        this.changed.add(key);
      }
    }
    // A group that changed state may already be decided again by a window not final yet (one
    // that recovered may meet the condition again; one found silent may have had an event since).
    // Each early decision moves past the last, so this ends.
    for (const t of out) {
      const g = this.groups.get(t.group);
      if (g !== undefined && g.buckets.size > 0) this.decideEarly(t.group, g, Math.min(...g.buckets.keys()), g.lastSeen, out);
    }
    return out;
  }

  private decideFinal(key: string, g: GroupState, horizon: number, out: Transition[]): void {
    const start = Math.max(g.decidedEnd, g.transitionEnd);
    if (horizon <= start) return;
    for (const e of this.changePoints(g, start, horizon)) {
      const agg = this.windowAgg(g, e);
      const v = measureValue(this.measure, agg);
      const sat = satisfies(this.condition, v, agg);
      g.value = v;
      if (!g.alert && sat) this.transition(key, g, 'alert', e, v, false, out);
      else if (g.alert && !sat) this.transition(key, g, 'recovered', e, v, false, out);
    }
    g.decidedEnd = horizon;
  }

  /**
   * Drops buckets no undecided window contains, keeping those of the window of the last
   * transition (a group alerting early on today's total still shows today's total).
   */
  private expire(g: GroupState): void {
    const from = Math.max(g.decidedEnd, g.transitionEnd - this.spec.step) + this.spec.step - this.spec.size;
    for (const b of g.buckets.keys()) if (b < from) g.buckets.delete(b);
    g.lastBucket = NaN;
    g.lastAgg = null;
  }
}
