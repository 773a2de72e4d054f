// npm run bench -- sink: the sink (Kafka -> decode workers -> ClickHouse) against its ceiling.
//
// 1. Ceiling: the same kind of rows bulk-inserted straight into a fresh chDB data dir with the
//    project's tables and materialized views (bench/sink-ceiling.ts, one child per format:
//    TabSeparated as the sink sends, JSONEachRow for comparison, and TabSeparated without the
//    sink's two bookkeeping views to show what exactly-once costs).
// 2. Backlog: N events are written to a topic first, then `node dist/cli/main.js sink` starts on
//    a fresh data dir; rows/s from its first insert until the group's lag is zero.
// 3. Live: a fresh sink process while load generators write at SINK_BENCH_RATE events/s for
//    SINK_BENCH_SECONDS; per second the lag (high watermark - committed, from the broker), rows
//    inserted and the sink's RSS; then the time for the lag to reach zero after load stops.
//
// Parameters (env): SINK_BENCH_RATE (150000), SINK_BENCH_SECONDS (60), SINK_BENCH_BACKLOG
// (1000000), SINK_BENCH_PRODUCERS (load generator processes, 2), SINK_BENCH_WORKERS (sink decode
// threads, default the sink's own default). BENCH_QUICK=1 shrinks all of them.
//
// CPU seconds per million rows, of the sink process (its decode workers and chDB included) and
// of the broker's process tree, are read from /proc before and after the drain and the live run.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { cpuSeconds, perMillion } from './lib/cpu.js';
import { groupLag } from './lib/lag.js';

const { Kafka, logLevel } = kafkajs();
import type { BenchContext, BenchSection, Scenario } from './types.js';
import type { CeilingResult } from './sink-ceiling.js';

const PARTITIONS = 6;

interface Params {
  rate: number;
  seconds: number;
  backlog: number;
  producers: number;
  workers: string | undefined;
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
  };
}

