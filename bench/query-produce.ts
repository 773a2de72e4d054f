// Child process of the query benchmark: writes the benchmark's events (bench/query-data.ts, the
// same events query-seed.ts inserts into ClickHouse) to the events topic, keyed by user as the
// edge keys them, LZ4-compressed as the edge sends them, so `trackhouse query` can build its view
// from Kafka. Several produce requests in flight; prints one JSON line when done.
//
//   node --import tsx bench/query-produce.ts '{"brokers":[...],"topic":"t","rows":N,"users":U,"seed":S,"endMs":E,"part":0,"parts":2}'
// With `parts` processes, process `part` sends every parts-th chunk of the same generated sequence.
import { registerCompression } from '../src/kafka/compression.js';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { javaCompatiblePartitioner } from '../src/kafka/partitioner.js';
import { EventCodec } from '../src/schema/index.js';
import { EventGenerator, recordsOf } from './query-data.js';

const { CompressionTypes, Kafka, logLevel } = kafkajs();

interface Args {
  brokers: string[];
  topic: string;
  rows: number;
  users: number;
  seed: number;
  endMs: number;
  part?: number;
  parts?: number;
}

const IN_FLIGHT = 4;

const args = JSON.parse(process.argv[2]!) as Args;
registerCompression();
const codec = new EventCodec();
const kafka = new Kafka({ clientId: 'bench-query-produce', brokers: args.brokers, logLevel: logLevel.ERROR });
const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: javaCompatiblePartitioner });
await producer.connect();
const gen = new EventGenerator({ rows: args.rows, users: args.users, days: 90, endMs: args.endMs, seed: args.seed });
const started = performance.now();
const inFlight = new Set<Promise<void>>();
let sent = 0;
const parts = args.parts ?? 1;
for (let chunk = 0; !gen.done; chunk++) {
  const bytes = gen.nextChunk(10_000).bytes;
  if (chunk % parts !== (args.part ?? 0)) continue;
  const messages = recordsOf(bytes).map((r) => ({ key: r.user_id ?? r.anonymous_id, value: codec.encode(r) }));
  const p = producer
    .send({ topic: args.topic, acks: -1, compression: CompressionTypes.LZ4, messages })
    .then(() => undefined)
    .finally(() => inFlight.delete(p));
  inFlight.add(p);
  sent += messages.length;
  if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  if (sent % 1_000_000 < 10_000) process.stderr.write(`[produce] ${sent} events, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}
await Promise.all(inFlight);
await producer.disconnect();
process.stdout.write(`${JSON.stringify({ produced: sent, seconds: Math.round((performance.now() - started) / 100) / 10 })}\n`);
