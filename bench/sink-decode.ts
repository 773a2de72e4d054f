// node --import tsx bench/sink-decode.ts: the sink's decode worker in process, the byte way
// (src/sink/tsvrow.ts) against the string way (avsc + encodeTsvRow), on the sink bench's events in
// tasks of 4096 records as decode.ts cuts them, alternating; CPU µs per record (median of rounds).
// Arguments: rounds (12), then 'bytes' or 'string' to run one way only (for --cpu-prof).
import { EventCodec } from '../src/schema/index.js';
import type { DecodeTask } from '../src/sink/types.js';
import { decodeTask } from '../src/sink/worker.js';
import { median } from './lib/median.js';
import { eventFactory } from './sink-events.js';

const codec = new EventCodec();
const f = eventFactory(11, 100_000, Date.now());
const TASKS = 8;
const N = 4096;
const tasks: DecodeTask[] = [];
for (let t = 0; t < TASKS; t++) {
  const values = Array.from({ length: N }, () => codec.encode(f.next()));
  const starts = new Uint32Array(N);
  const ends = new Uint32Array(N);
  const parts: Buffer[] = [];
  let at = 0;
  values.forEach((v, i) => {
    // Kafka's record framing between values, as in a fetch buffer.
    parts.push(Buffer.alloc(20, 1), v);
    starts[i] = at += 20;
    ends[i] = at += v.length;
  });
  tasks.push({ topic: 'trackhouse.events', partition: 3, values: new Uint8Array(Buffer.concat(parts)), starts, ends, offsets: Float64Array.from(values, (_, i) => 1e6 + i) });
}

function round(bytes: boolean): number {
  const c = process.cpuUsage();
  for (const t of tasks) decodeTask(t, bytes);
  const u = process.cpuUsage(c);
  return (u.user + u.system) / (TASKS * N);
}

const rounds = Number(process.argv[2] ?? 12);
// A third argument 'bytes' or 'string' runs only that way (for --cpu-prof).
const only = process.argv[3];
if (only !== undefined) {
  for (let r = 0; r < rounds; r++) round(only === 'bytes');
  process.exit(0);
}
const str: number[] = [];
const byt: number[] = [];
for (let r = 0; r < 3; r++) (round(false), round(true)); // warm up both
for (let r = 0; r < rounds; r++) {
  str.push(round(false));
  byt.push(round(true));
}
console.log(JSON.stringify({ recordsPerRound: TASKS * N, stringUsPerRecord: median(str).toFixed(2), bytesUsPerRecord: median(byt).toFixed(2), ratio: (median(byt) / median(str)).toFixed(3), string: str.map((x) => +x.toFixed(2)), bytes: byt.map((x) => +x.toFixed(2)) }));
