import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/dashboard/prometheus.js';
import { histogramDelta } from './histogram.js';

const histogramBuckets = (text: string, name: string) => new Metrics(text).buckets(name)!;

const scrape = (counts: [string, number][]) =>
  ['# HELP x_seconds x', '# TYPE x_seconds histogram', ...counts.map(([le, n]) => `x_seconds_bucket{le="${le}",component="q"} ${n}`), 'x_seconds_count{component="q"} 0', 'y_bucket{le="1"} 99'].join('\n');

describe('histogram between two scrapes', () => {
  it('counts only what was observed between them, and gives each quantile its bucket bound', () => {
    const before = histogramBuckets(scrape([['0.01', 5], ['0.1', 5], ['1', 5], ['+Inf', 5]]), 'x_seconds');
    // Since: 90 observations under 10 ms, 8 under 100 ms, 1 under 1 s, 1 above.
    const after = histogramBuckets(scrape([['0.01', 95], ['0.1', 103], ['1', 104], ['+Inf', 105]]), 'x_seconds');
    const d = histogramDelta(before, after);
    expect(d.count).toBe(100);
    expect(d.quantile(0.5)).toBe(0.01);
    expect(d.quantile(0.9)).toBe(0.01);
    expect(d.quantile(0.95)).toBe(0.1);
    expect(d.quantile(0.99)).toBe(1);
    expect(d.quantile(1)).toBe(Infinity);
  });

  it('has no quantile when nothing was observed', () => {
    const same = histogramBuckets(scrape([['1', 3], ['+Inf', 3]]), 'x_seconds');
    expect(histogramDelta(same, same).quantile(0.5)).toBeNull();
  });
});
