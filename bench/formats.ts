// npm run bench -- formats: events/s durably acknowledged on each other vendor's endpoint, against
// Segment's /v1/batch on the same ingest process, in the same run, at the same batch size (100)
// and connections (32), with the same events in each vendor's wire form. /v1/batch is measured
// first and last, so drift during the run shows; two rounds in opposite orders, so no endpoint
// owes its figure to its slot. Target (issue #13): each endpoint within 10 % of
// /v1/batch.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { decodeRequest, formatRoute, Refused } from '../src/ingest/formats/index.js';
import { decodeUtf8 } from '../src/ingest/body.js';
import { parseEventJson } from '../src/ingest/jsontext.js';
import { emptyRecord, normalizeEvent, type NormalizeContext } from '../src/ingest/normalize.js';
import { RecordSlab } from '../src/ingest/slab.js';
import { EVENT_TIME, parseIsoTime } from '../src/common/isotime.js';
import { freePort } from '../src/localkafka/index.js';
import { EventCodec } from '../src/schema/index.js';
import { batchBodies } from './lib/events.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { median } from './lib/median.js';
import { sampled, startServer, waitForPort, type Sampled } from './lib/proc.js';
import { amplitudeEvent, bodies, mixpanelEvent, posthogCapture, snowplowEvent } from './lib/vendor-events.js';
import type { BenchContext, BenchSection } from './types.js';

const WRITE_KEY = 'bench-write-key';
const BASIC = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
const JSON_CT = { 'content-type': 'application/json' };
const BATCH = 100;
const CONNECTIONS = 32;
const WARM_PASSES = 3;

interface Endpoint {
  name: string;
  path: string;
  headers: Record<string, string>;
  bodies: string[];
}

/**
 * The edge's own work per event for one endpoint, in this process: read the body (Segment's with
 * the edge's scanner, src/ingest/jsontext.ts; another vendor's with decodeRequest, its decoding
 * and translation), normalize and Avro-encode every event, as the edge does
 * between the body and the producer. HTTP and Kafka are the same for every endpoint, so this is
 * where the formats can differ; rounds alternate between endpoints, and the median is kept, so
 * the machine's other load weighs on all of them alike.
 */
export function edgeMicrosPerEvent(endpoints: Endpoint[], rounds: number): { micros: number[]; recordBytes: number[] } {
  const codec = new EventCodec();
  const slab = new RecordSlab(codec);
  const rec = emptyRecord();
  const ctx: NormalizeContext = { receivedAt: 0, source: 'bench', sentAt: null, context: null, ip: '127.0.0.1' };
  const bufs = endpoints.map((e) => e.bodies.map((b) => Buffer.from(b)));
  let sink = 0;
  const recordBytes = endpoints.map(() => 0);
  const once = (e: Endpoint, bodies: Buffer[], i: number): number => {
    let events = 0;
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    for (const body of bodies) {
      ctx.receivedAt = Date.now();
      ctx.sentAt = null;
      ctx.msTimes = false;
      const q = e.path.indexOf('?');
      const route = formatRoute(q < 0 ? e.path : e.path.slice(0, q));
      let calls: unknown[];
      if (route === undefined) {
        // As the edge reads a Segment body (src/ingest/edge.ts): the scanner, JSON.parse only for what it leaves.
        const text = decodeUtf8(body);
        const obj = (parseEventJson(text) ?? JSON.parse(text)) as { batch: unknown[]; sentAt?: string };
        if (typeof obj.sentAt === 'string') ctx.sentAt = parseIsoTime(obj.sentAt, EVENT_TIME);
        calls = obj.batch;
      } else {
        calls = decodeRequest(route, body, q < 0 ? '' : e.path.slice(q + 1), 512_000, ctx.receivedAt).translation.calls;
        ctx.msTimes = true; // as the edge sets it for translated calls
      }
      for (const c of calls) {
        if (c instanceof Refused || normalizeEvent(c, null, ctx, rec) !== null) throw new Error(`${e.name}: an invalid bench event`);
        bytes += slab.encode(rec, 32_768)!.length;
        events++;
      }
    }
    const us = Number(process.hrtime.bigint() - t0) / 1000 / events;
    sink += bytes;
    recordBytes[i] = Math.round(bytes / events);
    return us;
  };
  const samples: number[][] = endpoints.map(() => []);
  for (let r = 0; r < rounds; r++) endpoints.forEach((e, i) => samples[i]!.push(once(e, bufs[i]!, i)));
  if (sink === 0) throw new Error('nothing encoded');
  return { micros: samples.map((xs) => Math.round(median(xs) * 100) / 100), recordBytes };
}

