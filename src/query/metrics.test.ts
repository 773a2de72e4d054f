import { describe, expect, it } from 'vitest';
import { createRegistry } from '../common/metrics.js';
import { createGate } from './gate.js';
import { createQueryMetrics } from './metrics.js';

/** A counter's value for one label set, as a scrape reads it. */
async function value(registry: ReturnType<typeof createRegistry>, name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

describe('query metrics', () => {
  it('counts every reply and answer once, however often they are read', async () => {
    const registry = createRegistry('q', false);
    const m = createQueryMetrics(registry, { gate: createGate(1, 1) });
    const start = performance.now();
    for (let i = 0; i < 5; i++) m.done('events', 200, start);
    m.done('events', 400, start);
    m.done('graphql', 200, start);
    m.answered('view');
    m.answered('view');
    m.answered('forwarded');
    expect(await value(registry, 'trackhouse_query_requests_total', { route: 'events', status: '200' })).toBe(5);
    // Read again, and after more: nothing is counted twice.
    expect(await value(registry, 'trackhouse_query_requests_total', { route: 'events', status: '200' })).toBe(5);
    m.done('events', 200, start);
    expect(await value(registry, 'trackhouse_query_requests_total', { route: 'events', status: '200' })).toBe(6);
    expect(await value(registry, 'trackhouse_query_requests_total', { route: 'events', status: '400' })).toBe(1);
    expect(await value(registry, 'trackhouse_query_requests_total', { route: 'graphql', status: '200' })).toBe(1);
    expect(await value(registry, 'trackhouse_query_events_answers_total', { answer: 'view' })).toBe(2);
    m.answered('view');
    expect(await value(registry, 'trackhouse_query_events_answers_total', { answer: 'view' })).toBe(3);
    expect(await value(registry, 'trackhouse_query_events_answers_total', { answer: 'forwarded' })).toBe(1);
    // Latency: one observation per reply, by route.
    const text = await registry.metrics();
    expect(text).toMatch(/trackhouse_query_request_duration_seconds_count\{[^}]*route="events"[^}]*\} 7\n/);
    expect(text).toMatch(/trackhouse_query_requests_total\{route="events",status="200"[^}]*\} 6\n/);
  });
});
