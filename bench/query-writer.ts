// Child process of the query benchmark: the background writes. Produces W events per second to the
// events topic (every 50 ms a twentieth of them), for users drawn by activity (so the most read
// users are also the most written), with times after everything seeded: the view takes them in
// while it is being read.
//
//   node --import tsx bench/query-writer.ts '{"brokers":[...],"topic":"t","rate":2000,"users":U,"seed":S,"endMs":E}'
// prints {"written":N} on SIGTERM.
import { registerCompression } from '../src/kafka/compression.js';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { javaCompatiblePartitioner } from '../src/kafka/partitioner.js';
import { EventCodec } from '../src/schema/index.js';
import { EventGenerator, recordsOf } from './query-data.js';

const { CompressionTypes, Kafka, logLevel } = kafkajs();

interface Args {
  brokers: string[];
  topic: string;
  rate: number;
  users: number;
  seed: number;
  endMs: number;
}

const TICK_MS = 50;
const args = JSON.parse(process.argv[2]!) as Args;
registerCompression();
const codec = new EventCodec();
const kafka = new Kafka({ clientId: 'bench-query-writer', brokers: args.brokers, logLevel: logLevel.ERROR });
const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: javaCompatiblePartitioner });
await producer.connect();
// An hour of new events, newer than everything seeded.
const gen = new EventGenerator({ rows: Math.max(1, args.rate * 3600), users: args.users, days: 1 / 24, endMs: args.endMs + 3_600_000, seed: args.seed + 1 });
let written = 0;
let stopping = false;
let carry = 0;
const perTick = (args.rate * TICK_MS) / 1000;
const loop = (async () => {
  while (!stopping && !gen.done) {
    const next = performance.now() + TICK_MS;
    carry += perTick;
    const n = Math.floor(carry);
    carry -= n;
    if (n > 0) {
      const messages = recordsOf(gen.nextChunk(n).bytes).map((r) => ({ key: r.user_id ?? r.anonymous_id, value: codec.encode(r) }));
      await producer.send({ topic: args.topic, acks: -1, compression: CompressionTypes.LZ4, messages });
      written += messages.length;
    }
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
})();
process.stdout.write(`${JSON.stringify({ writing: args.rate })}\n`);
process.once('SIGTERM', () => {
  stopping = true;
  void loop.then(async () => {
    await producer.disconnect();
    process.stdout.write(`${JSON.stringify({ written })}\n`);
    process.exit(0);
  });
});
