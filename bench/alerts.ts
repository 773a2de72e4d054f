// npm run bench -- alerts: the stream processor (live volume + 10 alert rules), measured on its own
// (`trackhouse alerts`, one process, one event loop):
//
//  1. throughput (BENCH_ALERTS_PROF=<dir>: with a CPU profile of the processor): 1 M realistic events preloaded into Kafka, then read from the start; events/s
//     and CPU seconds per million events (from /proc/<pid>/stat), against the read ceiling (a
//     kafkajs consumer of the same topic that does nothing: bench/alerts-ceiling.ts);
//  2. under the ingest's maximum rate (100-event batches, as fast as `trackhouse ingest` takes
//     them): the processor's lag (records behind the partitions' ends) and CPU;
//  3. freshness, idle and under that load: one event at a time through the ingest; the time from
//     its 200 until GET /v1/volume counts it (polled every 20 ms), and until the webhook of a rule
//     it crosses is called (a receiver in this process).
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import { freePort } from '../src/localkafka/index.js';
import { track } from './lib/children.js';
import { batchBodies } from './lib/events.js';
import { runLoad } from './lib/load.js';
import { startServer, waitForPort, type Server } from './lib/proc.js';
import type { BenchContext, BenchSection } from './types.js';

const WRITE_KEY = 'bench-write-key';
const READ_KEY = 'bench-read-key';
const AUTH = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function tsChild(ctx: BenchContext, file: string, args: unknown): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const proc = track(spawn(process.execPath, ['--import', 'tsx', path.join(ctx.root, 'bench', file), JSON.stringify(args)], { cwd: ctx.root, stdio: ['ignore', 'pipe', 'inherit'] }));
    const out: Record<string, unknown>[] = [];
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        try {
          out.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        } catch {
          /* not ours */
        }
        buf = buf.slice(nl + 1);
      }
    });
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} exited with ${code}`))));
  });
}

/** The 10 rules of the benchmark: every measure, group-by, window kind and condition. */
export function benchRules(hook: string): unknown[] {
  const w = { url: hook };
  return [
    { name: 'per-source-minute', group_by: 'source', window: { type: 'tumbling', size: '1m' }, condition: { above: 1e12 }, webhook: w },
    { name: 'users-per-source-sliding', measure: 'users', group_by: 'source', window: { type: 'sliding', size: '10m', every: '1m' }, condition: { above: 1e12 }, webhook: w },
    { name: 'big-spender', measure: 'sum', property: 'price', filter: { event: 'Order Completed' }, group_by: 'user', window: { type: 'tumbling', size: '1d' }, condition: { above: 1000 }, webhook: w },
    { name: 'orders-sliding', filter: { type: 'track', event: 'Order Completed' }, window: { type: 'sliding', size: '5m', every: '1m' }, condition: { above: 1e12 }, webhook: w },
    { name: 'per-category', group_by: 'property:category', window: { type: 'tumbling', size: '5m' }, condition: { above: 1e12 }, webhook: w },
    { name: 'reject-ratio', measure: 'rejected_ratio', group_by: 'source', window: { type: 'tumbling', size: '5m' }, condition: { above: 0.01 }, webhook: w },
    { name: 'source-silent', group_by: 'source', window: { type: 'sliding', size: '10m', every: '1m' }, condition: { absent: true }, webhook: w },
    { name: 'pages-low', filter: { type: 'page' }, window: { type: 'tumbling', size: '1h' }, condition: { below: 1 }, webhook: w },
    { name: 'users-hourly', measure: 'users', window: { type: 'tumbling', size: '1h' }, condition: { above: 1e12 }, webhook: w },
    { name: 'probe', filter: { event: 'Alert Probe' }, group_by: 'user', window: { type: 'tumbling', size: '1m' }, condition: { above: 0 }, webhook: w },
  ];
}

interface Receiver {
  url: string;
  arrivals: Map<string, number>;
  close(): void;
}

async function receiver(): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const at = performance.now();
      try {
        const body = JSON.parse(raw) as { rule: string; group: { key: string | null } };
        if (body.rule === 'probe' && body.group.key) arrivals.set(body.group.key, at);
      } catch {
        /* ignore */
      }
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, arrivals, close: () => server.close() };
}

async function metricsOf(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function sumMetric(text: string, name: string, filter = ''): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(filter)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

interface Percentiles {
  probes: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  lost: number;
}

function summary(values: number[], lost: number): Percentiles {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
  for (const v of values) h.recordValue(Math.max(1, Math.round(v)));
  const out = { probes: values.length + lost, p50_ms: h.getValueAtPercentile(50), p99_ms: h.getValueAtPercentile(99), max_ms: h.maxValue, lost };
  h.destroy();
  return out;
}

/** Sequential probes: each event's 200, then polls /v1/volume and waits for its webhook. */
async function probes(ingest: string, stream: string, rx: Receiver, n: number): Promise<{ volume: Percentiles; alert: Percentiles }> {
  const vis: number[] = [];
  const hook: number[] = [];
  let lostV = 0;
  let lostH = 0;
  const today = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000).toISOString();
  const count = async () => {
    const r = await fetch(`${stream}/v1/volume?by=event&window=day&from=${today}&event=Alert%20Probe`, { headers: { authorization: `Bearer ${READ_KEY}` } });
    const body = (await r.json()) as { rows: { events: number }[] };
    return body.rows.reduce((a, x) => a + x.events, 0);
  };
  let seen = await count();
  for (let i = 0; i < n; i++) {
    const user = `probe-${randomUUID()}`;
    const res = await fetch(`${ingest}/v1/track`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ userId: user, event: 'Alert Probe' }) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`probe got ${res.status}`);
    const acked = performance.now();
    let visible: number | null = null;
    while (performance.now() - acked < 30_000) {
      const c = await count();
      if (c > seen) {
        visible = performance.now() - acked;
        seen = c;
        break;
      }
      await sleep(20);
    }
    if (visible === null) lostV++;
    else vis.push(visible);
    while (!rx.arrivals.has(user) && performance.now() - acked < 30_000) await sleep(5);
    const at = rx.arrivals.get(user);
    if (at === undefined) lostH++;
    else hook.push(at - acked);
    await sleep(50 + Math.random() * 100);
  }
  return { volume: summary(vis, lostV), alert: summary(hook, lostH) };
}

export async function run(ctx: BenchContext): Promise<BenchSection> {
  const n = ctx.quick ? 100_000 : 1_000_000;
  const rx = await receiver();
  const rulesFile = path.join(ctx.workDir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify({ rules: benchRules(rx.url) }));
  const tag = `bench-alerts-${Date.now()}`;
  const topics = (t: string) => ({ KAFKA_TOPIC_EVENTS: `${t}.events`, KAFKA_TOPIC_REJECTED: `${t}.rejected`, KAFKA_TOPIC_DLQ: `${t}.dlq`, KAFKA_TOPIC_ALERTS: `${t}.alerts`, KAFKA_TOPIC_ALERTS_LEASE: `${t}.lease`, ALERTS_LEADER_GROUP: `${t}-leader` });
  const common = {
    KAFKA_BROKERS: ctx.brokers.join(','),
    KAFKA_PARTITIONS: '6',
    TRACKHOUSE_WRITE_KEYS: `${WRITE_KEY}:bench`,
    TRACKHOUSE_READ_KEYS: READ_KEY,
    TRACKHOUSE_ALERTS: rulesFile,
    VOLUME_SUM_PROPERTIES: 'price',
    LOG_LEVEL: 'warn',
  };
  try {
    // 1. Throughput over a preloaded backlog.
    const t1 = `${tag}-backlog`;
    ctx.log(`writing ${n} events`);
    // The topic must exist with 6 partitions before the loader writes.
    const createPort = await freePort();
    const creator = startServer(process.execPath, [path.join(ctx.root, 'dist/cli/main.js'), 'alerts'], { ...common, ...topics(t1), STREAM_DIR: path.join(ctx.workDir, 'create'), STREAM_PORT: String(createPort) });
    await waitForPort(createPort, creator, 120_000);
    await creator.stop();
    await tsChild(ctx, 'sink-load.ts', { brokers: ctx.brokers, topic: `${t1}.events`, count: n, seconds: 0, rate: 0, seed: 7 });
    ctx.log('ceiling: a consumer that only reads');
    const [ceiling] = await tsChild(ctx, 'alerts-ceiling.ts', { brokers: ctx.brokers, topic: `${t1}.events`, count: n });
    const port = await freePort();
    // Every event counted (lateness 2 h: the generated events spread over the last hour, in no
    // order within a partition), so every event does all the work.
    // BENCH_ALERTS_PROF=<dir>: a V8 CPU profile of the processor draining the backlog (summarise
    // it with bench/lib/cpuprofile.ts; the profiler costs a few % of CPU).
    const prof = process.env.BENCH_ALERTS_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_ALERTS_PROF}`] : [];
    const proc = startServer(process.execPath, [...prof, path.join(ctx.root, 'dist/cli/main.js'), 'alerts'], { ...common, ...topics(t1), STREAM_DIR: path.join(ctx.workDir, 'backlog'), STREAM_PORT: String(port), STREAM_ALLOWED_LATENESS_MS: String(2 * 3_600_000) });
    let throughput: { events: number; events_per_s: number; cpu_seconds_per_million: number; cpu_cores: number; max_rss_mb: number; events_per_round: number };
    try {
      await waitForPort(port, proc, 120_000);
      let first: { t: number; n: number; cpu: number; rounds: number } | null = null;
      let last = { t: 0, n: 0, cpu: 0, rounds: 0 };
      const deadline = Date.now() + 900_000;
      let maxRss = 0;
      while (Date.now() < deadline) {
        const text = await metricsOf(port);
        const done = sumMetric(text, 'trackhouse_stream_records_total', 'topic="events"');
        const rounds = Number(/^trackhouse_stream_round_duration_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
        const sample = { t: performance.now(), n: done, cpu: cpuSeconds(proc.pid), rounds };
        maxRss = Math.max(maxRss, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
        if (first === null && done > 0) first = sample;
        last = sample;
        if (done >= n) break;
        await sleep(250);
      }
      if (first === null || last.n < n) throw new Error(`the processor read ${last.n} of ${n} events:\n${proc.output()}`);
      const seconds = (last.t - first.t) / 1000;
      const events = last.n - first.n;
      throughput = {
        events,
        events_per_s: Math.round(events / seconds),
        cpu_seconds_per_million: Math.round(((last.cpu - first.cpu) / events) * 1e6 * 100) / 100,
        cpu_cores: Math.round(((last.cpu - first.cpu) / seconds) * 100) / 100,
        max_rss_mb: Math.round(maxRss),
        // Records per round (one fetch of every partition): per-round work (folds, decisions) is
        // spread over these.
        events_per_round: Math.round(events / Math.max(1, last.rounds - first.rounds)),
      };
    } finally {
      await proc.stop();
    }
    const ceil = ceiling as { records: number; seconds: number; cpu_seconds: number };
    const ceilingRate = Math.round(ceil.records / ceil.seconds);
    ctx.log(`throughput ${throughput.events_per_s} events/s (${throughput.cpu_seconds_per_million} CPU s per M); ceiling ${ceilingRate}/s`);

    // 2 and 3. Live: ingest + alerts, probes idle, then under the ingest's maximum rate.
    const t2 = `${tag}-live`;
    const ports = { ingest: await freePort(), stream: await freePort() };
    const alerts = startServer(process.execPath, [path.join(ctx.root, 'dist/cli/main.js'), 'alerts'], { ...common, ...topics(t2), STREAM_DIR: path.join(ctx.workDir, 'live'), STREAM_PORT: String(ports.stream) });
    let ingest: Server | null = null;
    try {
      await waitForPort(ports.stream, alerts, 120_000);
      ingest = startServer(process.execPath, [path.join(ctx.root, 'dist/cli/main.js'), 'ingest'], { ...common, ...topics(t2), INGEST_PORT: String(ports.ingest), INGEST_THREADS: '1' });
      await waitForPort(ports.ingest, ingest, 60_000);
      const ingestUrl = `http://127.0.0.1:${ports.ingest}`;
      const streamUrl = `http://127.0.0.1:${ports.stream}`;
      const np = ctx.quick ? 10 : 100;
      await probes(ingestUrl, streamUrl, rx, 3);
      ctx.log(`idle: ${np} probes`);
      const idle = await probes(ingestUrl, streamUrl, rx, np);
      ctx.log(`idle volume p99 ${idle.volume.p99_ms} ms, alert p99 ${idle.alert.p99_ms} ms`);
      const durationS = ctx.quick ? 10 : 60;
      const bodies = batchBodies(400, 100);
      let maxLag = 0;
      const lagSamples: number[] = [];
      const cpu0 = cpuSeconds(alerts.pid);
      const wall0 = performance.now();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const lag = sumMetric(await metricsOf(ports.stream), 'trackhouse_stream_lag', `.events"`);
          lagSamples.push(lag);
          maxLag = Math.max(maxLag, lag);
          await sleep(500);
        }
      })();
      ctx.log(`ingest at its maximum rate for ${durationS} s, probes meanwhile`);
      const loadP = runLoad({ url: ingestUrl, path: '/v1/batch', bodies, headers: { authorization: AUTH, 'content-type': 'application/json' }, connections: 32, durationS });
      await sleep(2_000);
      const loaded = await probes(ingestUrl, streamUrl, rx, Math.max(5, Math.floor(np / 2)));
      const load = await loadP;
      const cpuCores = (cpuSeconds(alerts.pid) - cpu0) / ((performance.now() - wall0) / 1000);
      const lagAtEnd = sumMetric(await metricsOf(ports.stream), 'trackhouse_stream_lag', `.events"`);
      // Time to drain what was left behind.
      const drainStart = performance.now();
      while (sumMetric(await metricsOf(ports.stream), 'trackhouse_stream_lag', `.events"`) > 0 && performance.now() - drainStart < 120_000) await sleep(250);
      const drainS = (performance.now() - drainStart) / 1000;
      sampling = false;
      await sampler;
      const ingestRate = Math.round(load.ok_per_s * 100);
      ctx.log(`under ${ingestRate} events/s: max lag ${maxLag}, volume p99 ${loaded.volume.p99_ms} ms, alert p99 ${loaded.alert.p99_ms} ms`);
      const results = {
        setup: 'trackhouse alerts alone (one process, one event loop), 6 partitions, 10 rules, VOLUME_SUM_PROPERTIES=price; run broker',
        rules: (benchRules(rx.url) as { name: string }[]).map((r) => r.name),
        throughput: { ...throughput, backlog_events: n },
        ceiling_read_only: { events_per_s: ceilingRate, cpu_seconds_per_million: Math.round((ceil.cpu_seconds / ceil.records) * 1e6 * 100) / 100 },
        ratio_to_ceiling: Math.round((throughput.events_per_s / ceilingRate) * 100) / 100,
        live: {
          ingest_events_per_s: ingestRate,
          duration_s: durationS,
          max_lag_events: maxLag,
          lag_at_end_events: lagAtEnd,
          drain_after_load_s: Math.round(drainS * 10) / 10,
          alerts_cpu_cores: Math.round(cpuCores * 100) / 100,
        },
        volume_visible: { idle: idle.volume, under_load: loaded.volume },
        alert_webhook: { idle: idle.alert, under_load: loaded.alert },
        targets: { volume_p99_ms: 5000, alert_p99_ms: 2000, events_per_s: 100_000, cpu_cores: 1 },
        // For npm run capacity (bench/capacity.ts): events one core of the processor handles per
        // second, from the backlog's CPU per event (reading included: the processor's whole cost).
        capacity: {
          alerts: {
            events_per_core_s: Math.round(1e6 / throughput.cpu_seconds_per_million),
            note: `1e6 / ${throughput.cpu_seconds_per_million} CPU s per million events over a ${n}-event backlog, 10 rules, live volume`,
          },
        },
        meets: {
          volume: Math.max(idle.volume.p99_ms, loaded.volume.p99_ms) <= 5000 && idle.volume.lost + loaded.volume.lost === 0,
          alert: Math.max(idle.alert.p99_ms, loaded.alert.p99_ms) <= 2000 && idle.alert.lost + loaded.alert.lost === 0,
          // Keeps up with 100k events/s (drains at least that fast) and needs at most one core for
          // them: CPU per event x 100k. Not the cores while draining: prefetch lets a backlog drain
          // faster than 100k/s on more than one core, which says nothing about the cost at 100k/s.
          throughput: throughput.events_per_s >= 100_000 && (throughput.cpu_seconds_per_million * 100_000) / 1e6 <= 1,
        },
      };
      const row = (name: string, p: Percentiles) => `| ${name} | ${p.probes} | ${p.p50_ms} | ${p.p99_ms} | ${p.max_ms} | ${p.lost} |`;
      const markdown = [
        '## Alerts: stream processor (live volume + 10 rules)',
        '',
        '| what | trackhouse alerts | ceiling (read only) |',
        '| --- | --- | --- |',
        `| events/s over a ${n}-event backlog | ${throughput.events_per_s} | ${ceilingRate} (ratio ${results.ratio_to_ceiling}) |`,
        `| CPU seconds per million events | ${throughput.cpu_seconds_per_million} | ${results.ceiling_read_only.cpu_seconds_per_million} |`,
        `| CPU cores while draining | ${throughput.cpu_cores} | |`,
        `| max RSS | ${throughput.max_rss_mb} MB | |`,
        '',
        `Live, \`trackhouse ingest\` at its maximum rate (${ingestRate} events/s in 100-event batches, ${durationS} s): max lag ${maxLag} events, ${lagAtEnd} at the end (drained in ${results.live.drain_after_load_s} s), the processor at ${results.live.alerts_cpu_cores} cores.`,
        '',
        '| freshness (ingest 200 ->) | probes | p50 ms | p99 ms | max ms | lost |',
        '| --- | --- | --- | --- | --- | --- |',
        row('volume visible, idle', idle.volume),
        row('volume visible, under load', loaded.volume),
        row('alert webhook called, idle', idle.alert),
        row('alert webhook called, under load', loaded.alert),
        '',
        `Targets: volume p99 <= 5 s (${results.meets.volume ? 'met' : 'not met'}), webhook p99 <= 2 s (${results.meets.alert ? 'met' : 'not met'}), 100k events/s on at most one core (${results.meets.throughput ? 'met' : 'not met'}: drains at ${throughput.events_per_s}/s; 100k/s takes ${((throughput.cpu_seconds_per_million * 100_000) / 1e6).toFixed(2)} cores at ${throughput.cpu_seconds_per_million} CPU s per million). Broker, ingest, load generator and processor share the machine.`,
        '',
      ].join('\n');
      return { name: 'alerts', results, markdown };
    } finally {
      await ingest?.stop();
      await alerts.stop();
    }
  } finally {
    rx.close();
  }
}
