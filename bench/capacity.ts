// npm run capacity: the capacity model of docs/capacity.md, recomputed from the newest bench
// figures (bench/results/latest.json). It rewrites the part of docs/capacity.md between the
// capacity:begin / capacity:end markers and prints it.
//
// Every input is either measured here (a field of latest.json, named in the output) or assumed
// (a constant below, with its source). Components whose per-core figure is not in latest.json are
// reported as "not measured yet": a bench section publishes one as
//   results.capacity.<component> = { events_per_core_s: number, note?: string }
// (components read: query_view, alerts), and this script picks it up from any section.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const LATEST = path.join(root, 'bench/results/latest.json');
const DOC = path.join(root, 'docs/capacity.md');
const BEGIN = '<!-- capacity:begin (written by npm run capacity; edit bench/capacity.ts instead) -->';
const END = '<!-- capacity:end -->';

// ---- assumptions (each with its source) -------------------------------------------------------

export const ASSUMED = {
  /** Share of a core's time planned for steady load: N+1 headroom and room for bursts. */
  cpuUtilisation: { value: 0.6, source: 'planning choice: 40 % headroom so a zone or a pod can fail at peak' },
  /** Peak over daily average for "10 B events a day". */
  peakFactor: { value: 3, source: 'planning choice: web/app traffic peaks ~3x its daily mean (diurnal curve)' },
  /** Wire size / Avro size with LZ4 on real, varied events (the bench's repeated events compress ~8x). */
  lz4Ratio: { value: 2, source: 'assumption: LZ4 on JSON-heavy records, typically 2-3x; 2 is conservative' },
  kafkaReplication: { value: 3, source: 'trackhouse creates topics with min.insync.replicas=2 at 3 replicas (src/kafka/topics.ts)' },
  /** Produced (pre-replication) MB/s one broker carries at replication factor 3. */
  kafkaBrokerMBps: {
    value: 200,
    source:
      'Confluent, "Benchmarking Apache Kafka, Apache Pulsar, and RabbitMQ: Which is the Fastest?" (2020): 605 MB/s peak on 3 brokers ' +
      '(i3en.2xlarge: 8 vCPU, 2 x 2.5 TB NVMe), replication factor 3, i.e. ~200 MB/s of produced data per broker',
  },
  kafkaBrokerLoad: { value: 0.5, source: 'planning choice: brokers at half their peak, so one can fail and partitions move' },
  kafkaBrokerCores: { value: 8, source: 'as the Confluent benchmark brokers (8 vCPU)' },
  /** MB/s a partition is planned for (producer and consumer side). */
  partitionMBps: {
    value: 10,
    source: 'Jun Rao (Confluent), "How to choose the number of topics/partitions in a Kafka cluster?" (2015): tens of MB/s per partition; 10 taken',
  },
  kafkaRetentionDays: { value: 7, source: 'planning choice: a week of replay (events topic default is forever on a cluster: set retention, or tiered storage)' },
  kafkaDiskTB: { value: 7.68, source: 'a common NVMe size' },
  kafkaDisksPerBroker: { value: 4, source: 'planning choice: 4 NVMe per broker' },
  diskFill: { value: 0.7, source: 'planning choice: disks at most 70 % full' },
  chReplicas: { value: 2, source: 'ReplicatedMergeTree, 2 replicas per shard (replicas fetch parts; insert CPU is paid once per shard)' },
  chCoresPerReplica: { value: 32, source: 'planning choice: 32-core ClickHouse servers' },
  /** Share of a ClickHouse server's CPU planned for inserts (the rest: merges, materialized views' merges, queries). */
  chInsertShare: { value: 0.25, source: 'planning choice: inserts at most a quarter of a server, merges and queries the rest' },
  chDisksPerReplica: { value: 4, source: 'planning choice: 4 NVMe per ClickHouse server' },
  chDiskTB: { value: 7.68, source: 'a common NVMe size' },
  chRetentionDays: { value: 365, source: 'planning choice: a year of events in ClickHouse' },
  /** Cross-check of the measured insert rate. */
  chPublishedInsert: {
    value: '50-200 MB/s (50k-200k rows/s of ~1 KB) per INSERT stream, scaling linearly with parallel INSERTs',
    source: 'ClickHouse documentation, Introduction > Performance, "Performance When Inserting Data"',
  },
} as const;

