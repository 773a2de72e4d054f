// Feeds every rule with the records it reads, and keeps each rule's groups in the store.
//
// Per event and rule: the filter (set lookups), the group key (the Kafka key is the user key, so
// grouping by user costs one string only for rules that group by user), the time on the rule's
// axis, the late check, then the bucket's counters. Decisions are made once per round
// (afterRound), not per event.
import type { EventProjection } from '../schema/index.js';
import type { Rule } from './rules.js';
import { keyPart, type StoredGroup, type StreamDbs } from './store.js';
import { Hll } from './hll.js';
import { GroupState, RuleWindows, type Transition } from './window.js';

export interface RuleTransition extends Transition {
  rule: Rule;
}

export interface RuleCounters {
  /** Events (or rejected records) too late for every window they belong to. */
  late: number;
  /** Records not tracked because the rule already tracks max_groups groups. */
  overflow: number;
}

class RuleRuntime {
  readonly rw: RuleWindows;
  /** Index of the rule's property (sum or group) in the processor's PropertyReader. */
  prop = -1;
  readonly counters: RuleCounters = { late: 0, overflow: 0 };
  constructor(readonly rule: Rule) {
    this.rw = new RuleWindows({ spec: rule.spec, measure: rule.measure, condition: rule.condition });
  }
}

/** A group key of a property value: strings as they are, numbers and booleans as JSON writes them. */
function propertyKey(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return null;
}

export class Evaluator {
  readonly runtimes: readonly RuleRuntime[];
  private readonly forEvents: RuleRuntime[];
  private readonly forRejected: RuleRuntime[];
  private readonly byName: ReadonlyMap<string, RuleRuntime>;
  /** Property names some rule reads (a sum, or a group). */
  readonly properties: readonly string[];

  /** Where each rule's property is in the values the processor reads (its PropertyReader's names). */
  bindProperties(names: readonly string[]): void {
    for (const rt of this.runtimes) {
      const p = rt.rule.property ?? (rt.rule.groupBy.kind === 'property' ? rt.rule.groupBy.property : null);
      rt.prop = p === null ? -1 : names.indexOf(p);
    }
  }

  constructor(
    rules: readonly Rule[],
    private readonly dbs: StreamDbs,
  ) {
    this.runtimes = rules.map((r) => new RuleRuntime(r));
    this.forEvents = this.runtimes.filter((r) => r.rule.reads.events);
    this.forRejected = this.runtimes.filter((r) => r.rule.reads.rejected);
    this.byName = new Map(this.runtimes.map((r) => [r.rule.name, r]));
    const props = new Set<string>();
    for (const r of rules) {
      if (r.property !== null) props.add(r.property);
      if (r.groupBy.kind === 'property') props.add(r.groupBy.property);
    }
    this.properties = [...props];
  }

  /**
   * Loads each rule's groups; a rule whose definition changed since they were written starts
   * afresh (its old groups and windows mean something else now). Returns the names of those.
   */
  load(): string[] {
    const reset: string[] = [];
    for (const rt of this.runtimes) {
      const { name, fingerprint } = rt.rule;
      const stored = this.dbs.meta.get(`rule:${name}`) as { fingerprint: string; horizon: number | null } | undefined;
      if (stored !== undefined && stored.fingerprint !== fingerprint) {
        this.dbs.groups.transactionSync(() => {
          for (const key of this.dbs.groups.getKeys({ start: [name], end: [`${name}\u0000`] })) this.dbs.groups.remove(key);
          this.dbs.meta.remove(`rule:${name}`);
        });
        reset.push(name);
        continue;
      }
      if (stored === undefined) continue;
      rt.rw.horizon = stored.horizon ?? -Infinity;
      for (const { key, value } of this.dbs.groups.getRange({ start: [name], end: [`${name}\u0000`] })) {
        rt.rw.groups.set((key as [string, string])[1], restore(value, rt.rule.measure === 'users'));
      }
    }
    return reset;
  }

  /** The rule's horizon: its windows ending at or before it are final (-Infinity for a rule not in the file). */
  horizonOf(rule: string): number {
    return this.byName.get(rule)?.rw.horizon ?? -Infinity;
  }

  /** The ungrouped group of each rule exists from the start: it can be silent before any event. */
  ensureGlobalGroups(): void {
    for (const rt of this.runtimes) if (rt.rule.groupBy.kind === 'none') rt.rw.group('');
  }

