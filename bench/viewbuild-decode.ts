// In-process bench of the view's decode step (src/view/decode.ts: Avro -> stored row and keys), the
// largest CPU item of a build's decode threads, on the query bench's events: µs per event, with a
// breakdown by stage measured in the same run (Avro decode alone, decode + render, the whole task).
//
//   node --import tsx bench/viewbuild-decode.ts [events=200000] [rounds=5]
import { decodeRecords, type DecodeTask } from '../src/view/decode.js';
import { EventCodec } from '../src/schema/index.js';
import { recordJson } from '../src/view/render.js';
import { EventGenerator, recordsOf } from './query-data.js';

const events = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const codec = new EventCodec();
const gen = new EventGenerator({ rows: events, users: Math.max(1000, events / 20), days: 90, endMs: Date.UTC(2026, 10, 1), seed: 42 });
const values: Uint8Array[] = [];
while (!gen.done) for (const r of recordsOf(gen.nextChunk(10_000).bytes)) values.push(codec.encode(r));
// Tasks of 40k records, as the builder cuts a fetch.
const tasks: DecodeTask[] = [];
for (let from = 0; from < values.length; from += 40_000) {
  const part = values.slice(from, from + 40_000);
  const bytes = part.reduce((a, v) => a + v.length, 0);
  const all = new Uint8Array(bytes);
  const ends = new Uint32Array(part.length);
  let at = 0;
  part.forEach((v, i) => {
    all.set(v, at);
    at += v.length;
    ends[i] = at;
  });
  tasks.push({ values: all, ends, empty: new Uint8Array(part.length) });
}
const avroBytes = values.reduce((a, v) => a + v.length, 0);
const time = (fn: () => void) => {
  const t = performance.now();
  fn();
  return ((performance.now() - t) * 1000) / values.length;
};
let sink = 0;
for (let r = 0; r < rounds; r++) {
  const avro = time(() => {
    for (const v of values) sink += codec.decode(v).timestamp;
  });
  const render = time(() => {
    for (const v of values) sink += recordJson(codec.decode(v)).length;
  });
  const whole = time(() => {
    for (const t of tasks) sink += decodeRecords(t).json.length;
  });
  console.log(JSON.stringify({ round: r, events: values.length, avroBytesPerEvent: Math.round(avroBytes / values.length), usPerEvent: { avroDecode: +avro.toFixed(2), decodeAndRender: +render.toFixed(2), decodeRecords: +whole.toFixed(2) } }));
}
if (sink === 42) console.log('');
// The string way alone (decodeRecords(task, false)), for the ratio.
for (let r = 0; r < rounds; r++) {
  const strings = time(() => {
    for (const t of tasks) sink += decodeRecords(t, false).json.length;
  });
  const bytes = time(() => {
    for (const t of tasks) sink += decodeRecords(t).json.length;
  });
  console.log(JSON.stringify({ round: r, usPerEvent: { stringWay: +strings.toFixed(2), byteWay: +bytes.toFixed(2) }, ratio: +(bytes / strings).toFixed(2) }));
}