/** Every endpoint with `n` bodies of 100 events; Segment's /v1/batch first and last. */
export function benchEndpoints(n: number): Endpoint[] {
  const segment: Endpoint = { name: 'Segment /v1/batch', path: '/v1/batch', headers: { ...JSON_CT, ...BASIC }, bodies: batchBodies(n, BATCH) };
  const endpoints: Endpoint[] = [
    segment,
    { name: 'PostHog /batch (posthog-node)', path: '/batch/', headers: JSON_CT, bodies: bodies(n, BATCH, posthogCapture, (batch) => ({ api_key: WRITE_KEY, batch, sent_at: new Date().toISOString() })) },
    { name: 'PostHog /i/v0/e (token in properties)', path: '/i/v0/e/', headers: JSON_CT, bodies: bodies(n, BATCH, (i) => ({ ...posthogCapture(i), properties: { ...posthogCapture(i).properties, token: WRITE_KEY } }), (events) => events as never) },
    { name: 'Amplitude /2/httpapi', path: '/2/httpapi', headers: JSON_CT, bodies: bodies(n, BATCH, amplitudeEvent, (events) => ({ api_key: WRITE_KEY, events, client_upload_time: new Date().toISOString() })) },
    { name: 'Amplitude /batch', path: '/batch', headers: JSON_CT, bodies: bodies(n, BATCH, amplitudeEvent, (events) => ({ api_key: WRITE_KEY, events })) },
    { name: 'Mixpanel /track (JSON)', path: '/track', headers: JSON_CT, bodies: bodies(n, BATCH, (i) => mixpanelEvent(i, WRITE_KEY), (events) => events as never) },
    { name: 'Mixpanel /import (Basic auth)', path: '/import?strict=1', headers: { ...JSON_CT, ...BASIC }, bodies: bodies(n, BATCH, (i) => mixpanelEvent(i, WRITE_KEY), (events) => events as never) },
    {
      name: 'Snowplow tp2',
      path: '/com.snowplowanalytics.snowplow/tp2',
      headers: JSON_CT,
      bodies: bodies(n, BATCH, (i) => snowplowEvent(i, WRITE_KEY), (data) => ({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data })),
    },
    { ...segment, name: 'Segment /v1/batch (again, last)' },
  ];
  return endpoints;

}

interface EndpointResult {
  name: string;
  path: string;
  /** The mean of its two measured slots. */
  events_per_s: number;
  events_per_s_per_round: number[];
  vs_segment_batch: number;
  mean_body_bytes: number;
  latency_ms: LoadResult['latency_ms'];
  non_2xx: number;
  errors: number;
  cpu_cores: number;
  edge_us_per_event: number;
  edge_cost_vs_segment_batch: number;
  /** Avro bytes of one event's record (the Kafka value, before compression). */
  record_bytes: number;
  /** The ingest's CPU time per event acknowledged, under load (all its threads). */
  ingest_cpu_us_per_event: number;
  /** The broker's CPU time per event acknowledged (its process tree), when its pid is known. */
  broker_cpu_us_per_event: number | null;
}

/** Each latency figure at the worse of the runs. */
function worst(ls: LoadResult['latency_ms'][]): LoadResult['latency_ms'] {
  const out = { ...ls[0]! };
  for (const l of ls) for (const k of Object.keys(out) as (keyof typeof out)[]) out[k] = Math.max(out[k], l[k]);
  return out;
}

