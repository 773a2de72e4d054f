// wrk (Debian package `wrk`) as a load generator: written in C, it takes far less CPU than
// autocannon for the same load, which leaves more of a 2-core machine to the server measured.
// Bodies rotate per request (a Lua script reads them from a file, one per line); the result has
// the same shape as autocannon's (bench/lib/load.ts).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadOptions, LoadResult } from './load.js';

const SCRIPT = `
local bodies = {}
for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
local i = math.random(#bodies)
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50":%f,"p90":%f,"p99":%f,"p99_9":%f,"max":%f,"mean":%f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000))
end
`;

export async function runWrk(o: LoadOptions & { threads?: number }): Promise<LoadResult> {
  if (o.overallRate) throw new Error('wrk runs closed loop only; use autocannon for a target rate');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-wrk-'));
  try {
    writeFileSync(path.join(dir, 'bodies.txt'), `${o.bodies.join('\n')}\n`);
    writeFileSync(path.join(dir, 'script.lua'), SCRIPT);
    const args = [`-t${o.threads ?? 1}`, `-c${o.connections}`, `-d${o.durationS}s`, '--timeout', '30s', '-s', path.join(dir, 'script.lua')];
    for (const [k, v] of Object.entries(o.headers)) args.push('-H', `${k}: ${v}`);
    args.push(`${o.url}${o.path}`);
    const out = await new Promise<string>((resolve, reject) =>
      execFile('wrk', args, { env: { ...process.env, WRK_BODIES: path.join(dir, 'bodies.txt') }, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`wrk failed: ${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
    if (!line) throw new Error(`wrk printed no summary:\n${out}`);
    const r = JSON.parse(line.slice(8)) as Record<string, number>;
    const duration = r.duration_us! / 1e6;
    const ok = r.requests! - r.status_errors!;
    const ms = (x: number) => Math.round(x * 1000) / 1000;
    return {
      ok_per_s: ok / duration,
      requests_per_s: r.requests! / duration,
      ok,
      non_2xx: r.status_errors!,
      errors: r.socket_errors!,
      status_codes: {},
      latency_ms: { p50: ms(r.p50!), p90: ms(r.p90!), p99: ms(r.p99!), p99_9: ms(r.p99_9!), max: ms(r.max!), mean: ms(r.mean!) },
      duration_s: duration,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
