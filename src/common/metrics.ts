// Prometheus metrics (prom-client). Each process owns one Registry, built at start and passed to
// the parts that record into it, so tests can read exact values from their own registry.
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from './version.js';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * prom-client's defaults that are gauges named with `_total`, the counters' suffix: promlint
 * refuses them, and `rate()` over one reads a count of open handles as events. Each is the sum of
 * the labelled gauge beside it (`sum(trackhouse_nodejs_active_handles)`), so nothing is lost.
 */
const GAUGES_NAMED_AS_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * A process's registry. `withDefaults`: Node's own metrics (prom-client's defaults) and
 * `trackhouse_build_info`, the version and Node.js of what runs (the usual *_build_info gauge,
 * always 1), so a dashboard can tell which build a series came from.
 */
export function createRegistry(component: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (withDefaults) {
    collectDefaultMetrics({ register: registry, prefix: 'trackhouse_' });
    for (const name of GAUGES_NAMED_AS_COUNTERS) registry.removeSingleMetric(`trackhouse_${name}`);
    new Gauge({
      name: 'trackhouse_build_info',
      help: "trackhouse's version and the Node.js version it runs on (always 1)",
      labelNames: ['version', 'node'],
      registers: [registry],
      // Ingest threads' registries are summed into one exposition: one 1, not one per thread.
      aggregator: 'first',
    }).set({ version: VERSION, node: process.versions.node }, 1);
  }
  return registry;
}

// ---- per-request counting without prom-client on the hot path ----
//
// prom-client hashes an observation's labels into a string key on every inc()/observe() (~0.3 us
// each, a string built and interned per call); at tens of thousands of requests per second that
// was ~3 % of the ingest's CPU for single events. These keep plain numbers on the hot path and
// hand them to prom-client when the registry is read (its `collect` hook), so /metrics shows the
// same series and values.

/** A labelled counter child whose increments are added up in a number and given to prom-client when scraped. */
export class PendingCount {
  n = 0;
  constructor(readonly child: { inc(n: number): void }) {}
  flush(): void {
    if (this.n === 0) return;
    this.child.inc(this.n);
    this.n = 0;
  }
}

/** prom-client's own record of a label-less histogram (lib/histogram.js, `hashMap['']`). */
interface HistogramValues {
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * A label-less prom-client Histogram whose observations are counted per bucket in a Float64Array
 * and added to prom-client's values when the registry is read. Relies on prom-client's internal
 * layout (per-bucket counts keyed by upper bound in `hashMap['']`); buffered.test.ts compares the
 * exposition with a plain Histogram's, so a prom-client that changes it fails there.
 */
export class BufferedHistogram {
  private readonly bounds: Float64Array;
  /** Observations per bucket (index = bound's index; the last one: above every bound). */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  readonly histogram: Histogram;

  constructor(config: { name: string; help: string; buckets: number[]; registers: Registry[] }) {
    const self = this;
    this.bounds = Float64Array.from(config.buckets);
    this.counts = new Float64Array(config.buckets.length + 1);
    this.histogram = new Histogram({
      ...config,
      collect() {
        self.flush();
      },
    });
    // A registry reset drops what is buffered too.
    const reset = this.histogram.reset.bind(this.histogram);
    this.histogram.reset = () => {
      this.clear();
      reset();
    };
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  private flush(): void {
    if (this.count === 0) return;
    const internal = this.histogram as unknown as { hashMap: Record<string, HistogramValues | undefined> };
    if (internal.hashMap[''] === undefined) this.histogram.zero({}); // after a registry reset
    const values = internal.hashMap[''];
    if (values === undefined) throw new Error('prom-client Histogram layout changed: BufferedHistogram cannot add its counts');
    for (let i = 0; i < this.bounds.length; i++) values.bucketValues[this.bounds[i]!]! += this.counts[i]!;
    values.sum += this.sum;
    values.count += this.count;
    this.clear();
  }

  private clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