/** Runs a TypeScript child (bench helpers) and returns its JSON output lines. */
function tsChild(ctx: BenchContext, file: string, args: unknown, onLine?: (o: Record<string, unknown>) => void): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ctx.root, 'bench', file), JSON.stringify(args)], {
      cwd: ctx.root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
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

function startSinkProcess(ctx: BenchContext, env: Record<string, string>): SinkProcess {
  const proc = spawn(process.execPath, [path.join(ctx.root, 'dist/cli/main.js'), 'sink'], {
    cwd: ctx.root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let onPort!: (p: number) => void;
  const port = new Promise<number>((r) => (onPort = r));
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.includes('sink ops endpoints listening')) onPort((JSON.parse(line) as { port: number }).port);
      if (line.includes('"level":50') || line.includes('"level":60')) ctx.log(`sink: ${line.slice(0, 300)}`);
    }
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, port, exited };
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
    // 1. Ceiling.
    const ceilings: CeilingResult[] = [];
    for (const format of ['tsv', 'json', 'tsv-without-sink-bookkeeping'] as const) {
      ctx.log(`ceiling: ${p.backlog} rows as ${format}`);
      const [r] = await tsChild(ctx, 'sink-ceiling.ts', { dir: path.join(ctx.workDir, `ceiling-${format}`), rows: p.backlog, batchRows: 100_000, format, seed: 11 });
      ceilings.push(r as unknown as CeilingResult);
    }
    const ceiling = ceilings[0]!;

    // 2. Backlog drain.
    const backlogEnv = sinkEnv('backlog');
    await admin.createTopics({ topics: [{ topic: backlogEnv.KAFKA_TOPIC_EVENTS!, numPartitions: PARTITIONS }] });
    ctx.log(`backlog: writing ${p.backlog} events`);
    const loaded = await tsChild(ctx, 'sink-load.ts', { brokers: ctx.brokers, topic: backlogEnv.KAFKA_TOPIC_EVENTS, count: p.backlog, seconds: 0, rate: 0, seed: 11 });
    const produceRate = Number(loaded.at(-1)?.rate ?? NaN);
    ctx.log('backlog: starting the sink');
    const drainSink = startSinkProcess(ctx, backlogEnv);
    const drainPort = await drainSink.port;
    // From the moment the sink is in the group (its /readyz) until it committed the last record.
    while ((await fetch(`http://127.0.0.1:${drainPort}/readyz`)).status !== 200) await sleep(20);
    const readyAt = performance.now();
    const drainCpu0 = { sink: cpuSeconds(drainSink.proc.pid!), broker: ctx.brokerPid ? cpuSeconds(ctx.brokerPid, true) : NaN };
    const rss: number[] = [];
    let heapMb = 0;
    let drainedBacklogAt = 0;
    for (let i = 0; ; i++) {
      if ((await lag(admin, backlogEnv.KAFKA_TOPIC_EVENTS!, backlogEnv.SINK_GROUP_ID!)) === 0) {
        drainedBacklogAt = performance.now();
        break;
      }
      if (i % 10 === 0) {
        rss.push(rssMb(drainSink.proc.pid!));
        heapMb = Math.max(heapMb, (await scrape(drainPort)).workerHeapMb);
      }
      await sleep(50);
    }
    const drainCpu = {
      sink: cpuSeconds(drainSink.proc.pid!) - drainCpu0.sink,
      broker: ctx.brokerPid ? cpuSeconds(ctx.brokerPid, true) - drainCpu0.broker : NaN,
    };
    const drained = await scrape(drainPort);
    rss.push(rssMb(drainSink.proc.pid!));
    heapMb = Math.max(heapMb, drained.workerHeapMb);
    await stopSinkProcess(drainSink);
    if (drained.rows !== p.backlog) throw new Error(`the sink inserted ${drained.rows} rows of a ${p.backlog}-event backlog`);
    const drainRowsPerS = Math.round(p.backlog / ((drainedBacklogAt - readyAt) / 1000));

    // 3. Live.
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
    let rowsAtStop = 0;
    let lagAtStop = 0;
    let stopAt = 0;
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
    stopAt = performance.now();
    lagAtStop = await lag(admin, liveEnv.KAFKA_TOPIC_EVENTS!, liveEnv.SINK_GROUP_ID!);
    rowsAtStop = (await scrape(livePort)).rows;
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
    const sinkRss = [...rss, ...samples.map((x) => x.rss_mb)].filter((x) => Number.isFinite(x));

    const liveRate = Math.round(total / liveSeconds);
    const drainSeconds = Number.isFinite(drainedAt) ? +((drainedAt - stopAt) / 1000).toFixed(2) : null;
    const results_ = {
      params: p,
      ceiling: Object.fromEntries(ceilings.map((c) => [c.format, c])),
      backlog: {
        events: p.backlog,
        produce_rate: produceRate,
        sink_rows_per_s: drainRowsPerS,
        ratio_to_ceiling: +(drainRowsPerS / ceiling.rows_per_s).toFixed(2),
        cpu_s_per_m_rows: { sink: perMillion(drainCpu.sink, p.backlog), broker: Number.isNaN(drainCpu.broker) ? null : perMillion(drainCpu.broker, p.backlog) },
      },
      live: {
        target_rate: p.rate,
        achieved_produce_rate: liveRate,
        events: total,
        rows_inserted: liveRows,
        sink_rows_per_s_during_load: Math.round(rowsAtStop / liveSeconds),
        lag_at_load_stop: lagAtStop,
        seconds_to_drain_after_load: drainSeconds,
        // From the sink's start to the lag's end: the broker's share includes the producers' writes.
        cpu_s_per_m_rows: { sink: perMillion(liveCpu.sink, liveRows), broker: Number.isNaN(liveCpu.broker) ? null : perMillion(liveCpu.broker, liveRows) },
        samples,
      },
      memory: { sink_rss_mb_min: Math.min(...sinkRss), sink_rss_mb_max: Math.max(...sinkRss), worker_heap_mb_max: heapMb },
    };
    const fmt = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US') : 'n/a');
    const markdown = [
      '## sink',
      '',
      '| measure | value |',
      '| --- | --- |',
      `| ceiling: bulk insert into chDB, TabSeparated, all views | ${fmt(ceiling.rows_per_s)} rows/s (${(ceiling.payload_bytes / ceiling.rows).toFixed(0)} B/row) |`,
      `| ceiling: same rows as JSONEachRow | ${fmt(ceilings[1]!.rows_per_s)} rows/s (${(ceilings[1]!.payload_bytes / ceilings[1]!.rows).toFixed(0)} B/row) |`,
      `| ceiling: TabSeparated without the sink's 2 bookkeeping views | ${fmt(ceilings[2]!.rows_per_s)} rows/s |`,
      `| sink, draining a backlog of ${fmt(p.backlog)} events | **${fmt(drainRowsPerS)} rows/s** (${results_.backlog.ratio_to_ceiling} of ceiling) |`,
      `| live: target / achieved produce rate (${p.producers} kafkajs generator${p.producers > 1 ? 's' : ''}) | ${fmt(p.rate)} / ${fmt(liveRate)} events/s for ${liveSeconds.toFixed(0)} s |`,
      `| live: sink rows/s while loading | ${fmt(results_.live.sink_rows_per_s_during_load)} |`,
      `| live: lag when load stopped | ${fmt(lagAtStop)} records |`,
      `| live: time for the lag to reach 0 after load stopped | ${drainSeconds === null ? 'not within 300 s' : `${drainSeconds} s`} |`,
      `| CPU s per M rows, backlog drain: sink / broker | ${results_.backlog.cpu_s_per_m_rows.sink} / ${results_.backlog.cpu_s_per_m_rows.broker ?? '-'} |`,
      `| CPU s per M rows, live (load and drain): sink / broker (broker includes the generators' writes) | ${results_.live.cpu_s_per_m_rows.sink} / ${results_.live.cpu_s_per_m_rows.broker ?? '-'} |`,
      `| sink process RSS (min-max over both runs) | ${results_.memory.sink_rss_mb_min}-${results_.memory.sink_rss_mb_max} MB |`,
      `| decode worker V8 heap (max) | ${heapMb} MB |`,
      '',
      `Ceiling and sink see the same generator's rows (Segment-style events, ~${Math.round(ceiling.payload_bytes / ceiling.rows)} B of TabSeparated each). ` +
        'The sink runs as its own process (`node dist/cli/main.js sink`, chDB in-process, defaults unless set), load generators are separate kafkajs processes (uncompressed, acks=all); ' +
        'lag is read from the broker (high watermark - committed offset). Per-second samples are in the JSON.',
      '',
    ].join('\n');
    return { name: 'sink', results: results_, markdown };
  } finally {
    await admin.disconnect();
  }
};