  /**
   * Counts one event for every rule it matches. `userKey` decodes the Kafka key on demand;
   * `props` holds the values of the properties read (bindProperties), or null when none are.
   */
  onEvent(p: EventProjection, userHash: number, userKey: { get(): string | null }, props: readonly unknown[] | null): void {
    for (const rt of this.forEvents) {
      const { rule, rw } = rt;
      const f = rule.filter;
      if (f.sources !== null && !f.sources.has(p.source)) continue;
      if (f.types !== null && !f.types.has(p.type)) continue;
      if (f.events !== null && (p.event === null || !f.events.has(p.event))) continue;
      let group: string | null;
      switch (rule.groupBy.kind) {
        case 'none':
          group = '';
          break;
        case 'source':
          group = p.source;
          break;
        case 'user':
          group = userKey.get();
          break;
        case 'property':
          group = props === null ? null : propertyKey(props[rt.prop]);
          break;
        default:
          group = null;
      }
      if (group === null) continue;
      // A user id or property value may be longer than an lmdb key holds.
      group = keyPart(group);
      const t = rule.axis === 'event' ? p.timestamp : Math.max(p.received_at, rw.horizon);
      if (rw.isLate(t)) {
        rt.counters.late++;
        continue;
      }
      if (rw.groups.size >= rule.maxGroups && !rw.groups.has(group)) {
        rt.counters.overflow++;
        continue;
      }
      const a = rw.bucketFor(group, t);
      a.n++;
      if (rule.measure === 'sum') {
        const v = props === null ? undefined : props[rt.prop];
        if (typeof v === 'number' && Number.isFinite(v)) a.s += v;
      } else if (a.h !== null && userHash >= 0) {
        a.h.add(userHash);
      }
    }
  }

  /** Counts one rejected record (its time: when the edge received it). */
  onRejected(source: string, reason: string, time: number): void {
    for (const rt of this.forRejected) {
      const { rule, rw } = rt;
      if (rule.filter.sources !== null && !rule.filter.sources.has(source)) continue;
      if (rule.filter.reasons !== null && !rule.filter.reasons.has(reason)) continue;
      const group = rule.groupBy.kind === 'source' ? source : rule.groupBy.kind === 'reason' ? reason : '';
      const t = rule.axis === 'event' ? time : Math.max(time, rw.horizon);
      if (rw.isLate(t)) {
        rt.counters.late++;
        continue;
      }
      if (rw.groups.size >= rule.maxGroups && !rw.groups.has(group)) {
        rt.counters.overflow++;
        continue;
      }
      rw.bucketFor(group, t).r++;
    }
  }

  /** Early decisions of the round, then the windows final at watermark `w`, for every rule. */
  afterRound(w: number): RuleTransition[] {
    const out: RuleTransition[] = [];
    for (const rt of this.runtimes) {
      const { rule, rw } = rt;
      for (const t of rw.afterBatch()) out.push({ ...t, rule });
      const grouped = rule.groupBy.kind !== 'none';
      const keepSilent = rule.condition.op !== 'above';
      const forgetBefore = w - rule.forgetAfterMs;
      for (const t of rw.advance(w, (key, g) => !grouped || (keepSilent && g.lastSeen >= forgetBefore))) out.push({ ...t, rule });
      if (grouped && keepSilent) {
        // Forgotten: silent longer than forget_after, whatever its state (documented).
        for (const [key, g] of rw.groups) {
          if (g.lastSeen < forgetBefore && g.buckets.size === 0) rw.remove(key);
        }
      }
    }
    return out;
  }

  /** Inside the commit's transaction: the groups changed since the last write, and each rule's horizon. */
  write(): void {
    for (const rt of this.runtimes) {
      const { rule, rw } = rt;
      for (const key of rw.deleted) this.dbs.groups.remove([rule.name, key]);
      for (const key of rw.changed) {
        const g = rw.groups.get(key);
        if (g !== undefined) this.dbs.groups.put([rule.name, key], store(g));
      }
      if (rw.changed.size > 0 || rw.deleted.size > 0 || this.dbs.meta.get(`rule:${rule.name}`) === undefined) {
        this.dbs.meta.put(`rule:${rule.name}`, { fingerprint: rule.fingerprint, horizon: Number.isFinite(rw.horizon) ? rw.horizon : null });
      }
      rw.clearChanged();
      rw.deleted.clear();
    }
  }
}

const fin = (x: number): number | null => (Number.isFinite(x) ? x : null);

function store(g: GroupState): StoredGroup {
  return {
    b: [...g.buckets].map(([start, a]) => [start, a.n, a.s, a.r, a.h === null ? null : a.h.toBytes()]),
    alert: g.alert,
    te: fin(g.transitionEnd),
    de: fin(g.decidedEnd),
    ls: fin(g.lastSeen),
    v: g.value,
  };
}

function restore(s: StoredGroup, users: boolean): GroupState {
  const g = new GroupState(s.de ?? -Infinity);
  for (const [start, n, sum, r, h] of s.b) g.buckets.set(start, { n, s: sum, r, h: h !== null ? Hll.fromBytes(h) : users ? new Hll() : null });
  g.alert = s.alert;
  g.transitionEnd = s.te ?? -Infinity;
  g.lastSeen = s.ls ?? -Infinity;
  g.value = s.v;
  return g;
}
