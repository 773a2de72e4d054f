// npm run bench -- sink: the sink (Kafka -> decode workers -> ClickHouse) against its ceiling.
//
// 1. Ceiling: the same kind of rows bulk-inserted straight into a fresh chDB data dir with the
//    project's tables and materialized views (bench/sink-ceiling.ts, one child per format:
//    TabSeparated through the sink's own call (client.insert, a byte stream), JSONEachRow for
//    comparison, and TabSeparated without the sink's two bookkeeping views to show what
//    exactly-once costs; `tsv-string` on request: the same bytes through client.exec).
// 2. Backlog: N events are written to a topic first, then `node dist/cli/main.js sink` starts on
//    a fresh data dir; rows/s from its first insert until the group's lag is zero.
// 3. Live: a fresh sink process while load generators write at SINK_BENCH_RATE events/s for
//    SINK_BENCH_SECONDS; per second the lag (high watermark - committed, from the broker), rows
//    inserted and the sink's RSS; then the time for the lag to reach zero after load stops.
//
// Parameters (env): SINK_BENCH_RATE (150000), SINK_BENCH_SECONDS (60), SINK_BENCH_BACKLOG
// (1000000), SINK_BENCH_PRODUCERS (load generator processes, 2), SINK_BENCH_WORKERS (sink decode
// threads, default the sink's own default). BENCH_QUICK=1 shrinks all of them.
// A/B and diagnosis: SINK_BENCH_COMPARE=<another build's dist/cli/main.js> drains the same backlog
// with that build too, in turn with this one; SINK_BENCH_REPEATS=n repeats ceiling + drain(s) n
// times (medians reported); SINK_BENCH_CEILINGS=tsv measures only the listed ceiling formats;
// SINK_BENCH_CEILINGS=tsv,tsv-back-to-back,tsv-string adds the ceiling without pauses between inserts and the client.exec one; SINK_BENCH_LIVE=0 leaves out the live run; SINK_BENCH_DEBUG=1 runs the drains at debug level
// and reports the medians of each round's decode / wait / insert / commit times.
// SINK_BENCH_ENV_THIS / SINK_BENCH_ENV_COMPARE: extra env of that build's drains, space-separated
// NAME=value pairs (e.g. 'SINK_WORKERS=1' or 'NODE_OPTIONS=--max-semi-space-size=64'), to A/B a
// setting with the same build on both sides. SINK_BENCH_NODE_ARGS_THIS / _COMPARE: node options
// of that build's drains, space-separated, before the script (V8 flags NODE_OPTIONS refuses).
//
// CPU seconds per million rows, of the sink process (its decode workers and chDB included) and
// of the broker's process tree, are read from /proc before and after the drain and the live run.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { cpuSeconds, perMillion, threadTimes } from './lib/cpu.js';
import { track } from './lib/children.js';
import { groupLag } from './lib/lag.js';
import { envPairs, words } from './lib/proc.js';

const { Kafka, logLevel } = kafkajs();
import type { BenchContext, BenchSection, Scenario } from './types.js';
import type { CeilingFormat, CeilingResult } from './sink-ceiling.js';

const PARTITIONS = 6;

interface Params {
  rate: number;
  seconds: number;
  backlog: number;
  producers: number;
  workers: string | undefined;
  /** Ceiling formats to measure (SINK_BENCH_CEILINGS, comma-separated); the first is the ratio's. */
  ceilings: CeilingFormat[];
  /** Rows per ceiling insert (SINK_BENCH_CEILING_BLOCK, 100 000: SINK_BATCH_ROWS's default). */
  ceilingBlockRows: number;
  /** SINK_BENCH_LIVE=0 skips the live run (A/B runs of the backlog drain). */
  live: boolean;
  /** SINK_BENCH_COMPARE: another build's dist/cli/main.js, draining the same backlog in turn. */
  compare: string | undefined;
  /** SINK_BENCH_REPEATS: ceiling + drain(s) rounds over the same backlog (default 1). */
  repeats: number;
  /** SINK_BENCH_DEBUG=1: the drains log at debug level (per-round timings) to <workDir>/drain-*.log, summarised. */
  debug: boolean;
  /** SINK_BENCH_ENV_THIS / _COMPARE: extra env of each build's drains. */
  env: { this: Record<string, string>; compare: Record<string, string> };
  /** SINK_BENCH_NODE_ARGS_THIS / _COMPARE: node options of each build's drains. */
  nodeArgs: { this: string[]; compare: string[] };
}