/** Used only when latest.json predates the CPU-per-event fields (issue #16's own measurement). */
const ISSUE_16 = { batch: 5.9, single: 22.9, source: 'issue #16, wrk, one broker, INGEST_THREADS=1, this machine' };

// ---- measured inputs ---------------------------------------------------------------------------

interface Figure {
  value: number | null;
  source: string;
}

type Json = Record<string, unknown>;

function get(o: unknown, ...keys: string[]): unknown {
  let cur = o;
  for (const k of keys) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Json)[k];
  }
  return cur;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export interface Measured {
  ingestBatchCpu: Figure;
  ingestSingleCpu: Figure;
  brokerBatchCpu: Figure;
  brokerSingleCpu: Figure;
  recordBytes: Figure;
  sinkCpu: Figure;
  chRowsPerCore: Figure;
  chBytesPerRow: Figure;
  queryView: Figure;
  alerts: Figure;
}

/** CPU s per M events of the best (lowest) thread count at the maximum rate, with its run. */
function ingestCpu(ingest: unknown, shape: 'batch' | 'single', who: 'server' | 'broker'): Figure {
  const runs = (get(ingest, 'results', 'trackhouse') ?? {}) as Record<string, unknown>;
  let best: Figure = { value: null, source: '' };
  for (const [threads, r] of Object.entries(runs)) {
    const v = num(get(r, shape, 'max', 'cpu_s_per_m_events', who));
    if (v !== null && (best.value === null || v < best.value)) {
      best = { value: v, source: `latest.json ingest: trackhouse x${threads} ${shape}, max rate, ${who} CPU s per M events (run ${get(ingest, 'started')})` };
    }
  }
  return best;
}

export function measured(latest: unknown): Measured {
  const sections = (get(latest, 'sections') ?? {}) as Record<string, unknown>;
  const ingest = sections.ingest;
  const sink = sections.sink;
  const query = sections.query;

  let ingestBatchCpu = ingestCpu(ingest, 'batch', 'server');
  if (ingestBatchCpu.value === null) {
    // Older results: the batch run is the CPU-bound one, so its cores over its rate.
    const r = get(ingest, 'results', 'trackhouse', '1');
    const cores = num(get(r, 'cpu_cores'));
    const rate = num(get(r, 'batch', 'max', 'events_per_s'));
    ingestBatchCpu =
      cores !== null && rate !== null && rate > 0
        ? { value: round((cores / rate) * 1e6, 2), source: `latest.json ingest: x1 cpu_cores / batch events_per_s (run ${get(ingest, 'started')}, before per-event CPU was recorded)` }
        : { value: ISSUE_16.batch, source: ISSUE_16.source };
  }
  let ingestSingleCpu = ingestCpu(ingest, 'single', 'server');
  if (ingestSingleCpu.value === null) ingestSingleCpu = { value: ISSUE_16.single, source: ISSUE_16.source };

  const brokerBatchCpu = ingestCpu(ingest, 'batch', 'broker');
  const brokerSingleCpu = ingestCpu(ingest, 'single', 'broker');
  const rb = num(get(ingest, 'results', 'config', 'mean_record_bytes'));
  const recordBytes: Figure = rb !== null ? { value: rb, source: 'latest.json ingest: config.mean_record_bytes (Avro, framed)' } : { value: 460, source: 'default: 460 B Avro records' };

  let sinkCpu: Figure;
  const sinkPerM = num(get(sink, 'results', 'backlog', 'cpu_s_per_m_rows', 'sink'));
  if (sinkPerM !== null) sinkCpu = { value: sinkPerM, source: `latest.json sink: backlog drain, sink process CPU s per M rows, chDB insert included (run ${get(sink, 'started')})` };
  else {
    const rate = num(get(sink, 'results', 'backlog', 'sink_rows_per_s'));
    sinkCpu =
      rate !== null
        ? { value: round((2 / rate) * 1e6, 2), source: `latest.json sink: backlog ${rate} rows/s taken as using both cores (run ${get(sink, 'started')}, before per-row CPU was recorded)` }
        : { value: null, source: 'not measured yet' };
  }

  const ceiling = num(get(sink, 'results', 'ceiling', 'tsv', 'rows_per_s'));
  const chRowsPerCore: Figure =
    ceiling !== null
      ? { value: Math.round(ceiling / 2), source: `latest.json sink: chDB bulk insert ceiling ${ceiling} rows/s (TabSeparated, all views) on 2 cores, taken as both busy` }
      : { value: null, source: 'not measured yet' };
  // The query bench keeps its data set's figures under results.data (results.table before the view).
  const rows = num(get(query, 'results', 'data', 'rows')) ?? num(get(query, 'results', 'table', 'rows'));
  const disk = num(get(query, 'results', 'data', 'bytes_on_disk')) ?? num(get(query, 'results', 'table', 'bytes_on_disk'));
  const chBytesPerRow: Figure =
    rows !== null && disk !== null && rows > 0
      ? { value: Math.round(disk / rows), source: `latest.json query: ${rows} rows in ${Math.round(disk / 2 ** 20)} MiB on disk (events table, compressed)` }
      : { value: 150, source: 'default: 150 B per row on disk' };

  const published = (component: string): Figure => {
    for (const [name, s] of Object.entries(sections)) {
      const v = num(get(s, 'results', 'capacity', component, 'events_per_core_s'));
      if (v !== null) return { value: v, source: `latest.json ${name}: results.capacity.${component} (run ${get(s, 'started')})` };
    }
    return { value: null, source: 'not measured yet' };
  };

  return {
    ingestBatchCpu,
    ingestSingleCpu,
    brokerBatchCpu: brokerBatchCpu.value === null ? { value: null, source: 'not measured yet (latest.json predates broker CPU)' } : brokerBatchCpu,
    brokerSingleCpu: brokerSingleCpu.value === null ? { value: null, source: 'not measured yet (latest.json predates broker CPU)' } : brokerSingleCpu,
    recordBytes,
    sinkCpu,
    chRowsPerCore,
    chBytesPerRow,
    queryView: published('query_view'),
    alerts: published('alerts'),
  };
}

