// /metrics of the ingest, sink and query ports of `trackhouse start`, read by Prometheus' own code
// (test/support/metrics-go/, versions pinned in its go.mod; built by test/support/sdk-clients.ts):
// expfmt's text parser and promlint on a plain GET, and the parser Prometheus' scraper picks for
// the Content-Type answered to its OpenMetrics-first Accept header. Every port must parse both
// ways to the end with no lint problem. Without go the suite is listed as skipped, saying why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendBatch, startAllInOne, type AllInOne } from '../support/allinone.js';
import { runChild } from '../support/child.js';
import { buildGo, goProblem, METRICS_GO_PROBE } from '../support/sdk-clients.js';

/** One line of the Go program's report (test/support/metrics-go/main.go). */
interface MetricsReport {
  url: string;
  text_content_type: string;
  text_error: string;
  families: string[];
  lint: { metric: string; text: string }[];
  openmetrics_content_type: string;
  openmetrics_error: string;
  openmetrics_series: number;
}

const GO_PROBLEM = goProblem(METRICS_GO_PROBE);

if (GO_PROBLEM !== null) describe("/metrics under Prometheus' parsers and promlint", () => it.skip(GO_PROBLEM, () => {}));
else
  describe("/metrics under Prometheus' parsers and promlint", () => {
    let server: AllInOne | undefined;
    let reports: Map<string, MetricsReport>;

    beforeAll(async () => {
      const [started, built] = await Promise.allSettled([startAllInOne('metrics-prometheus'), buildGo(METRICS_GO_PROBE)]);
      if (started.status === 'fulfilled') server = started.value;
      if (started.status === 'rejected') throw started.reason;
      if (built.status === 'rejected') throw built.reason;
      const s = server!;
      // Traffic first, so the labelled series (requests by route and status, rows inserted, pages
      // served) exist and are linted too, not only their HELP and TYPE lines.
      await sendBatch(s.ingestUrl, [{ type: 'track', userId: 'metrics-user', event: 'Metrics Checked', properties: { category: 'ops' } }]);
      await fetch(`${s.ingestUrl}/v1/track`, { method: 'POST', body: '{' });
      await fetch(`${s.queryUrl}/v1/users/metrics-user/events`, { headers: { authorization: 'Bearer dev-read-key' } });
      await fetch(`${s.queryUrl}/v1/rollups/daily?by=event`, { headers: { authorization: 'Bearer dev-read-key' } });
      const ports = { ingest: s.ingestUrl, sink: s.sinkUrl, query: s.queryUrl };
      const r = await runChild(built.value, Object.values(ports).map((u) => `${u}/metrics`), { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`metrics-go exited with ${r.code}:\n${r.stderr.slice(-4000)}`);
      const lines = r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as MetricsReport);
      reports = new Map(Object.keys(ports).map((name, i) => [name, lines[i]!]));
    }, 300_000);

    afterAll(async () => {
      await server?.stop();
    });

    for (const port of ['ingest', 'sink', 'query']) {
      it(`${port}: expfmt parses the text format, and promlint finds nothing`, () => {
        const r = reports.get(port)!;
        expect(r.text_content_type).toBe('text/plain; version=0.0.4; charset=utf-8');
        expect(r.text_error).toBe('');
        expect(r.families).toContain('trackhouse_build_info');
        expect(r.lint).toEqual([]);
      });

      it(`${port}: Prometheus' scraper parses the answer to its OpenMetrics-first Accept to the end`, () => {
        const r = reports.get(port)!;
        // prom-client writes one format: the text format, which the scraper takes as its fallback.
        expect(r.openmetrics_content_type).toBe('text/plain; version=0.0.4; charset=utf-8');
        expect(r.openmetrics_error).toBe('');
        expect(r.openmetrics_series).toBeGreaterThan(r.families.length);
      });
    }
  });
