// Prometheus metrics (prom-client). Each process owns one Registry, built at start and passed to
// the parts that record into it, so tests can read exact values from their own registry.
import { collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createRegistry(component: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'trackhouse_' });
  return registry;
}
