// Kafka's own producer benchmark (org.apache.kafka.tools.ProducerPerformance, the Java client)
// as the ceiling for what this broker takes at a given record size.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureJars } from '../../src/localkafka/index.js';

export interface ProducerPerfResult {
  records: number;
  record_bytes: number;
  records_per_s: number;
  mb_per_s: number;
  latency_ms: { avg: number; max: number; p50: number; p95: number; p99: number; p99_9: number };
  props: string[];
}

export async function producerPerformance(o: {
  cacheDir: string;
  version: string;
  brokers: string[];
  topic: string;
  records: number;
  recordBytes: number;
  props: string[];
}): Promise<ProducerPerfResult> {
  const jars = await ensureJars(o.cacheDir, o.version, 'tools');
  const props = [`bootstrap.servers=${o.brokers.join(',')}`, ...o.props];
  const args = [
    '-Xmx512m',
    '-cp',
    `${path.join(jars, 'libs')}${path.sep}*`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    o.topic,
    '--num-records',
    String(o.records),
    '--record-size',
    String(o.recordBytes),
    '--throughput',
    '-1',
    '--producer-props',
    ...props,
  ];
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`ProducerPerformance exited ${code}:\n${out.slice(-3000)}`))));
  });
  // "N records sent, X records/sec (Y MB/sec), A ms avg latency, B ms max latency, P ms 50th, ..."
  const m =
    /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/.exec(
      text,
    );
  if (!m) throw new Error(`could not read ProducerPerformance's summary:\n${text.slice(-3000)}`);
  return {
    records: Number(m[1]),
    record_bytes: o.recordBytes,
    records_per_s: Number(m[2]),
    mb_per_s: Number(m[3]),
    latency_ms: { avg: Number(m[4]), max: Number(m[5]), p50: Number(m[6]), p95: Number(m[7]), p99: Number(m[8]), p99_9: Number(m[9]) },
    props: o.props,
  };
}