// ---- the model -----------------------------------------------------------------------------------

export interface Scenario {
  name: string;
  /** Events per second at peak. */
  events: number;
  /** HTTP requests per second at peak. */
  requests: number;
  shape: 'single' | 'batch';
  /** Events in a day (for storage). */
  perDay: number;
}

export const SCENARIOS: Scenario[] = [
  { name: '1 M requests/s of single events', events: 1e6, requests: 1e6, shape: 'single', perDay: (1e6 * 86_400) / ASSUMED.peakFactor.value },
  { name: '1 M events/s in 100-event batches', events: 1e6, requests: 1e4, shape: 'batch', perDay: (1e6 * 86_400) / ASSUMED.peakFactor.value },
  {
    name: '10 B events a day (peak 3x the mean, batched)',
    events: Math.ceil((10e9 / 86_400) * ASSUMED.peakFactor.value),
    requests: Math.ceil((10e9 / 86_400) * ASSUMED.peakFactor.value) / 100,
    shape: 'batch',
    perDay: 10e9,
  },
];

export interface Plan {
  scenario: Scenario;
  ingestCores: number;
  sinkCores: number | null;
  queryViewCores: number | null;
  alertsCores: number | null;
  kafkaIngressMBps: number;
  brokersByThroughput: number;
  brokersByCpu: number | null;
  brokersByDisk: number;
  brokers: number;
  partitions: number;
  kafkaDiskTB: number;
  kafkaDisks: number;
  chInsertCores: number | null;
  chShardsByInsert: number | null;
  chShardsByDisk: number;
  chShards: number;
  chReplicas: number;
  chDiskTB: number;
  chDisks: number;
}

