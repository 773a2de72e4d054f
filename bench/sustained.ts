// npm run bench -- sustained: the highest event rate the all-in-one keeps up with end to end
// (issue #16: at least 60k events/s for 5 minutes with the sink's lag under 5 s).
//
// Each step starts a fresh `trackhouse start` (default settings, its own topics and data dir) on
// the run's broker and sends 100-event batches at one steady rate for BENCH_SUSTAINED_SECONDS
// (300; quick: 15), while the sink group's lag is read from the broker every second. The lag in
// seconds is lag records / offered rate. A rate holds when the ingest acknowledges at least 98 %
// of it with no error answers, and the lag stays under 5 s the whole time. A step ends early once
// its lag passes 5 s (it cannot hold any more). Rates come from BENCH_SUSTAINED_RATES
// (60000,45000,30000,20000,15000,10000), tried in that order; the search stops at the first that
// holds. CPU seconds per million events are counted for the all-in-one's process tree (main
// process and ingest child) and the broker's.
import { kafkajs } from '../src/kafka/kafkajs.js';
import { startBenchAllInOne } from './lib/allinone.js';
import { cpuSeconds, perMillion } from './lib/cpu.js';
import { QUERY_NODE_ARGS } from './lib/proc.js';
import { batchBodies } from './lib/events.js';
import { groupLag } from './lib/lag.js';
import { runLoad, type LoadResult } from './lib/load.js';
import type { BenchContext, BenchSection } from './types.js';

const { Kafka, logLevel } = kafkajs();

const WRITE_KEY = 'bench-write-key';
const AUTH = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const BATCH = 100;
const LAG_LIMIT_S = 5;
const TARGET_EVENTS_PER_S = 60_000;
/** The load runs in slices this long, so a step that cannot hold ends early. */
const SLICE_S = 15;
const UNIQUE = '@@req@@';

interface Step {
  offered_events_per_s: number;
  ran_s: number;
  acked_events_per_s: number;
  non_2xx: number;
  errors: number;
  p99_ms: number;
  max_lag_s: number;
  lag_at_end_records: number;
  sink_rows_per_s: number;
  cpu_s_per_m_events: { allinone: number | null; broker: number | null };
  /** Lag in seconds every 5 s. */
  lag_timeline_s: number[];
  held: boolean;
  why_not: string | null;
}

function rates(quick: boolean): number[] {
  const raw = process.env.BENCH_SUSTAINED_RATES ?? (quick ? '10000,5000' : '60000,45000,30000,20000,15000,10000');
  return raw.split(',').map((r) => Number(r.trim())).filter((r) => Number.isFinite(r) && r > 0);
}

async function sinkRows(port: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('trackhouse_sink_rows_inserted_total'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  } catch {
    return 0;
  }
}

async function step(ctx: BenchContext, admin: ReturnType<InstanceType<typeof Kafka>['admin']>, rate: number, seconds: number): Promise<Step> {
  const { server, ports, topic, group } = await startBenchAllInOne(ctx, `bench-sustained-${rate}-${Date.now().toString(36)}`, { write: WRITE_KEY, read: 'bench-read-key' });
  try {
    // Every event new: each request's copy of a body gets its own number in the events' ids.
    const bodies = batchBodies(400, BATCH).map((b) => b.replace(/"messageId":"node-next-/g, `"messageId":"${UNIQUE}-`));
    const lags: number[] = [];
    let maxLagS = 0;
    let stopLoad = false;
    const sampler = setInterval(() => {
      void groupLag(admin, topic, group)
        .then((l) => {
          const s = l / rate;
          lags.push(s);
          maxLagS = Math.max(maxLagS, s);
          if (s > LAG_LIMIT_S) stopLoad = true;
        })
        .catch(() => {});
    }, 1_000);
    const rows0 = await sinkRows(ports.sink);
    const cpu0 = cpuSeconds(server.pid, true);
    const broker0 = ctx.brokerPid === undefined ? null : cpuSeconds(ctx.brokerPid, true);
    const t0 = performance.now();
    const slices: LoadResult[] = [];
    try {
      for (let left = seconds; left > 0 && !stopLoad; left -= SLICE_S) {
        const durationS = Math.min(SLICE_S, left);
        slices.push(
          await runLoad({ url: `http://127.0.0.1:${ports.ingest}`, path: '/v1/batch', bodies, headers: { authorization: AUTH, 'content-type': 'application/json' }, connections: 16, durationS, overallRate: rate / BATCH, uniqueSlot: UNIQUE }),
        );
      }
    } finally {
      clearInterval(sampler);
    }
    const ranS = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(server.pid, true) - cpu0;
    const brokerCpu = broker0 === null ? null : cpuSeconds(ctx.brokerPid!, true) - broker0;
    const rows = (await sinkRows(ports.sink)) - rows0;
    const lagEnd = await groupLag(admin, topic, group);
    const ok = slices.reduce((s, r) => s + r.ok, 0);
    const events = ok * BATCH;
    // Over the load's own seconds: each slice opens its connections again.
    const ackedPerS = Math.round(events / slices.reduce((s, r) => s + r.duration_s, 0));
    const non2xx = slices.reduce((s, r) => s + r.non_2xx, 0);
    const errors = slices.reduce((s, r) => s + r.errors, 0);
    const p99 = Math.max(...slices.map((r) => r.latency_ms.p99));
    const whyNot =
      maxLagS >= LAG_LIMIT_S
        ? `the sink's lag reached ${maxLagS.toFixed(1)} s`
        : non2xx + errors > 0
          ? `${non2xx} error answers, ${errors} failed requests`
          : ackedPerS < 0.98 * rate
            ? `the ingest acknowledged ${ackedPerS} events/s`
            : null;
    return {
      offered_events_per_s: rate,
      ran_s: Math.round(ranS * 10) / 10,
      acked_events_per_s: ackedPerS,
      non_2xx: non2xx,
      errors,
      p99_ms: p99,
      max_lag_s: Math.round(maxLagS * 100) / 100,
      lag_at_end_records: lagEnd,
      sink_rows_per_s: Math.round(rows / ranS),
      cpu_s_per_m_events: { allinone: perMillion(cpu, events), broker: brokerCpu === null ? null : perMillion(brokerCpu, events) },
      lag_timeline_s: lags.filter((_, i) => i % 5 === 4).map((s) => Math.round(s * 100) / 100),
      held: whyNot === null,
      why_not: whyNot,
    };
  } finally {
    const code = await server.stop();
    if (code !== 0) ctx.log(`trackhouse start exited with ${code}:\n${server.output().slice(-2000)}`);
  }
}

