// The window logic against a brute-force count: every window's value recomputed from the raw
// events, and the state machine run over those values one window after another.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashString } from './hll.js';
import { floorTo, measureValue, newAgg, RuleWindows, satisfies, type Condition, type MeasureKind, type Transition, type WindowSpec } from './window.js';

const MIN = 60_000;

interface Ev {
  t: number;
  v: number;
  user: number;
}

function contribute(rw: RuleWindows, e: Ev): void {
  const a = rw.bucketFor('g', e.t);
  a.n += 1;
  a.s += e.v;
  a.h?.add(hashString(`u${e.user}`));
}

/** The value of every window ending in (first bucket, upTo], counted from the raw events. */
function bruteValues(events: readonly Ev[], spec: WindowSpec, measure: MeasureKind, upTo: number): { end: number; value: number; n: number }[] {
  const first = Math.min(...events.map((e) => floorTo(e.t, spec.step)));
  const out: { end: number; value: number; n: number }[] = [];
  for (let end = first + spec.step; end <= upTo; end += spec.step) {
    const agg = newAgg(measure === 'users');
    for (const e of events) {
      if (e.t >= end - spec.size && e.t < end) {
        agg.n++;
        agg.s += e.v;
        agg.h?.add(hashString(`u${e.user}`));
      }
    }
    out.push({ end, value: measureValue(measure, agg), n: agg.n });
  }
  return out;
}

function bruteTransitions(values: readonly { end: number; value: number; n: number }[], cond: Condition): { kind: string; windowEnd: number }[] {
  let alert = false;
  const out: { kind: string; windowEnd: number }[] = [];
  for (const w of values) {
    const sat = satisfies(cond, w.value, { n: w.n, s: 0, r: 0, h: null });
    if (!alert && sat) {
      alert = true;
      out.push({ kind: 'alert', windowEnd: w.end });
    } else if (alert && !sat) {
      alert = false;
      out.push({ kind: 'recovered', windowEnd: w.end });
    }
  }
  return out;
}

const specArb = fc
  .record({ steps: fc.integer({ min: 1, max: 12 }), step: fc.constantFrom(MIN, 5 * MIN), tumbling: fc.boolean(), lateness: fc.constantFrom(0, MIN, 3 * MIN) })
  .map(({ steps, step, tumbling, lateness }): WindowSpec => (tumbling ? { size: steps * step, step: steps * step, lateness } : { size: steps * step, step, lateness }));

const T0 = Date.UTC(2026, 10, 1);
/** Events in time order over about two hours, in batches of 1 to 30. */
const eventsArb = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 4 * MIN }), v: fc.integer({ min: 0, max: 50 }), user: fc.integer({ min: 0, max: 40 }) }), { minLength: 1, maxLength: 120 }).map((xs) => {
  let t = T0;
  return xs.map((x) => ({ t: (t += x.dt), v: x.v, user: x.user }));
});

const measureArb = fc.constantFrom<MeasureKind>('count', 'sum', 'users');
const condArb = fc.oneof(
  fc.record({ op: fc.constant<'above'>('above'), threshold: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ op: fc.constant<'below'>('below'), threshold: fc.integer({ min: 1, max: 30 }) }),
  fc.constant<Condition>({ op: 'absent', threshold: 0 }),
);

/** Streams the events through RuleWindows in batches, the watermark following the newest event. */
function stream(events: readonly Ev[], spec: WindowSpec, measure: MeasureKind, cond: Condition, cuts: readonly number[]): { transitions: Transition[]; rw: RuleWindows; end: number } {
  const rw = new RuleWindows({ spec, measure, condition: cond });
  const transitions: Transition[] = [];
  let i = 0;
  let c = 0;
  let w = -Infinity;
  while (i < events.length) {
    const n = cuts[c++ % cuts.length]!;
    for (const e of events.slice(i, i + n)) {
      expect(rw.isLate(e.t)).toBe(false);
      contribute(rw, e);
      w = Math.max(w, e.t);
    }
    i += n;
    transitions.push(...rw.afterBatch());
    transitions.push(...rw.advance(w, () => true));
  }
  // Then time passes with no events until every window holding one is final.
  const last = events[events.length - 1]!.t;
  const end = floorTo(last, spec.step) + spec.size + 2 * spec.step;
  for (let t = w; t <= end + spec.lateness; t += spec.step) transitions.push(...rw.advance(t, () => true));
  return { transitions, rw, end };
}

