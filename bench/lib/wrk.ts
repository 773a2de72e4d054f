// wrk (Debian package `wrk`) as a load generator: written in C, it takes far less CPU than
// autocannon for the same load, which leaves more of a 2-core machine to the server measured.
// Requests rotate (a Lua script reads them from a file, one per line, and formats each once per
// thread); runWrk's result has the same shape as autocannon's (bench/lib/load.ts).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadOptions, LoadResult } from './load.js';

/** Closed-loop POSTs of `bodies` in turn (autocannon's result shape, bench/lib/load.ts). */
export async function runWrk(o: LoadOptions & { threads?: number }): Promise<LoadResult> {
  if (o.overallRate) throw new Error('wrk runs closed loop only; use autocannon for a target rate');
  const r = await runWrkStream({
    url: o.url,
    requests: o.bodies.map((body) => ({ method: 'POST', path: o.path, body })),
    headers: o.headers,
    connections: o.connections,
    durationS: o.durationS,
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
  });
  const ok = r.requests - r.status_errors;
  return {
    ok_per_s: ok / r.duration_s,
    requests_per_s: r.requests / r.duration_s,
    ok,
    non_2xx: r.status_errors,
    errors: r.socket_errors + r.timeouts,
    status_codes: {},
    latency_ms: latencyMs(r.latency_us),
    duration_s: r.duration_s,
  };
}

/** p50 / p90 / p99 / p99.9 / max / mean in ms (3 decimals) of [µs, count] pairs. */
function latencyMs(pairs: readonly [number, number][]): LoadResult['latency_ms'] {
  const sorted = [...pairs].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  const ms = (us: number) => Math.round(us) / 1000;
  const at = (p: number) => {
    const rank = Math.ceil((p / 100) * total);
    let seen = 0;
    for (const [v, c] of sorted) if ((seen += c) >= rank) return ms(v);
    return ms(sorted.at(-1)?.[0] ?? 0);
  };
  const sum = sorted.reduce((n, [v, c]) => n + v * c, 0);
  return { p50: at(50), p90: at(90), p99: at(99), p99_9: at(99.9), max: ms(sorted.at(-1)?.[0] ?? 0), mean: total === 0 ? 0 : ms(sum / total) };
}

/** True when Debian's `wrk` is on PATH (`wrk --version` exits 1 after printing it). */
export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 (a status); not installed is ENOENT, whose status is null.
    return typeof (err as { status?: number | null }).status === 'number';
  }
}

// A stream of requests, one per line: "GET<TAB>path" or "POST<TAB>path<TAB>body". done() prints
// the totals and every distinct latency with its count (µs, from wrk's own 1-µs histogram) so the caller
// rebuilds the whole distribution (merging runs, any percentile), not only wrk's four.
const STREAM_SCRIPT = `
local lines = {}
for line in io.lines(os.getenv("WRK_REQUESTS")) do lines[#lines + 1] = line end
local reqs = {}
local i = 0
local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
  thread:set("offset", i)
  i = i + 7919
end
-- Formatted here, not at load: wrk sets wrk.host (the Host header) only after loading the script.
init = function()
  for n, line in ipairs(lines) do
    local a = string.find(line, "\\t", 1, true)
    local b = string.find(line, "\\t", a + 1, true)
    if b then reqs[n] = wrk.format(string.sub(line, 1, a - 1), string.sub(line, a + 1, b - 1), nil, string.sub(line, b + 1))
    else reqs[n] = wrk.format(string.sub(line, 1, a - 1), string.sub(line, a + 1)) end
  end
  i = (offset or 0) % #reqs
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
-- WRK_RATE (requests/s of this thread): paced, an open-loop schedule of one request every
-- 1/rate s (LuaJIT's ffi reads the monotonic clock; wrk's delay() takes whole ms). delay() books
-- the next slot for the connection asking; request() notes how late the k-th request goes out
-- against the k-th slot (the schedule lag: with every connection waiting on the server, requests
-- leave late, and wrk's latency, counted from the send, no longer covers that wait).
local rate = tonumber(os.getenv("WRK_RATE") or "")
lagHist = {}
if rate then
  local ffi = require("ffi")
  ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } wrk_timespec; int clock_gettime(int clk, wrk_timespec *tp); ]]
  local ts = ffi.new("wrk_timespec")
  local function nowUs() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3 end
  local interval = 1e6 / rate
  local t0, booked, sent = nil, 0, 0
  delay = function()
    local now = nowUs()
    if not t0 then t0 = now end
    local wait = t0 + booked * interval - now
    booked = booked + 1
    if wait <= 0 then return 0 end
    return math.floor(wait / 1000 + 0.5)
  end
  local plain = request
  request = function()
    -- wrk calls request() once in its main Lua state to check the script: no schedule there.
    if not t0 then return plain() end
    local lag = nowUs() - (t0 + sent * interval)
    sent = sent + 1
    local b = lag > 0 and math.floor(lag / 100) or 0
    lagHist[b] = (lagHist[b] or 0) + 1
    return plain()
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"bytes":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,"timeouts":%d}\\n',
    summary.requests, summary.bytes, summary.duration, e.status, e.connect + e.read + e.write, e.timeout))
  io.write("WRKHIST")
  for n = 1, #latency do
    local v, c = latency(n)
    io.write(" ", string.format("%d:%d", v, c))
  end
  io.write("\\n")
  -- Each thread's lag histogram lives in its own Lua state (done() runs in the main one).
  io.write("WRKLAG")
  for _, t in ipairs(threads) do
    for b, c in pairs(t:get("lagHist") or {}) do io.write(" ", string.format("%d:%d", b * 100, c)) end
  end
  io.write("\\n")
end
`;

