// A Prometheus histogram read from two scrapes of /metrics: what was observed between them, and
// its quantiles as bucket bounds (the bound of the first bucket holding the quantile: an upper
// bound, as histogram_quantile() would interpolate within it).

/** Cumulative bucket counts by upper bound (`le`), summed over every series of `name`. */
export function histogramBuckets(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

export interface HistogramDelta {
  count: number;
  /** The upper bound of the bucket holding quantile q (0..1); null when nothing was observed. */
  quantile(q: number): number | null;
}

/** What was observed between two scrapes' buckets (see histogramBuckets). */
export function histogramDelta(before: Map<number, number>, after: Map<number, number>): HistogramDelta {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const count = cumulative.at(-1) ?? 0;
  return {
    count,
    quantile(q) {
      if (count <= 0) return null;
      const i = cumulative.findIndex((c) => c >= q * count);
      return bounds[i] ?? null;
    },
  };
}
