// The dashboard's pipeline reader against real servers: the ops server the sink runs
// (startOpsServer, with real prom-client metrics) for a healthy and a not-ready part, a port where
// nothing listens, a server that never answers, and many readers at once sharing one scrape.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READINESS_CHECK_TIMEOUT_MS, startOpsServer, type OpsServer } from '../common/http.js';
import { Counter, Gauge, Registry } from '../common/metrics.js';
import { loadConfig } from '../config/index.js';
import { createPipelineReader } from './pipeline.js';

let sink: OpsServer;
let ingest: OpsServer;
let silent: http.Server;
/** An ops server whose readiness check never settles: /readyz answers only at its 300 ms check deadline. */
let slowReady: OpsServer;
let closedPort = 0;
let sinkScrapes = 0;
const registries = { sink: new Registry(), ingest: new Registry() };

beforeAll(async () => {
  registries.sink.setDefaultLabels({ component: 'sink' });
  const lag = new Gauge({ name: 'trackhouse_sink_consumer_lag', help: 'lag', labelNames: ['partition'], registers: [registries.sink] });
  lag.set({ partition: '0' }, 5);
  lag.set({ partition: '2' }, 7);
  new Counter({ name: 'trackhouse_sink_rows_inserted_total', help: 'rows', registers: [registries.sink] }).inc(1234);
  new Gauge({ name: 'trackhouse_sink_waiting_for_clickhouse', help: 'w', registers: [registries.sink] }).set(0);
  const dlq = new Counter({ name: 'trackhouse_sink_dlq_records_total', help: 'dlq', labelNames: ['code'], registers: [registries.sink] });
  dlq.inc({ code: 'undecodable' }, 2);
  new Gauge({
    name: 'trackhouse_scrapes',
    help: 'counts the scrapes of the sink',
    registers: [registries.sink],
    collect() {
      this.set(++sinkScrapes);
    },
  });
  new Counter({ name: 'trackhouse_ingest_events_accepted_total', help: 'acc', registers: [registries.ingest] }).inc(42);
  const rejected = new Counter({ name: 'trackhouse_ingest_events_rejected_total', help: 'rej', labelNames: ['code'], registers: [registries.ingest] });
  rejected.inc({ code: 'missing_id' }, 3);
  rejected.inc({ code: 'invalid_timestamp' }, 1);

  sink = await startOpsServer({ registry: registries.sink, checks: [], host: '127.0.0.1', port: 0, portVariable: 'SINK_PORT' });
  ingest = await startOpsServer({
    registry: registries.ingest,
    checks: [{ name: 'kafka', check: () => Promise.reject(new Error('broker down')) }],
    host: '127.0.0.1',
    port: 0,
    portVariable: 'INGEST_PORT',
  });
  slowReady = await startOpsServer({
    registry: registries.ingest,
    checks: [{ name: 'kafka', check: () => new Promise<void>(() => {}) }],
    checkTimeoutMs: 300,
    host: '127.0.0.1',
    port: 0,
    portVariable: 'INGEST_PORT',
  });
  silent = http.createServer(() => {}); // takes requests, never answers
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  sink?.close();
  slowReady?.close();
  ingest?.close();
  silent?.closeAllConnections();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
});

const config = (env: Record<string, string>) => loadConfig(env).dashboard;

describe('the pipeline reader (GET /v1/pipeline)', () => {
  it('reads readiness, checks and the metrics the panels show from the real ops endpoints', async () => {
    const reader = createPipelineReader(
      config({ DASHBOARD_SINK_URL: `http://127.0.0.1:${sink.port}`, DASHBOARD_INGEST_URL: `http://127.0.0.1:${ingest.port}/` }),
    );
    const s = await reader.read();
    expect(s.sink).toMatchObject({
      configured: true,
      reachable: true,
      ready: true,
      error: null,
      lag: 12,
      lag_by_partition: { '0': 5, '2': 7 },
      rows_inserted: 1234,
      insert_failures: null, // not exposed by this server
      dead_letters: { undecodable: 2 },
      waiting_for_clickhouse: false,
    });
    expect(s.ingest).toMatchObject({
      configured: true,
      url: `http://127.0.0.1:${ingest.port}`,
      reachable: true,
      ready: false,
      checks: { kafka: 'broker down' },
      events_accepted: 42,
      events_rejected: { missing_id: 3, invalid_timestamp: 1 },
    });
    expect(Date.parse(s.time)).toBeGreaterThan(0);
  });

  it('says "not configured" for a part without a URL, and what went wrong for one that does not answer', async () => {
    const reader = createPipelineReader(
      config({ DASHBOARD_SINK_URL: `http://127.0.0.1:${closedPort}`, DASHBOARD_SCRAPE_TIMEOUT_MS: '300' }),
    );
    const s = await reader.read();
    expect(s.ingest).toEqual({ configured: false });
    expect(s.sink).toMatchObject({ configured: true, reachable: false, ready: null, lag: null });
    expect((s.sink as { error: string }).error).toContain('connection refused');

    const hung = await createPipelineReader(
      config({ DASHBOARD_INGEST_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, DASHBOARD_SCRAPE_TIMEOUT_MS: '200' }),
    ).read();
    expect(hung.ingest).toMatchObject({ configured: true, reachable: false, events_accepted: null });
    expect((hung.ingest as { error: string }).error).toContain('no answer within 200 ms');
  });

  it('reports readiness as unknown (null), not as not ready, when /readyz answers after the scrape gave up', async () => {
    const url = `http://127.0.0.1:${slowReady.port}`;
    const early = await createPipelineReader(config({ DASHBOARD_INGEST_URL: url, DASHBOARD_SCRAPE_TIMEOUT_MS: '150' })).read();
    expect(early.ingest).toMatchObject({ configured: true, reachable: true, ready: null, events_accepted: 42 });
    expect((early.ingest as { error: string }).error).toBe('/readyz: no answer within 150 ms');
    // Waiting longer than the check's own deadline gets /readyz's answer: not ready, and why.
    const patient = await createPipelineReader(config({ DASHBOARD_INGEST_URL: url, DASHBOARD_SCRAPE_TIMEOUT_MS: '2000' })).read();
    expect(patient.ingest).toMatchObject({ reachable: true, ready: false, checks: { kafka: 'no answer within 300 ms' }, error: null });
  });

  it("waits by default longer than an ops server's /readyz may take", () => {
    expect(config({}).scrapeTimeoutMs).toBeGreaterThan(READINESS_CHECK_TIMEOUT_MS);
  });

  it('answers many dashboards with one scrape per second', async () => {
    const reader = createPipelineReader(config({ DASHBOARD_SINK_URL: `http://127.0.0.1:${sink.port}` }));
    const before = sinkScrapes;
    const all = await Promise.all(Array.from({ length: 20 }, () => reader.read()));
    expect(new Set(all.map((s) => s.time)).size).toBe(1);
    expect(sinkScrapes - before).toBe(1);
    await reader.read(); // still within the second: the same answer
    expect(sinkScrapes - before).toBe(1);
  });
});
