// The import's reading thread: inputs -> items -> validated, encoded records, in chunks of whole
// items, posted to the main thread (which produces them and keeps the checkpoint, ./importer.ts).
//
// Why a thread: gunzip, the line scanner, normalizeEvent and Avro are ~60 % of the import's CPU and
// kafkajs's request encoding most of the rest; on one thread they add up, on two they overlap.
// Bounded: at most CHUNK_CREDITS chunks are posted ahead of the main thread taking them.
import { parentPort, workerData } from 'node:worker_threads';
import { TrackhouseError } from '../common/errors.js';
import { EventCodec } from '../schema/index.js';
import { ChunkEncoder } from './encoder.js';
import type { Refusal } from './formats.js';
import { openInput } from './inputs.js';
import { csvItems, jsonItems } from './items.js';
import type { FromReader, ReaderInit, ToReader } from './thread-messages.js';

const init = workerData as ReaderInit;
const port = parentPort!;
const post = (m: FromReader, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

const refused = new Map<string, Refusal>();
let go = false;
let credits = init.credits;
let stopped = false;
let wake: (() => void) | null = null;

port.on('message', (m: ToReader) => {
  if (m.type === 'go') {
    go = true;
    for (const [k, v] of m.refused) refused.set(k, v);
  } else if (m.type === 'credit') credits++;
  else if (m.type === 'stop') stopped = true;
  else if (m.type === 'erasure') {
    if (m.refused === null) refused.delete(m.userKey);
    else refused.set(m.userKey, m.refused);
  }
  const w = wake;
  wake = null;
  w?.();
});

const encoder = new ChunkEncoder(new EventCodec(), {
  rejectedTopic: init.rejectedTopic,
  maxEventBytes: init.maxEventBytes,
  source: init.source,
  csv: init.csv,
  mixpanelTimezone: init.mixpanelTimezone,
  mixpanelGroupKey: init.mixpanelGroupKey,
  refusesImport: (key) => (refused.size === 0 ? null : (refused.get(key) ?? null)),
});

async function send(input: number, end: number, complete: boolean, raw: number): Promise<void> {
  const c = encoder.take(input, end, complete, raw);
  post({ type: 'chunk', chunk: c }, [c.data, c.ends.buffer as ArrayBuffer, c.keyEnds.buffer as ArrayBuffer]);
  credits--;
  while (credits <= 0 && !stopped) await new Promise<void>((r) => (wake = r));
}

async function run(): Promise<void> {
  for (let j = 0; j < init.jobs.length; j++) {
    const job = init.jobs[j]!;
    if (stopped) break;
    const input = init.inputs[job.input]!;
    encoder.setInput(input.id, input.name);
    const opened = await openInput(input);
    const items = job.format === 'csv' ? csvItems(opened.stream, job.skip, init.csvDelimiter) : jsonItems(opened.stream, job.skip);
    // Started before Kafka was ready: nothing is encoded before the erasure list arrives.
    while (!go && !stopped) await new Promise<void>((r) => (wake = r));
    let end = job.skip;
    for await (const batch of items) {
      for (let k = 0; k < batch.length; k++) {
        const item = batch[k]!;
        encoder.item(job.format, item);
        end = item.pos + 1;
        if (encoder.bytes >= init.chunkBytes || encoder.records >= init.chunkRecords) await send(job.input, end, false, opened.rawBytes());
        if (stopped) break;
      }
      if (stopped) break;
    }
    // The input's last chunk (maybe empty) says how far it got and whether it is finished.
    await send(job.input, end, !stopped, opened.rawBytes());
  }
  post({ type: 'done' });
}

run().then(
  () => port.close(),
  (err: unknown) => {
    post({
      type: 'error',
      code: err instanceof TrackhouseError ? err.code : undefined,
      message: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    port.close();
  },
);
