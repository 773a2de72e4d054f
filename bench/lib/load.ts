// The load generator: autocannon (HDR histograms via hdr-histogram-js), used the same way for
// trackhouse, the no-op ceiling and the reference server.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: Record<string, number>;
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
  statusCodeStats: Record<string, { count: number }>;
}

/** A run: awaitable for its result, stop() ends it early. */
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult> & { stop(): void };
const autocannon = require('autocannon') as Autocannon;

export interface LoadOptions {
  url: string;
  path: string;
  bodies: string[];
  headers: Record<string, string>;
  connections: number;
  durationS: number;
  /** Ends the load early once settled (the load runs durationS at most). */
  until?: Promise<unknown>;
  /** Requests per second over all connections (for the "80 % of max" runs); unset = as fast as it goes. */
  overallRate?: number;
  /**
   * A placeholder in the bodies replaced, per request, by a number no other request of the process
   * got: every event sent is new (a body sent twice would be a resend, which the sink skips).
   */
  uniqueSlot?: string;
}

let uniqueCounter = 0;

export interface LoadResult {
  /** 2xx answers per second. */
  ok_per_s: number;
  requests_per_s: number;
  ok: number;
  non_2xx: number;
  errors: number;
  status_codes: Record<string, number>;
  latency_ms: { p50: number; p90: number; p99: number; p99_9: number; max: number; mean: number };
  duration_s: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const slot = o.uniqueSlot;
  const requests = o.bodies.map((body) =>
    slot === undefined
      ? { method: 'POST', path: o.path, body, headers: o.headers }
      : {
          method: 'POST',
          path: o.path,
          headers: o.headers,
          setupRequest: (req: Record<string, unknown>) => ({ ...req, body: body.replaceAll(slot, String(++uniqueCounter)) }),
        },
  );
  const tracker = autocannon({
    url: o.url,
    connections: o.connections,
    pipelining: 1,
    duration: o.durationS,
    requests,
    timeout: 30,
    // With a rate, autocannon "corrects" coordinated omission with an expected interval of
    // ceil(1 / rate) = 1 ms (it means 1000 / rate ms), which turns every L-ms answer into L
    // samples and a few slow connects into a p90 of a second. We report plain latencies.
    ...(o.overallRate ? { overallRate: Math.max(1, Math.round(o.overallRate)), ignoreCoordinatedOmission: true } : {}),
  });
  void o.until?.finally(() => tracker.stop());
  const r = await tracker;
  const codes: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) codes[k] = v.count;
  return {
    ok_per_s: r['2xx'] / r.duration,
    requests_per_s: r.requests.total / r.duration,
    ok: r['2xx'],
    non_2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    status_codes: codes,
    latency_ms: {
      p50: r.latency.p50!,
      p90: r.latency.p90!,
      p99: r.latency.p99!,
      p99_9: r.latency.p99_9!,
      max: r.latency.max!,
      mean: r.latency.mean!,
    },
    duration_s: r.duration,
  };
}

/** runLoad's target, bodies and bounds, at `rate` requests per second, one every 1000 / rate ms. */
export type PacedLoadOptions = Pick<LoadOptions, 'url' | 'path' | 'bodies' | 'headers' | 'durationS' | 'until' | 'uniqueSlot'> & { rate: number };

export interface PacedLoadResult {
  ok_per_s: number;
  ok: number;
  errors: number;
  /** Sends skipped because 64 requests were still unanswered (the server fell behind). */
  skipped: number;
  duration_s: number;
}

/**
 * An evenly spaced load: one request every 1000 / rate ms, each sent on time whatever the
 * answers before it (at most 64 in flight). autocannon's rate limit is a quota per second that
 * each connection spends at once at the top of every second: "100 requests/s" became all 100
 * within the first ~400 ms of each second, then nothing (a square wave at 2-3x the rate).
 */
export async function runPaced(o: PacedLoadOptions): Promise<PacedLoadResult> {
  const interval = 1000 / o.rate;
  const started = performance.now();
  const end = started + o.durationS * 1000;
  let stopped = false;
  void o.until?.finally(() => (stopped = true));
  let ok = 0;
  let errors = 0;
  let skipped = 0;
  let i = 0;
  const pending = new Set<Promise<void>>();
  for (let next = started; !stopped && next < end; next += interval) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (pending.size >= 64) {
      skipped++;
      continue;
    }
    const raw = o.bodies[i++ % o.bodies.length]!;
    const body = o.uniqueSlot === undefined ? raw : raw.replaceAll(o.uniqueSlot, String(++uniqueCounter));
    const p: Promise<void> = fetch(o.url + o.path, { method: 'POST', headers: o.headers, body })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.status >= 200 && res.status < 300) ok++;
        else errors++;
      })
      .catch(() => void errors++)
      .finally(() => pending.delete(p));
    pending.add(p);
  }
  await Promise.all(pending);
  const duration = (performance.now() - started) / 1000;
  return { ok_per_s: ok / duration, ok, errors, skipped, duration_s: duration };
}
