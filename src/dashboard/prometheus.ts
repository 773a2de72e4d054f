// Reading counters, gauges and histograms out of a Prometheus text exposition (what our /metrics
// serve). Parsing is parse-prometheus-text-format's (escaping, comments, exponents, +Inf); this
// keeps only what is asked of it: a metric's value summed over series, or split by one label, and
// a histogram's buckets summed over series (the e2e bench's view share).
import parsePrometheus from 'parse-prometheus-text-format';

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }[];
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  constructor(text: string) {
    for (const f of (parsePrometheus as (text: string) => Family[])(text)) this.families.set(f.name, f);
  }

  has(name: string): boolean {
    return this.families.has(name);
  }

  /** The sum over every series of a counter or gauge; null when the metric is absent. */
  sum(name: string): number | null {
    const f = this.families.get(name);
    if (!f) return null;
    let total = 0;
    for (const m of f.metrics) total += numberOf(m.value);
    return total;
  }

  /** label value -> summed value, for a counter or gauge; null when the metric is absent. */
  by(name: string, label: string): Record<string, number> | null {
    const f = this.families.get(name);
    if (!f) return null;
    const out: Record<string, number> = {};
    for (const m of f.metrics) {
      const key = m.labels?.[label] ?? '';
      out[key] = (out[key] ?? 0) + numberOf(m.value);
    }
    return out;
  }

  /** A histogram's cumulative counts by bucket bound (`le`; +Inf as Infinity), summed over its series; null when absent. */
  buckets(name: string): Map<number, number> | null {
    const f = this.families.get(name);
    if (!f) return null;
    const out = new Map<number, number>();
    for (const m of f.metrics) {
      for (const [le, count] of Object.entries(m.buckets ?? {})) {
        const bound = le === '+Inf' ? Infinity : Number(le);
        out.set(bound, (out.get(bound) ?? 0) + numberOf(count));
      }
    }
    return out;
  }
}

function numberOf(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}