function params(quick: boolean): Params {
  const num = (name: string, full: number, q: number) => {
    const v = process.env[name];
    return v ? Number(v) : quick ? q : full;
  };
  return {
    rate: num('SINK_BENCH_RATE', 150_000, 20_000),
    seconds: num('SINK_BENCH_SECONDS', 60, 5),
    backlog: num('SINK_BENCH_BACKLOG', 1_000_000, 50_000),
    producers: num('SINK_BENCH_PRODUCERS', 2, 1),
    workers: process.env.SINK_BENCH_WORKERS,
    ceilings: (process.env.SINK_BENCH_CEILINGS ?? 'tsv,json,tsv-without-sink-bookkeeping').split(',').map((f) => f.trim() as CeilingFormat),
    live: process.env.SINK_BENCH_LIVE !== '0',
    ceilingBlockRows: num('SINK_BENCH_CEILING_BLOCK', 100_000, 100_000),
    compare: process.env.SINK_BENCH_COMPARE || undefined,
    repeats: num('SINK_BENCH_REPEATS', 1, 1),
    debug: process.env.SINK_BENCH_DEBUG === '1',
    env: { this: envPairs(process.env.SINK_BENCH_ENV_THIS), compare: envPairs(process.env.SINK_BENCH_ENV_COMPARE) },
    nodeArgs: { this: words(process.env.SINK_BENCH_NODE_ARGS_THIS), compare: words(process.env.SINK_BENCH_NODE_ARGS_COMPARE) },
  };
}