const ceil = Math.ceil;

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function plan(s: Scenario, m: Measured): Plan {
  const A = ASSUMED;
  const util = A.cpuUtilisation.value;
  const perM = (cpu: number | null) => (cpu === null ? null : (s.events * cpu) / 1e6 / util);
  const perCore = (rate: number | null) => (rate === null ? null : s.events / rate / util);
  const ingestCpu = s.shape === 'single' ? m.ingestSingleCpu.value : m.ingestBatchCpu.value;
  const brokerCpu = s.shape === 'single' ? m.brokerSingleCpu.value : m.brokerBatchCpu.value;
  const rf = A.kafkaReplication.value;

  const ingressMBps = (s.events * m.recordBytes.value!) / A.lz4Ratio.value / 1e6;
  const brokersByThroughput = ceil(ingressMBps / (A.kafkaBrokerMBps.value * A.kafkaBrokerLoad.value));
  // Measured on one broker at replication factor 1; each further replica costs about as much again.
  const brokersByCpu = brokerCpu === null ? null : ceil((s.events * brokerCpu * rf) / 1e6 / (A.kafkaBrokerCores.value * util));
  const kafkaBytesPerDay = (s.perDay * m.recordBytes.value!) / A.lz4Ratio.value;
  const kafkaDiskTB = (kafkaBytesPerDay * rf * A.kafkaRetentionDays.value) / 1e12;
  const kafkaDisks = ceil(kafkaDiskTB / (A.kafkaDiskTB.value * A.diskFill.value));
  const brokersByDisk = ceil(kafkaDisks / A.kafkaDisksPerBroker.value);
  const brokers = Math.max(rf, brokersByThroughput, brokersByCpu ?? 0, brokersByDisk);
  const sinkCores = perM(m.sinkCpu.value);
  const sinkInstances = sinkCores === null ? 0 : ceil(sinkCores / 2);
  const byThroughput = ceil(ingressMBps / A.partitionMBps.value);
  // Enough for the throughput and for one partition per sink instance (2 cores each), a multiple of the brokers.
  const partitions = ceil(Math.max(byThroughput, sinkInstances, 12) / brokers) * brokers;

  const chInsertCores = m.chRowsPerCore.value === null ? null : s.events / m.chRowsPerCore.value;
  const chShardsByInsert = chInsertCores === null ? null : ceil(chInsertCores / (A.chCoresPerReplica.value * A.chInsertShare.value));
  const chDiskTB = (s.perDay * m.chBytesPerRow.value! * A.chRetentionDays.value * A.chReplicas.value) / 1e12;
  const chDisks = ceil(chDiskTB / (A.chDiskTB.value * A.diskFill.value));
  const chShardsByDisk = ceil(chDisks / (A.chDisksPerReplica.value * A.chReplicas.value));
  const chShards = Math.max(chShardsByInsert ?? 1, chShardsByDisk);
  return {
    scenario: s,
    ingestCores: perM(ingestCpu)!,
    sinkCores,
    queryViewCores: perCore(m.queryView.value),
    alertsCores: perCore(m.alerts.value),
    kafkaIngressMBps: ingressMBps,
    brokersByThroughput,
    brokersByCpu,
    brokersByDisk,
    brokers,
    partitions,
    kafkaDiskTB,
    kafkaDisks,
    chInsertCores,
    chShardsByInsert,
    chShardsByDisk,
    chShards,
    chReplicas: A.chReplicas.value,
    chDiskTB,
    chDisks,
  };
}

// ---- output --------------------------------------------------------------------------------------

function cell(x: number | null, digits = 0): string {
  return x === null ? 'not measured yet' : round(x, digits).toLocaleString('en-US');
}