export interface StreamRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

export interface StreamResult {
  requests: number;
  bytes: number;
  /** Answers with status >= 400 (wrk counts no other status apart). */
  status_errors: number;
  socket_errors: number;
  timeouts: number;
  duration_s: number;
  /** [latency µs, count] of every answer. */
  latency_us: [number, number][];
  /** Paced runs (`rate`): [how late a request left against its slot, in 100-µs steps (µs), count]. */
  schedule_lag_us: [number, number][];
}

/**
 * Load over a stream of requests, in turn from a thread-specific start: closed loop, or with
 * `rate` (requests/s over all threads) paced by an open-loop schedule (see WRK_RATE in the script).
 */
export async function runWrkStream(o: { url: string; requests: readonly StreamRequest[]; headers: Record<string, string>; connections: number; durationS: number; threads?: number; rate?: number }): Promise<StreamResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-wrk-'));
  try {
    writeFileSync(path.join(dir, 'requests.txt'), `${o.requests.map((r) => (r.body === undefined ? `${r.method}\t${r.path}` : `${r.method}\t${r.path}\t${r.body}`)).join('\n')}\n`);
    writeFileSync(path.join(dir, 'script.lua'), STREAM_SCRIPT);
    const args = [`-t${o.threads ?? 1}`, `-c${o.connections}`, `-d${o.durationS}s`, '--timeout', '30s', '-s', path.join(dir, 'script.lua')];
    for (const [k, v] of Object.entries(o.headers)) args.push('-H', `${k}: ${v}`);
    args.push(o.url);
    const out = await new Promise<string>((resolve, reject) =>
      execFile('wrk', args, { env: { ...process.env, WRK_REQUESTS: path.join(dir, 'requests.txt'), ...(o.rate ? { WRK_RATE: String(o.rate / (o.threads ?? 1)) } : {}) }, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`wrk failed: ${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
    const histLine = out.split('\n').find((l) => l.startsWith('WRKHIST'));
    if (!line || histLine === undefined) throw new Error(`wrk printed no summary:\n${out.slice(0, 2000)}`);
    const r = JSON.parse(line.slice(8)) as Record<string, number>;
    const latency_us: [number, number][] = [];
    for (const pair of histLine.slice(7).trim().split(' ')) {
      if (pair === '') continue;
      const [v, c] = pair.split(':');
      latency_us.push([Number(v), Number(c)]);
    }
    const schedule_lag_us: [number, number][] = [];
    for (const pair of (out.split('\n').find((l) => l.startsWith('WRKLAG')) ?? 'WRKLAG').slice(6).trim().split(' ')) {
      if (pair === '') continue;
      const [v, c] = pair.split(':');
      schedule_lag_us.push([Number(v), Number(c)]);
    }
    return {
      requests: r.requests!,
      bytes: r.bytes!,
      status_errors: r.status_errors!,
      socket_errors: r.socket_errors!,
      timeouts: r.timeouts!,
      duration_s: r.duration_us! / 1e6,
      latency_us,
      schedule_lag_us,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