export async function run(ctx: BenchContext): Promise<BenchSection> {
  const durationS = ctx.quick ? 1 : 10;
  const warmS = ctx.quick ? 0.5 : 2;
  const n = ctx.quick ? 10 : 40;
  const threads = process.env.BENCH_INGEST_THREADS?.split(',')[0]?.trim() ?? '1';
  const endpoints = benchEndpoints(n);
  ctx.log('formats: edge CPU per event, in process');
  const { micros, recordBytes } = edgeMicrosPerEvent(endpoints, ctx.quick ? 3 : 15);
  const id = randomUUID().slice(0, 8);
  const port = await freePort();
  const ingest = startServer(process.execPath, [path.join(ctx.root, 'dist/cli/main.js'), 'ingest'], {
    KAFKA_BROKERS: ctx.brokers.join(','),
    KAFKA_TOPIC_EVENTS: `bench-${id}-formats.events`,
    KAFKA_TOPIC_REJECTED: `bench-${id}-formats.rejected`,
    KAFKA_TOPIC_DLQ: `bench-${id}-formats.dlq`,
    TRACKHOUSE_WRITE_KEYS: `${WRITE_KEY}:bench`,
    TRACKHOUSE_DATA_DIR: path.join(ctx.workDir, 'data'),
    INGEST_PORT: String(port),
    INGEST_THREADS: threads,
    LOG_LEVEL: 'warn',
  });
  const url = `http://127.0.0.1:${port}`;
  const measured: Omit<EndpointResult, 'vs_segment_batch' | 'edge_us_per_event' | 'edge_cost_vs_segment_batch' | 'record_bytes'>[] = [];
  const runs: Sampled<LoadResult>[][] = [];
  try {
    await waitForPort(port, ingest);
    // A fresh broker and server start slow: the JIT of both (measured, the first /v1/batch run took
    // 101 k events/s and the same run at the end 154 k), and the broker's C2 compiler works in
    // bursts for ~40 s after its start (per-thread CPU, docs/formats.md), which charged whichever
    // endpoint ran third ~0.4 µs of broker CPU per event more. So: a warm-up that passes over every
    // endpoint for ~WARM_PASSES x 9 x 1.5 s, not recorded, then two measured rounds, the second in
    // the reverse order, each endpoint's figures the mean of its two slots.
    ctx.log(`formats: warming the server and broker over every endpoint (${WARM_PASSES} passes)`);
    for (let pass = 0; pass < WARM_PASSES; pass++) {
      for (const e of endpoints) await runLoad({ url, path: e.path, bodies: e.bodies, headers: e.headers, connections: CONNECTIONS, durationS: ctx.quick ? 0.3 : 1.5 });
    }
    const order = endpoints.map((_, i) => i);
    for (const round of [order, [...order].reverse()]) {
      for (const i of round) {
        const e = endpoints[i]!;
        const base = { url, path: e.path, bodies: e.bodies, headers: e.headers, connections: CONNECTIONS };
        await runLoad({ ...base, durationS: warmS });
        ctx.log(`formats ${e.name}: max rate for ${durationS}s`);
        const r = await sampled(ingest.pid, () => runLoad({ ...base, durationS }), ctx.brokerPid);
        ctx.log(`formats ${e.name}: ${Math.round(r.result.ok_per_s * BATCH)} events/s`);
        (runs[i] ??= []).push(r);
      }
    }
    endpoints.forEach((e, i) => {
      const rs = runs[i]!;
      const events = rs.reduce((n, r) => n + r.result.ok * BATCH, 0);
      const brokerCpu = rs.every((r) => r.broker_cpu_s !== null) ? rs.reduce((n, r) => n + r.broker_cpu_s!, 0) : null;
      measured.push({
        name: e.name,
        path: e.path,
        events_per_s: Math.round(rs.reduce((n, r) => n + r.result.ok_per_s * BATCH, 0) / rs.length),
        events_per_s_per_round: rs.map((r) => Math.round(r.result.ok_per_s * BATCH)),
        mean_body_bytes: Math.round(e.bodies.reduce((n, b) => n + Buffer.byteLength(b), 0) / e.bodies.length),
        // The worse of the two slots.
        latency_ms: worst(rs.map((r) => r.result.latency_ms)),
        non_2xx: rs.reduce((n, r) => n + r.result.non_2xx, 0),
        errors: rs.reduce((n, r) => n + r.result.errors, 0),
        cpu_cores: Math.round((rs.reduce((n, r) => n + r.cpu_cores, 0) / rs.length) * 100) / 100,
        // Per event: what decides events/s once the ingest's thread is saturated (a record's size
        // weighs here, outside the in-process column: LZ4, produce requests, socket writes).
        ingest_cpu_us_per_event: Math.round((rs.reduce((n, r) => n + r.cpu_s, 0) / events) * 1e8) / 100,
        broker_cpu_us_per_event: brokerCpu === null ? null : Math.round((brokerCpu / events) * 1e8) / 100,
      });
    });
  } finally {
    const code = await ingest.stop();
    if (code !== 0 && code !== null) process.stderr.write(`[bench] ingest exited ${code}:\n${ingest.output().slice(-2000)}\n`);
  }
  const segmentRate = (measured[0]!.events_per_s + measured[measured.length - 1]!.events_per_s) / 2;
  const segmentMicros = (micros[0]! + micros[micros.length - 1]!) / 2;
  const rows: EndpointResult[] = measured.map((m, i) => ({
    ...m,
    vs_segment_batch: Math.round((m.events_per_s / segmentRate) * 100) / 100,
    edge_us_per_event: micros[i]!,
    edge_cost_vs_segment_batch: Math.round((micros[i]! / segmentMicros) * 100) / 100,
    record_bytes: recordBytes[i]!,
  }));
  const others = rows.slice(1, -1);
  const results = {
    config: { threads: Number(threads), duration_s: durationS, connections: CONNECTIONS, batch_size: BATCH },
    segment_batch_events_per_s: Math.round(segmentRate),
    endpoints: rows,
    targets: { each_within_10_percent_of_segment_batch: others.every((r) => r.vs_segment_batch >= 0.9) },
  };
  const md = [
    `## formats${ctx.quick ? ' (quick run)' : ''}`,
    '',
    `Each endpoint at ${BATCH}-event batches over ${CONNECTIONS} connections, ${durationS} s each in two rounds (the second in reverse order; figures are the mean of both slots, latency the worse), ` +
      `after a warm-up of ${WARM_PASSES} passes over every endpoint, one trackhouse ingest (INGEST_THREADS=${threads}), ` +
      'the same events in each wire form; events/s durably acknowledged (2xx only). "vs /v1/batch" divides by the mean of the first and last /v1/batch (each in both rounds). ' +
      '"edge µs/event": the edge\'s own work per event (the body read as the edge reads it: Segment\'s with its scanner, the others\' decoding and translation; normalize, Avro encode) in one process, median of alternating rounds; ' +
      '"edge cost" is its ratio to /v1/batch\'s; "record bytes": one event\'s Avro record; "ingest / broker CPU µs/event": CPU seconds of the ingest process and of the broker\'s process tree during the run, per event acknowledged.',
    '',
    '| endpoint | path | events/s (per round) | vs /v1/batch | edge µs/event | edge cost vs /v1/batch | ingest / broker CPU µs/event | record bytes | body bytes | p50 / p99 ms | CPU cores | non-2xx + errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.name} | \`${r.path}\` | ${r.events_per_s} (${r.events_per_s_per_round.join(' / ')}) | ${r.vs_segment_batch} | ${r.edge_us_per_event} | ${r.edge_cost_vs_segment_batch} | ${r.ingest_cpu_us_per_event} / ${r.broker_cpu_us_per_event ?? '-'} | ${r.record_bytes} | ${r.mean_body_bytes} | ${r.latency_ms.p50} / ${r.latency_ms.p99} | ${r.cpu_cores} | ${r.non_2xx + r.errors} |`,
    ),
    '',
    `Target: each endpoint within 10 % of /v1/batch: ${results.targets.each_within_10_percent_of_segment_batch ? 'met' : 'NOT met'}.`,
    '',
  ].join('\n');
  return { name: 'formats', results, markdown: md };
}
