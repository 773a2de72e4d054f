// A Prometheus histogram read from two scrapes of /metrics (their buckets as
// src/dashboard/prometheus.ts reads them): what was observed between them, and its quantiles as
// bucket bounds (the bound of the first bucket holding the quantile: an upper bound, as
// histogram_quantile() would interpolate within it).

export interface HistogramDelta {
  count: number;
  /** The upper bound of the bucket holding quantile q (0..1); null when nothing was observed. */
  quantile(q: number): number | null;
}

/** What was observed between two scrapes' buckets (Metrics.buckets()). */
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
