// Child process of the alerts benchmark: the read ceiling. A kafkajs consumer (with the project's
// fast path) reads every record of a topic and does nothing with it: what reading alone costs
// in Node, against which the stream processor's rate and CPU are set.
//
//   node --import tsx bench/alerts-ceiling.ts '{"brokers":[...],"topic":"t","count":1000000}'
// prints {"done":true,"records":N,"seconds":S,"cpu_seconds":C}.
import { readFileSync } from 'node:fs';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { registerCompression } from '../src/kafka/compression.js';

const args = JSON.parse(process.argv[2]!) as { brokers: string[]; topic: string; count: number };
registerCompression();
const cpu = (): number => {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const { Kafka, logLevel } = kafkajs();
const kafka = new Kafka({ clientId: 'bench-ceiling', brokers: args.brokers, logLevel: logLevel.ERROR });
const consumer = kafka.consumer({ groupId: `bench-ceiling-${Date.now()}`, maxBytes: 8 * 1024 * 1024, maxBytesPerPartition: 2 * 1024 * 1024, maxWaitTimeInMs: 100 });
await consumer.connect();
await consumer.subscribe({ topic: args.topic, fromBeginning: true });
let n = 0;
let t0 = 0;
let c0 = 0;
const done = new Promise<void>((resolve) => {
  void consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 64,
    eachBatch: async ({ batch }) => {
      if (t0 === 0) {
        t0 = performance.now();
        c0 = cpu();
      }
      n += batch.messages.length;
      if (n >= args.count) resolve();
    },
  });
});
await done;
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(`${JSON.stringify({ done: true, records: n, seconds, cpu_seconds: cpu() - c0 })}\n`);
await consumer.disconnect();
process.exit(0);
