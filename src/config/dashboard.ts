import { z } from 'zod';
import { int, optionalStr } from './parse.js';

/** A base URL (http or https, no query or fragment) that /readyz and /metrics are appended to. */
const baseUrl = () =>
  optionalStr()
    .refine((v) => v === undefined || isBaseUrl(v), { message: 'expected an http(s) base URL such as http://ingest:8080 (no query or fragment)' })
    .transform((v) => (v === undefined ? null : v.replace(/\/+$/, '')));

function isBaseUrl(v: string): boolean {
  if (!URL.canParse(v)) return false;
  const u = new URL(v);
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === '' && u.username === '' && u.password === '';
}

export const dashboardSchema = z
  .object({
    DASHBOARD_INGEST_URL: baseUrl(),
    DASHBOARD_SINK_URL: baseUrl(),
    // Above the ops servers' per-check bound on /readyz (2 s, READINESS_CHECK_TIMEOUT_MS), so a
    // slow dependency check shows as its own answer, not as a scrape that gave up first.
    DASHBOARD_SCRAPE_TIMEOUT_MS: int(2_500, 100, 30_000),
  })
  .transform((e) => ({
    /**
     * Where the query process reads the ingest's /readyz and /metrics for the dashboard's health
     * panel; null: not shown. `trackhouse start` sets it to its own ingest when unset.
     */
    ingestUrl: e.DASHBOARD_INGEST_URL,
    /** The same for the sink's ops port (SINK_PORT): readiness, consumer lag, inserts. */
    sinkUrl: e.DASHBOARD_SINK_URL,
    /** Per request to those URLs; a slower answer shows as "no answer" (readiness: unknown). */
    scrapeTimeoutMs: e.DASHBOARD_SCRAPE_TIMEOUT_MS,
  }));

export type DashboardConfig = z.output<typeof dashboardSchema>;