/** Runs a TypeScript child (bench helpers) and returns its JSON output lines. */
function tsChild(ctx: BenchContext, file: string, args: unknown, onLine?: (o: Record<string, unknown>) => void): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const proc = track(spawn(process.execPath, ['--import', 'tsx', path.join(ctx.root, 'bench', file), JSON.stringify(args)], {
      cwd: ctx.root,
      stdio: ['ignore', 'pipe', 'inherit'],
    }));
    const out: Record<string, unknown>[] = [];
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          out.push(o);
          onLine?.(o);
        } catch {
          /* not ours */
        }
      }
    });
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} exited with ${code}`))));
  });
}

interface SinkProcess {
  proc: ChildProcess;
  port: Promise<number>;
  exited: Promise<number | null>;
}

/** A round's timings from the sink's debug log ('fetch sunk'). */
interface RoundLog {
  records: number;
  decodeMs: number;
  waitMs: number;
  insertMs: number;
  commitMs: number;
}

function startSinkProcess(
  ctx: BenchContext,
  env: Record<string, string>,
  mainJs = path.join(ctx.root, 'dist/cli/main.js'),
  nodeArgs: readonly string[] = [],
): SinkProcess & { rounds: RoundLog[] } {
  const proc = track(spawn(process.execPath, [...nodeArgs, mainJs, 'sink'], {
    cwd: ctx.root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  let onPort!: (p: number) => void;
  const port = new Promise<number>((r) => (onPort = r));
  const rounds: RoundLog[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.includes('sink ops endpoints listening')) onPort((JSON.parse(line) as { port: number }).port);
      else if (line.includes('"fetch sunk"')) rounds.push(JSON.parse(line) as RoundLog);
      if (line.includes('"level":50') || line.includes('"level":60')) ctx.log(`sink: ${line.slice(0, 300)}`);
    }
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, port, exited, rounds };
}

/**
 * CPU seconds per thread name of a process (/proc/<pid>/task/*): the main thread and the decode
 * workers are named `node`-ish by Node (main: the process name; workers: `node` or their own
 * name), chDB's threads carry ClickHouse's names (QueryPipelineEx, BgSchPool, ...).
 */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of threadTimes(pid)) {
    const name = t.tid === pid ? `main(${t.name})` : t.name;
    out.set(name, (out.get(name) ?? 0) + t.seconds);
  }
  return out;
}

function threadCpuDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const rows = [...after].map(([k, v]) => [k, +(v - (before.get(k) ?? 0)).toFixed(2)] as const).filter(([, v]) => v >= 0.05);
  return Object.fromEntries(rows.sort((a, b) => b[1] - a[1]));
}

/** Medians of the rounds' timings (the first round, which waits for nothing, included). */
function roundSummary(rounds: readonly RoundLog[]) {
  const med = (f: (r: RoundLog) => number) => {
    const v = rounds.map(f).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)]! : NaN;
  };
  return {
    rounds: rounds.length,
    records_median: med((r) => r.records),
    decode_ms_median: med((r) => r.decodeMs),
    wait_ms_median: med((r) => r.waitMs),
    insert_ms_median: med((r) => r.insertMs),
    commit_ms_median: med((r) => r.commitMs),
    insert_ms_total: rounds.reduce((a, r) => a + r.insertMs, 0),
  };
}

async function stopSinkProcess(s: SinkProcess): Promise<void> {
  s.proc.kill('SIGTERM');
  await s.exited;
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

async function scrape(port: number): Promise<{ rows: number; workerHeapMb: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let rows = 0;
  let heap = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('trackhouse_sink_rows_inserted_total')) rows = Number(line.split(' ').at(-1));
    if (line.startsWith('trackhouse_sink_worker_heap_bytes')) heap = Math.max(heap, Number(line.split(' ').at(-1)));
  }
  return { rows, workerHeapMb: Math.round(heap / 2 ** 20) };
}

const lag = groupLag;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const run: Scenario = async (ctx): Promise<BenchSection> => {
  const p = params(ctx.quick);
  const kafka = new Kafka({ clientId: 'bench-sink', brokers: ctx.brokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const stamp = Date.now().toString(36);
  const sinkEnv = (name: string): Record<string, string> => ({
    KAFKA_BROKERS: ctx.brokers.join(','),
    KAFKA_TOPIC_EVENTS: `bench-sink-${stamp}-${name}`,
    KAFKA_TOPIC_DLQ: `bench-sink-${stamp}-${name}.dlq`,
    KAFKA_TOPIC_REJECTED: `bench-sink-${stamp}-${name}.rejected`,
    KAFKA_PARTITIONS: String(PARTITIONS),
    SINK_GROUP_ID: `bench-sink-${stamp}-${name}`,
    TRACKHOUSE_DATA_DIR: path.join(ctx.workDir, `sink-${name}`),
    SINK_PORT: '0',
    LOG_LEVEL: 'info',
    ...(p.workers ? { SINK_WORKERS: p.workers } : {}),
  });
  try {
    // 1. Ceiling (every format once), 2. backlog drain; with SINK_BENCH_REPEATS / _COMPARE the
    // first ceiling and the drain(s) run again in turn over the same backlog, so old and new code
    // are compared under the same load (the machine is shared: only ratios within a run count).
    const ceilingRun = async (format: CeilingFormat, tag: string): Promise<CeilingResult> => {
      ctx.log(`ceiling: ${p.backlog} rows as ${format}`);
      const dir = path.join(ctx.workDir, `ceiling-${format}-${tag}`);
      const [r] = await tsChild(ctx, 'sink-ceiling.ts', { dir, rows: p.backlog, batchRows: p.ceilingBlockRows, format, seed: 11 });
      rmSync(dir, { recursive: true, force: true });
      return r as unknown as CeilingResult;
    };
    const ceilings: CeilingResult[] = [];
    for (const format of p.ceilings) ceilings.push(await ceilingRun(format, '0'));
    const ceiling = ceilings[0]!;

    const backlogEnv = sinkEnv('backlog');
    await admin.createTopics({ topics: [{ topic: backlogEnv.KAFKA_TOPIC_EVENTS!, numPartitions: PARTITIONS }] });
    ctx.log(`backlog: writing ${p.backlog} events`);
    const loaded = await tsChild(ctx, 'sink-load.ts', { brokers: ctx.brokers, topic: backlogEnv.KAFKA_TOPIC_EVENTS, count: p.backlog, seconds: 0, rate: 0, seed: 11 });
    const produceRate = Number(loaded.at(-1)?.rate ?? NaN);
    const rss: number[] = [];
    let heapMb = 0;
    /** One drain of the whole backlog by a fresh sink process (own group, own data dir). */
    const drain = async (build: 'this' | 'compare', tag: string) => {
      const env: Record<string, string> & { SINK_GROUP_ID: string; TRACKHOUSE_DATA_DIR: string } = {
        ...backlogEnv,
        SINK_GROUP_ID: `${backlogEnv.SINK_GROUP_ID}-${tag}`,
        TRACKHOUSE_DATA_DIR: `${backlogEnv.TRACKHOUSE_DATA_DIR}-${tag}`,
        ...(p.debug ? { LOG_LEVEL: 'debug' } : {}),
        ...p.env[build],
      };
      ctx.log(`backlog: draining with ${build === 'this' ? 'this build' : p.compare}`);
      const sink = startSinkProcess(ctx, env, build === 'compare' ? path.resolve(p.compare!) : undefined, p.nodeArgs[build]);
      // A failed drain (the broker gone, a timeout) must not leave the sink process running.
      let ok = false;
      try {
        // A sink that exits before listening (a refused option) fails the run instead of hanging it.
        const port = await Promise.race([sink.port, sink.exited.then((code) => Promise.reject(new Error(`the sink exited (${code}) before listening`)))]);
        // From the moment the sink is in the group (its /readyz) until it committed the last record.
        while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) await sleep(20);
        const readyAt = performance.now();
        const cpu0 = { sink: cpuSeconds(sink.proc.pid!), broker: ctx.brokerPid ? cpuSeconds(ctx.brokerPid, true) : NaN };
        const threads0 = threadCpu(sink.proc.pid!);
        let drainedAt = 0;
        for (let i = 0; ; i++) {
          if ((await lag(admin, env.KAFKA_TOPIC_EVENTS!, env.SINK_GROUP_ID)) === 0) {
            drainedAt = performance.now();
            break;
          }
          if (i % 10 === 0) {
            rss.push(rssMb(sink.proc.pid!));
            heapMb = Math.max(heapMb, (await scrape(port)).workerHeapMb);
          }
          await sleep(50);
        }
        const cpu = {
          sink: cpuSeconds(sink.proc.pid!) - cpu0.sink,
          broker: ctx.brokerPid ? cpuSeconds(ctx.brokerPid, true) - cpu0.broker : NaN,
        };
        const threads = threadCpuDelta(threads0, threadCpu(sink.proc.pid!));
        const drained = await scrape(port);
        rss.push(rssMb(sink.proc.pid!));
        heapMb = Math.max(heapMb, drained.workerHeapMb);
        await stopSinkProcess(sink);
        rmSync(env.TRACKHOUSE_DATA_DIR, { recursive: true, force: true });
        ok = true;
        if (drained.rows !== p.backlog) throw new Error(`the sink inserted ${drained.rows} rows of a ${p.backlog}-event backlog`);
        return {
          rows_per_s: Math.round(p.backlog / ((drainedAt - readyAt) / 1000)),
          cpu_s_per_m_rows: { sink: perMillion(cpu.sink, p.backlog), broker: Number.isNaN(cpu.broker) ? null : perMillion(cpu.broker, p.backlog) },
          ...(p.debug ? { round_timings: roundSummary(sink.rounds), thread_cpu_s: threads } : {}),
        };
      } finally {
        if (!ok) sink.proc.kill('SIGKILL');
      }
    };
    type Drain = Awaited<ReturnType<typeof drain>>;
    const trials: { ceiling_rows_per_s: number; this: Drain; compare?: Drain }[] = [];
    for (let r = 0; r < p.repeats; r++) {
      const c = r === 0 ? ceiling : await ceilingRun(ceiling.format, String(r));
      // ABBA: the build that drains first alternates between repeats.
      const order: ('this' | 'compare')[] = p.compare ? (r % 2 === 0 ? ['compare', 'this'] : ['this', 'compare']) : ['this'];
      const t: Partial<(typeof trials)[number]> = { ceiling_rows_per_s: c.rows_per_s };
      for (const b of order) t[b] = await drain(b, `${r}-${b}`);
      trials.push(t as (typeof trials)[number]);
      ctx.log(`trial ${r}: ceiling ${c.rows_per_s} rows/s, this ${t.this!.rows_per_s}${t.compare ? `, compare ${t.compare.rows_per_s}` : ''}`);
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    const ratios = (b: 'this' | 'compare') => trials.map((t) => +(t[b]!.rows_per_s / t.ceiling_rows_per_s).toFixed(2));
    const drainRowsPerS = median(trials.map((t) => t.this.rows_per_s));
    const drainCpu = trials[0]!.this.cpu_s_per_m_rows;

    // 3. Live (SINK_BENCH_LIVE=0 leaves it out).
    const liveRun = async () => {
      const liveEnv = sinkEnv('live');
      await admin.createTopics({ topics: [{ topic: liveEnv.KAFKA_TOPIC_EVENTS!, numPartitions: PARTITIONS }] });
      const liveSink = startSinkProcess(ctx, liveEnv);
      const livePort = await liveSink.port;
      const liveCpu0 = { sink: cpuSeconds(liveSink.proc.pid!), broker: ctx.brokerPid ? cpuSeconds(ctx.brokerPid, true) : NaN };
      ctx.log(`live: ${p.producers} generator(s) at ${p.rate}/s for ${p.seconds} s`);
      const acked = new Array<number>(p.producers).fill(0);
      const generators = Array.from({ length: p.producers }, (_, i) =>
        tsChild(
          ctx,
          'sink-load.ts',
          { brokers: ctx.brokers, topic: liveEnv.KAFKA_TOPIC_EVENTS, count: 0, seconds: p.seconds, rate: Math.round(p.rate / p.producers), seed: 100 + i },
          (o) => {
            if (typeof o.acked === 'number') acked[i] = o.acked;
          },
        ),
      );
      let loadDone = false;
      const loadFinished = Promise.all(generators).then((r) => {
        loadDone = true;
        return r;
      });
      const samples: { s: number; acked: number; rows: number; lag: number; rss_mb: number }[] = [];
      const t0 = performance.now();
      let drainedAt = NaN;
      while (!loadDone) {
        await sleep(1000);
        const m = await scrape(livePort);
        const l = await lag(admin, liveEnv.KAFKA_TOPIC_EVENTS!, liveEnv.SINK_GROUP_ID!);
        samples.push({ s: Math.round((performance.now() - t0) / 100) / 10, acked: acked.reduce((a, b) => a + b, 0), rows: m.rows, lag: l, rss_mb: rssMb(liveSink.proc.pid!) });
        heapMb = Math.max(heapMb, m.workerHeapMb);
      }
      const results = await loadFinished;
      const total = results.reduce((a, r) => a + Number(r.at(-1)?.acked ?? 0), 0);
      const liveSeconds = Math.max(...results.map((r) => Number(r.at(-1)?.seconds ?? NaN)));
      const stopAt = performance.now();
      const lagAtStop = await lag(admin, liveEnv.KAFKA_TOPIC_EVENTS!, liveEnv.SINK_GROUP_ID!);
      const rowsAtStop = (await scrape(livePort)).rows;
      const drainDeadline = stopAt + 300_000;
      for (;;) {
        const l = await lag(admin, liveEnv.KAFKA_TOPIC_EVENTS!, liveEnv.SINK_GROUP_ID!);
        if (l === 0) {
          drainedAt = performance.now();
          break;
        }
        if (performance.now() > drainDeadline) break;
        await sleep(100);
      }
      const liveRows = (await scrape(livePort)).rows;
      const liveCpu = {
        sink: cpuSeconds(liveSink.proc.pid!) - liveCpu0.sink,
        broker: ctx.brokerPid ? cpuSeconds(ctx.brokerPid, true) - liveCpu0.broker : NaN,
      };
      await stopSinkProcess(liveSink);
      return {
        target_rate: p.rate,
        achieved_produce_rate: Math.round(total / liveSeconds),
        seconds: liveSeconds,
        events: total,
        rows_inserted: liveRows,
        sink_rows_per_s_during_load: Math.round(rowsAtStop / liveSeconds),
        lag_at_load_stop: lagAtStop,
        seconds_to_drain_after_load: Number.isFinite(drainedAt) ? +((drainedAt - stopAt) / 1000).toFixed(2) : null,
        // From the sink's start to the lag's end: the broker's share includes the producers' writes.
        cpu_s_per_m_rows: { sink: perMillion(liveCpu.sink, liveRows), broker: Number.isNaN(liveCpu.broker) ? null : perMillion(liveCpu.broker, liveRows) },
        samples,
      };
    };
    const live = p.live ? await liveRun() : null;
    const sinkRss = [...rss, ...(live?.samples.map((x) => x.rss_mb) ?? [])].filter((x) => Number.isFinite(x));

    const byFormat = Object.fromEntries(ceilings.map((c) => [c.format, c]));
    const results_ = {
      params: p,
      ceiling: byFormat,
      backlog: {
        events: p.backlog,
        produce_rate: produceRate,
        sink_rows_per_s: drainRowsPerS,
        ratio_to_ceiling: median(ratios('this')),
        cpu_s_per_m_rows: drainCpu,
        ...(p.repeats > 1 || p.compare ? { trials, ratios: ratios('this') } : {}),
        ...(p.compare ? { compare: { build: p.compare, ratios: ratios('compare'), ratio_to_ceiling: median(ratios('compare')) } } : {}),
      },
      live,
      memory: { sink_rss_mb_min: Math.min(...sinkRss), sink_rss_mb_max: Math.max(...sinkRss), worker_heap_mb_max: heapMb },
    };
    const fmt = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US') : 'n/a');
    const perRow = (c: CeilingResult) => `${fmt(c.rows_per_s)} rows/s (${(c.payload_bytes / c.rows).toFixed(0)} B/row)`;
    const trialText = (b: 'this' | 'compare') => trials.map((t) => `${fmt(t[b]!.rows_per_s)} / ${fmt(t.ceiling_rows_per_s)}`).join('; ');
    const markdown = [
      '## sink',
      '',
      '| measure | value |',
      '| --- | --- |',
      ...(byFormat.tsv ? [`| ceiling: bulk insert into chDB, TabSeparated, all views | ${perRow(byFormat.tsv)} |`] : []),
      ...(byFormat['tsv-back-to-back'] ? [`| ceiling: same, every insert's rows built first, inserts back to back (merges timed too) | ${perRow(byFormat['tsv-back-to-back'])} |`] : []),
      ...(byFormat['tsv-string'] ? [`| ceiling: same TabSeparated through client.exec (the ceiling's call before #16) | ${perRow(byFormat['tsv-string'])} |`] : []),
      ...(byFormat.json ? [`| ceiling: same rows as JSONEachRow | ${perRow(byFormat.json)} |`] : []),
      ...(byFormat['tsv-without-sink-bookkeeping'] ? [`| ceiling: TabSeparated without the sink's 2 bookkeeping views | ${perRow(byFormat['tsv-without-sink-bookkeeping'])} |`] : []),
      `| sink, draining a backlog of ${fmt(p.backlog)} events | **${fmt(drainRowsPerS)} rows/s** (${results_.backlog.ratio_to_ceiling} of ceiling${p.repeats > 1 ? `, median of ${p.repeats}` : ''}) |`,
      ...(p.repeats > 1 || p.compare ? [`| each trial: sink / ceiling rows/s (ratios) | ${trialText('this')} (${ratios('this').join(', ')}) |`] : []),
      ...(p.compare
        ? [`| compare build \`${p.compare}\`: sink / ceiling rows/s (ratios), same trials | ${trialText('compare')} (${ratios('compare').join(', ')}; median ${results_.backlog.compare!.ratio_to_ceiling}) |`]
        : []),
      ...(live
        ? [
            `| live: target / achieved produce rate (${p.producers} kafkajs generator${p.producers > 1 ? 's' : ''}) | ${fmt(p.rate)} / ${fmt(live.achieved_produce_rate)} events/s for ${live.seconds.toFixed(0)} s |`,
            `| live: sink rows/s while loading | ${fmt(live.sink_rows_per_s_during_load)} |`,
            `| live: lag when load stopped | ${fmt(live.lag_at_load_stop)} records |`,
            `| live: time for the lag to reach 0 after load stopped | ${live.seconds_to_drain_after_load === null ? 'not within 300 s' : `${live.seconds_to_drain_after_load} s`} |`,
          ]
        : []),
      `| CPU s per M rows, backlog drain: sink / broker | ${drainCpu.sink} / ${drainCpu.broker ?? '-'} |`,
      ...(live ? [`| CPU s per M rows, live (load and drain): sink / broker (broker includes the generators' writes) | ${live.cpu_s_per_m_rows.sink} / ${live.cpu_s_per_m_rows.broker ?? '-'} |`] : []),
      `| sink process RSS (min-max${live ? ' over both runs' : ''}) | ${results_.memory.sink_rss_mb_min}-${results_.memory.sink_rss_mb_max} MB |`,
      `| decode worker V8 heap (max) | ${heapMb} MB |`,
      '',
      `Ceiling and sink see the same generator's rows (Segment-style events, ~${Math.round(ceiling.payload_bytes / ceiling.rows)} B of TabSeparated each). ` +
        'The sink runs as its own process (`node dist/cli/main.js sink`, chDB in-process, defaults unless set), load generators are separate kafkajs processes (uncompressed, acks=all); ' +
        'lag is read from the broker (high watermark - committed offset). Per-second samples are in the JSON.' +
        (p.repeats > 1 || p.compare ? ' Trials: the ceiling and each build\'s drain of the same backlog, in turn (the build draining first alternates), each drain by a fresh process, group and data dir.' : ''),
      '',
    ].join('\n');
    return { name: 'sink', results: results_, markdown };
  } finally {
    await admin.disconnect();
  }
};
