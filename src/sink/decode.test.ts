import { describe, expect, it } from 'vitest';
import type { FetchedMessage, PartitionBatch } from '../kafka/consumer.js';
import { decodeFetch } from './decode.js';
import type { DecodePool } from './pool.js';
import type { DecodeResult, DecodeTask } from './types.js';

/** Records the tasks it is given (the decoding itself is worker.test.ts's). */
function recordingPool(): DecodePool & { tasks: DecodeTask[] } {
  const tasks: DecodeTask[] = [];
  return {
    tasks,
    threads: 1,
    decode: async (task) => {
      tasks.push(task);
      return { rows: 0, failures: [] } as unknown as DecodeResult;
    },
    destroy: async () => {},
  };
}

const message = (offset: number, value: Buffer): FetchedMessage => ({ offset: String(offset), value, key: null, timestamp: '0', headers: {} }) as unknown as FetchedMessage;

const valuesOf = (t: DecodeTask) => Array.from(t.ends, (e, i) => Buffer.from(t.values.subarray(t.starts[i], e)).toString());

describe('decodeFetch', () => {
  it("hands each task's values over in a buffer of their own, whether they lie in one fetch buffer or not", async () => {
    // As kafkajs slices them: values in one response buffer, Kafka's framing between them.
    const response = Buffer.from('##alpha#bravo!!charlie##delta');
    const at = (s: string) => response.subarray(response.indexOf(s), response.indexOf(s) + s.length);
    const oneBuffer: PartitionBatch = { topic: 't', partition: 0, messages: ['alpha', 'bravo', 'charlie', 'delta'].map((s, i) => message(10 + i, at(s))) } as unknown as PartitionBatch;
    // Values from separate buffers (a decompressed batch each, say).
    const separate: PartitionBatch = { topic: 't', partition: 1, messages: ['echo', 'foxtrot'].map((s, i) => message(20 + i, Buffer.alloc(s.length, s))) } as unknown as PartitionBatch;
    const pool = recordingPool();
    await decodeFetch(pool, [oneBuffer, separate], () => ({ after: -1, before: Infinity }), { records: 100, bytes: 1 << 20 });
    expect(pool.tasks.map(valuesOf)).toEqual([
      ['alpha', 'bravo', 'charlie', 'delta'],
      ['echo', 'foxtrot'],
    ]);
    expect(pool.tasks.map((t) => [...t.offsets])).toEqual([
      [10, 11, 12, 13],
      [20, 21],
    ]);
    // The worker owns its copy: the fetch buffer can be reused.
    response.fill(0);
    expect(valuesOf(pool.tasks[0]!)).toEqual(['alpha', 'bravo', 'charlie', 'delta']);
  });
});