export function render(m: Measured, plans: Plan[], latestStarted: string): string {
  const A = ASSUMED;
  const lines: string[] = [];
  lines.push(`Computed from \`bench/results/latest.json\` (ingest run ${latestStarted}). Cores are at ${A.cpuUtilisation.value * 100} % planned utilisation.`, '');
  lines.push('| | ' + plans.map((p) => p.scenario.name).join(' | ') + ' |');
  lines.push('| --- | ' + plans.map(() => '---').join(' | ') + ' |');
  const row = (label: string, f: (p: Plan) => string) => lines.push(`| ${label} | ${plans.map(f).join(' | ')} |`);
  row('peak events/s (HTTP requests/s)', (p) => `${cell(p.scenario.events)} (${cell(p.scenario.requests)})`);
  row('ingest cores', (p) => cell(p.ingestCores));
  row('sink cores (chDB insert included)', (p) => cell(p.sinkCores));
  row('query view cores (consuming the topic)', (p) => cell(p.queryViewCores));
  row('alerts cores', (p) => cell(p.alertsCores));
  row('Kafka produced MB/s (LZ4)', (p) => cell(p.kafkaIngressMBps));
  row(
    `Kafka brokers (by throughput / by measured CPU x RF ${A.kafkaReplication.value} / by disk)`,
    (p) => `**${p.brokers}** (${p.brokersByThroughput} / ${p.brokersByCpu ?? 'not measured yet'} / ${p.brokersByDisk})`,
  );
  row('partitions of trackhouse.events', (p) => cell(p.partitions));
  row(`Kafka disk, ${A.kafkaRetentionDays.value} days x RF ${A.kafkaReplication.value} (TB; ${A.kafkaDiskTB.value} TB disks)`, (p) => `${cell(p.kafkaDiskTB, 1)} (${p.kafkaDisks} disks)`);
  row('ClickHouse insert cores (one copy)', (p) => cell(p.chInsertCores));
  row(
    `ClickHouse shards x replicas (${A.chCoresPerReplica.value}-core servers; shards by insert CPU / by disk)`,
    (p) => `**${p.chShards} x ${p.chReplicas}** = ${p.chShards * p.chReplicas} servers (${p.chShardsByInsert ?? 'not measured yet'} / ${p.chShardsByDisk})`,
  );
  row(`ClickHouse disk, ${A.chRetentionDays.value} days x ${A.chReplicas.value} replicas (TB; ${A.chDiskTB.value} TB disks)`, (p) => `${cell(p.chDiskTB, 0)} (${p.chDisks} disks)`);
  lines.push('', 'Measured here (inputs):', '');
  lines.push('| input | value | from |', '| --- | --- | --- |');
  const inputs: [string, Figure, string][] = [
    ['ingest, batches: CPU s per M events', m.ingestBatchCpu, ''],
    ['ingest, single events: CPU s per M events', m.ingestSingleCpu, ''],
    ['broker (RF 1), batches: CPU s per M events', m.brokerBatchCpu, ''],
    ['broker (RF 1), single events: CPU s per M events', m.brokerSingleCpu, ''],
    ['record size (Avro, framed)', m.recordBytes, ' B'],
    ['sink: CPU s per M rows', m.sinkCpu, ''],
    ['ClickHouse engine insert, rows/s per core', m.chRowsPerCore, ''],
    ['ClickHouse bytes on disk per event', m.chBytesPerRow, ' B'],
    ['query view: events/s per core', m.queryView, ''],
    ['alerts: events/s per core', m.alerts, ''],
  ];
  for (const [label, f, unit] of inputs) lines.push(`| ${label} | ${f.value === null ? 'not measured yet' : `${f.value.toLocaleString('en-US')}${unit}`} | ${f.source} |`);
  lines.push('', 'Assumed (inputs not measured here):', '');
  lines.push('| assumption | value | source |', '| --- | --- | --- |');
  for (const [k, a] of Object.entries(A)) lines.push(`| ${k} | ${a.value} | ${a.source} |`);
  return lines.join('\n');
}

/** Recomputes the model from latest.json and rewrites docs/capacity.md's generated part; returns it. */
export function updateCapacityDoc(latestFile = LATEST, docFile = DOC): string {
  const latest = JSON.parse(readFileSync(latestFile, 'utf8')) as unknown;
  const m = measured(latest);
  const plans = SCENARIOS.map((s) => plan(s, m));
  const started = String(get(latest, 'sections', 'ingest', 'started') ?? 'unknown');
  const table = render(m, plans, started);
  const doc = readFileSync(docFile, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${docFile} has no ${BEGIN} ... ${END} markers`);
  writeFileSync(docFile, `${doc.slice(0, a + BEGIN.length)}\n${table}\n${doc.slice(b)}`);
  return table;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${updateCapacityDoc()}\n\nwrote ${path.relative(root, DOC)}\n`);
}