export async function run(ctx: BenchContext): Promise<BenchSection> {
  const seconds = Number(process.env.BENCH_SUSTAINED_SECONDS ?? (ctx.quick ? 15 : 300));
  const kafka = new Kafka({ clientId: 'bench-sustained', brokers: ctx.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const steps: Step[] = [];
  try {
    for (const rate of rates(ctx.quick)) {
      ctx.log(`${rate} events/s for up to ${seconds} s`);
      const s = await step(ctx, admin, rate, seconds);
      ctx.log(`${rate} events/s: ${s.held ? 'held' : `not held (${s.why_not})`}; acked ${s.acked_events_per_s}/s, max lag ${s.max_lag_s} s, sink ${s.sink_rows_per_s} rows/s`);
      steps.push(s);
      if (s.held) break;
    }
  } finally {
    await admin.disconnect();
  }
  const highest = steps.find((s) => s.held)?.offered_events_per_s ?? null;
  const results = {
    setup: 'trackhouse start (ingest child; sink, query view and stream with chDB in one process), default settings, the run broker',
    batch_events: BATCH,
    seconds_per_rate: seconds,
    lag_limit_s: LAG_LIMIT_S,
    steps,
    highest_rate_held: highest,
    target_events_per_s: TARGET_EVENTS_PER_S,
    meets_target: highest !== null && highest >= TARGET_EVENTS_PER_S && seconds >= 300,
  };
  const f = (n: number | null) => (n === null ? '-' : n.toLocaleString('en-US'));
  const markdown = [
    '## Sustained end to end: the all-in-one at a steady rate',
    '',
    '| offered events/s | ran s | acked events/s | p99 ms | max sink lag s | lag at end (records) | sink rows/s | CPU s per M events (all-in-one / broker) | held |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...steps.map(
      (s) =>
        `| ${f(s.offered_events_per_s)} | ${s.ran_s} | ${f(s.acked_events_per_s)} | ${s.p99_ms} | ${s.max_lag_s} | ${f(s.lag_at_end_records)} | ${f(s.sink_rows_per_s)} | ${s.cpu_s_per_m_events.allinone ?? '-'} / ${s.cpu_s_per_m_events.broker ?? '-'} | ${s.held ? 'yes' : `no: ${s.why_not}`} |`,
    ),
    '',
    `Each rate on a fresh \`trackhouse start\` (default settings: ingest child, and sink, query view and stream with chDB in one process; started with the node options \`${QUERY_NODE_ARGS.join(' ') || 'none'}\`) and fresh topics on the run's broker, 100-event batches over 16 connections (autocannon, in the bench process) for ${seconds} s, ended early once the sink's lag (broker: high watermark - committed offset, divided by the rate) passes ${LAG_LIMIT_S} s. Rates tried from the highest down; the first that holds ends the search. Highest rate held: ${highest === null ? 'none of those tried' : `${f(highest)} events/s`}. Target: ${f(TARGET_EVENTS_PER_S)} events/s for 300 s: ${results.meets_target ? 'met' : 'NOT met'}.`,
    '',
  ].join('\n');
  return { name: 'sustained', results, markdown };
}
