import { readFileSync } from 'node:fs';
import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BufferedHistogram, Counter, createRegistry, Histogram, PendingCount, Registry } from './metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

describe('BufferedHistogram', () => {
  it('exposes exactly what a prom-client Histogram given the same observations exposes', async () => {
    const plainRegistry = new Registry();
    const bufferedRegistry = new Registry();
    const plain = new Histogram({ name: 'h', help: 'x', buckets: BUCKETS, registers: [plainRegistry] });
    const buffered = new BufferedHistogram({ name: 'h', help: 'x', buckets: BUCKETS, registers: [bufferedRegistry] });
    // Below, on and between the bounds, above all of them, and again after a first scrape.
    const rounds = [
      [0, 0.001, 0.0011, 0.05, 0.1, 0.5, 1, 7],
      [0.002, 20, 0.0005],
    ];
    for (const values of rounds) {
      for (const v of values) {
        plain.observe(v);
        buffered.observe(v);
      }
      expect(await bufferedRegistry.metrics()).toBe(await plainRegistry.metrics());
    }
    expect(await bufferedRegistry.metrics()).toContain('h_count 11');
  });

  it('counts again after the registry is reset', async () => {
    const registry = new Registry();
    const buffered = new BufferedHistogram({ name: 'h', help: 'x', buckets: BUCKETS, registers: [registry] });
    buffered.observe(0.5);
    registry.resetMetrics();
    buffered.observe(0.05);
    const text = await registry.metrics();
    expect(text).toContain('h_bucket{le="0.1"} 1');
    expect(text).toContain('h_count 1');
  });
});

describe('PendingCount', () => {
  it('adds what was counted to the labelled series when the registry is read', async () => {
    const registry = new Registry();
    const pending: PendingCount[] = [];
    const counter = new Counter({ name: 'c', help: 'x', labelNames: ['k'], registers: [registry], collect: () => pending.forEach((p) => p.flush()) });
    const a = new PendingCount(counter.labels('a'));
    pending.push(a);
    a.n += 3;
    expect(await registry.metrics()).toContain('c{k="a"} 3');
    a.n += 2;
    expect(await registry.metrics()).toContain('c{k="a"} 5');
  });
});

describe('createRegistry', () => {
  // promlint: "non-counter metrics should not have "_total" suffix" (prom-client's defaults had three).
  it('names no metric but a counter with the _total suffix', async () => {
    const families = await createRegistry('test').getMetricsAsJSON();
    expect(families.filter((f) => f.name.endsWith('_total') && String(f.type) !== 'counter').map((f) => f.name)).toEqual([]);
    expect(families.map((f) => f.name)).toContain('trackhouse_nodejs_active_handles');
  });

  it("exposes trackhouse_build_info with package.json's version and this Node.js, set to 1", async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const text = await createRegistry('probe').metrics();
    expect(text).toContain(`trackhouse_build_info{version="${pkg.version}",node="${process.versions.node}",component="probe"} 1\n`);
  });

  it('counts trackhouse_build_info once when the ingest threads\' registries are summed', async () => {
    const threads = await Promise.all([createRegistry('ingest'), createRegistry('ingest')].map((r) => r.getMetricsAsJSON()));
    const summed = await AggregatorRegistry.aggregate(threads).metrics();
    expect(summed).toMatch(/^trackhouse_build_info\{[^}]*\} 1$/m);
  });

  it('leaves it out, with the process metrics, when asked for a bare registry', async () => {
    expect(await createRegistry('bare', false).metrics()).not.toContain('trackhouse_build_info');
  });
});
