import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { javaCompatiblePartitioner, murmur2, partitionForKey } from './partitioner.js';

const require = createRequire(import.meta.url);
/** kafkajs's own murmur2 (a port of Java's), the reference. */
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

describe('Java-compatible partitioner', () => {
  it("hashes exactly like kafkajs's (and Java's) murmur2 for any key", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.uuid()), (key) => {
        expect(partitionForKey(key, 1 << 30)).toBe((kafkajsMurmur2(key) & 0x7fffffff) % (1 << 30));
        expect(murmur2(Buffer.from(key))).toBe(kafkajsMurmur2(Buffer.from(key)));
      }),
      { numRuns: 2000 },
    );
    // Known value from Kafka's own tests (Utils.murmur2 of "21"): -973932308.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
  });

  it('places keyed messages by hash, keeps explicit partitions, and spreads keyless ones', () => {
    const partitionMetadata = [0, 1, 2, 3, 4, 5].map((partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
    const pick = javaCompatiblePartitioner();
    const at = (message: { key?: string | Buffer | null; value: string; partition?: number }) => pick({ topic: 't', partitionMetadata, message });
    expect(at({ key: 'user-1', value: 'v' })).toBe(partitionForKey('user-1', 6));
    expect(at({ key: Buffer.from('user-1'), value: 'v' })).toBe(partitionForKey('user-1', 6));
    expect(at({ key: 'user-1', value: 'v', partition: 4 })).toBe(4);
    const keyless = new Set(Array.from({ length: 12 }, () => at({ key: null, value: 'v' })));
    expect(keyless.size).toBe(6);
  });
});

describe('shards across partitions added to the topic', () => {
  it('keeps every key on its shard when both counts are multiples of the shard count (QUERY_SHARDS), and not otherwise', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const shardOf = (k: string, count: number, shards: number) => partitionForKey(k, count) % shards;
    for (const [from, to, shards] of [[6, 12, 2], [6, 12, 3], [4, 6, 2], [6, 18, 6]] as const) {
      for (const k of keys) expect(shardOf(k, to, shards), `${k} ${from}->${to}/${shards}`).toBe(shardOf(k, from, shards));
    }
    expect(keys.some((k) => shardOf(k, 9, 2) !== shardOf(k, 6, 2))).toBe(true);
  });
});