describe('RuleWindows against a brute-force count', () => {
  it('decides alert and recovery at the windows the brute force decides them, tumbling and sliding', () => {
    fc.assert(
      fc.property(eventsArb, specArb, measureArb, condArb, fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 5 }), (events, spec, measure, cond, cuts) => {
        const { transitions, end } = stream(events, spec, measure, cond, cuts);
        const expected = bruteTransitions(bruteValues(events, spec, measure, end), cond);
        expect(transitions.map((t) => ({ kind: t.kind, windowEnd: t.windowEnd }))).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  }, 60_000);

  it('gives every window the brute-force value, also with events out of order within the lateness', () => {
    fc.assert(
      fc.property(eventsArb, specArb, measureArb, fc.integer({ min: 0, max: 1_000_000 }), (sorted, spec, measure, seed) => {
        // Shuffle within the lateness: an event may come after newer ones, up to `lateness` newer.
        const events = [...sorted].sort((a, b) => a.t + ((a.t * 7 + seed) % (spec.lateness + 1)) - (b.t + ((b.t * 7 + seed) % (spec.lateness + 1))));
        const rw = new RuleWindows({ spec, measure, condition: { op: 'above', threshold: Infinity } });
        let w = -Infinity;
        for (const e of events) {
          if (rw.isLate(e.t)) continue;
          contribute(rw, e);
          w = Math.max(w, e.t);
          rw.afterBatch();
        }
        const kept = events.filter((e) => e.t >= floorTo(-Infinity, 1)); // all are on time by construction
        const g = rw.groups.get('g')!;
        const last = Math.max(...events.map((e) => e.t));
        for (const { end, value } of bruteValues(kept, spec, measure, floorTo(last, spec.step) + spec.size)) {
          if (end <= rw.horizon) continue;
          expect(measureValue(measure, rw.windowAgg(g, end))).toBe(value);
        }
        expect(w).toBe(last);
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('keeps the buckets of the window a group alerted in, so its running total stays whole', () => {
    const day = 86_400_000;
    const spec = { size: day, step: day, lateness: MIN };
    const rw = new RuleWindows({ spec, measure: 'sum', condition: { op: 'above', threshold: 100 } });
    const t = Math.floor(T0 / day) * day + 3_600_000;
    contribute(rw, { t, v: 110, user: 1 });
    expect(rw.afterBatch().map((x) => x.kind)).toEqual(['alert']);
    // The watermark moves on within the day: the horizon stays before the alert window's end.
    rw.advance(t + 2 * 3_600_000);
    contribute(rw, { t: t + 3 * 3_600_000, v: 30, user: 1 });
    const g = rw.groups.get('g')!;
    expect(measureValue('sum', rw.windowAgg(g, g.transitionEnd))).toBe(140);
  });

  it('counts an event older than the watermark minus the lateness as late', () => {
    const spec = { size: 10 * MIN, step: MIN, lateness: 2 * MIN };
    const rw = new RuleWindows({ spec, measure: 'count', condition: { op: 'above', threshold: 5 } });
    contribute(rw, { t: T0 + 30 * MIN, v: 1, user: 1 });
    rw.advance(T0 + 30 * MIN);
    expect(rw.isLate(T0 + 28 * MIN)).toBe(false);
    expect(rw.isLate(T0 + 28 * MIN - 1)).toBe(true);
  });

  it('finds a silent group: absent alerts when a whole window passes without events, recovers on the next event', () => {
    const spec = { size: 10 * MIN, step: MIN, lateness: 0 };
    const rw = new RuleWindows({ spec, measure: 'count', condition: { op: 'absent', threshold: 0 } });
    contribute(rw, { t: T0, v: 0, user: 1 });
    expect(rw.advance(T0 + 10 * MIN, () => true)).toEqual([]);
    const silent = rw.advance(T0 + 11 * MIN, () => true);
    expect(silent).toEqual([{ group: 'g', kind: 'alert', windowEnd: T0 + 11 * MIN, value: 0, early: false }]);
    contribute(rw, { t: T0 + 15 * MIN, v: 0, user: 1 });
    expect(rw.afterBatch()).toEqual([{ group: 'g', kind: 'recovered', windowEnd: T0 + 16 * MIN, value: 1, early: true }]);
  });
});
