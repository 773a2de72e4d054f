// Child process of the sink benchmark: the load generator. Writes realistic Avro events to a
// topic with kafkajs, as fast as it can or at a target rate, keyed by user, acks=all. Events go
// out in produce requests of up to 20 batches of 100 (a broker handles one request per
// connection at a time, so one request per 100 events would cap the rate at a few 10k/s). Events are encoded once as templates; each send
// copies a template and writes a fresh event_id into it (same length, so the Avro stays valid),
// so the generator spends its CPU on Kafka, not on encoding.
//
//   node --import tsx bench/sink-load.ts '{"brokers":["127.0.0.1:9092"],"topic":"t","count":100000,"rate":0}'
// prints one JSON line per second ({"t":..., "acked":...}) and a final {"done":true,...}.
import { kafkajs } from '../src/kafka/kafkajs.js';

const { Kafka, logLevel } = kafkajs();
import { EventCodec, userKeyOf } from '../src/schema/index.js';
import { eventFactory } from './sink-events.js';

export interface LoadArgs {
  brokers: string[];
  topic: string;
  /** Events to write, or 0 to write for `seconds`. */
  count: number;
  seconds: number;
  /** Events per second; 0 = as fast as Kafka takes them. */
  rate: number;
  seed: number;
}

const BATCH = 100;
const PER_REQUEST = 20;
const IN_FLIGHT = 4;

async function main(args: LoadArgs): Promise<void> {
  const codec = new EventCodec();
  const factory = eventFactory(args.seed);
  const templates: { key: string; value: Buffer }[] = [];
  for (let i = 0; i < 20_000; i++) {
    const e = factory.next();
    templates.push({ key: userKeyOf(e), value: codec.encode(e) });
  }
  // event_id is the first field: 5-byte header, 1-byte length (36), then the 36 characters.
  const ID_AT = 6;
  const run = (Date.now() % 0xffffff).toString(16).padStart(6, '0');
  const kafka = new Kafka({ clientId: 'bench-load', brokers: args.brokers, logLevel: logLevel.ERROR });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let made = 0;
  let acked = 0;
  const started = Date.now();
  const deadline = args.count > 0 ? Infinity : started + args.seconds * 1000;
  const limit = args.count > 0 ? args.count : Infinity;
  const inFlight = new Set<Promise<void>>();
  const report = setInterval(() => process.stdout.write(`${JSON.stringify({ t: Date.now() - started, acked })}\n`), 1000);
  while (made < limit && Date.now() < deadline) {
    if (args.rate > 0) {
      const due = Math.floor(((Date.now() - started) / 1000) * args.rate);
      if (made >= due) {
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
    }
    const due = args.rate > 0 ? Math.floor(((Date.now() - started) / 1000) * args.rate) - made : Infinity;
    const n = Math.min(BATCH * PER_REQUEST, Math.max(BATCH, due), limit - made);
    const messages = new Array<{ key: string; value: Buffer }>(n);
    for (let i = 0; i < n; i++) {
      const t = templates[(made + i) % templates.length]!;
      const value = Buffer.from(t.value);
      value.write(`${run}${(made + i).toString(16).padStart(12, '0')}`, ID_AT + 18, 'latin1');
      messages[i] = { key: t.key, value };
    }
    made += n;
    const p = producer
      .send({ topic: args.topic, acks: -1, messages })
      .then(() => {
        acked += n;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  clearInterval(report);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ done: true, acked, seconds, rate: Math.round(acked / seconds) })}\n`);
  await producer.disconnect();
}

await main(JSON.parse(process.argv[2]!) as LoadArgs);
