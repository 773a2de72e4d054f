// The fast path must be byte for byte what kafkajs 2.2.4 itself produces and decodes: each
// replacement is compared with the original module, compiled fresh from kafkajs's own file.
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerCompression } from './compression.js';
import { decodeRecordV0, groupMessagesPerPartition, installKafkajsFastPath, produceRequestV3 } from './fastpath.js';

const require = createRequire(import.meta.url);

/** Loads kafkajs's original module from its file, bypassing the replacement in the cache. */
function original<T>(request: string): T {
  const filename = require.resolve(request);
  const m = new Module(filename) as Module & { _compile(src: string, file: string): void; paths: string[] };
  m.filename = filename;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(filename));
  m._compile(readFileSync(filename, 'utf8'), filename);
  return m.exports as T;
}

const Long = require('kafkajs/src/utils/long');
const Decoder = require('kafkajs/src/protocol/decoder');
const RecordEncoder = require('kafkajs/src/protocol/recordBatch/record/v0');

const unicode = fc.string({ unit: 'binary', maxLength: 12 });
// ASCII keys up to past the 64-char line where the encoder stops copying keys in JS.
const ascii = fc.string({ unit: 'binary-ascii', maxLength: 70 });
const latin1 = fc.string({ unit: fc.integer({ min: 0x60, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 20 });
const keyArb = fc.oneof(fc.constant(null), fc.constant(undefined), unicode, ascii, latin1, fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)));
const valueArb = fc.oneof(fc.constant(null), unicode, fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)));
const headerValue = fc.oneof(unicode, fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)));
const headersArb = fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(headerValue, fc.array(headerValue, { minLength: 1, maxLength: 3 }))), { nil: undefined });
const timestampArb = fc.option(fc.oneof(fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }).map(String)), { nil: undefined });
const messageArb = fc.record({ key: keyArb, value: valueArb, headers: headersArb, timestamp: timestampArb }, { requiredKeys: ['value'] });

/**
 * Elements read through Array.prototype[Symbol.iterator] (spreads, for...of over arrays) while the
 * synchronous `fn` runs: a count of the work of copying lists, where a clock would be noise.
 */
function iteratorSteps(fn: () => void): number {
  const proto = Array.prototype as unknown as { [Symbol.iterator]: (this: unknown[]) => Iterator<unknown> };
  const values = proto[Symbol.iterator];
  let steps = 0;
  proto[Symbol.iterator] = function (this: unknown[]) {
    const it = values.call(this);
    return {
      next() {
        steps++;
        return it.next();
      },
      [Symbol.iterator]() {
        return this;
      },
    } as IterableIterator<unknown>;
  };
  try {
    fn();
  } finally {
    proto[Symbol.iterator] = values;
  }
  return steps;
}

describe('kafkajs fast path', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is installed when kafkajs 2.2.4 is loaded through src/kafka/kafkajs.ts', () => {
    expect(installKafkajsFastPath().installed).toBe(true);
  });

  it('groups messages per partition exactly like kafkajs, in linear time', () => {
    const origGroup = original<typeof groupMessagesPerPartition>('kafkajs/src/producer/groupMessagesPerPartition.js');
    // Work, counted as elements read through the array iterator (kafkajs copies a partition's
    // list with a spread per message): doubling the messages doubles ours and quadruples theirs.
    const grouping = (group: typeof groupMessagesPerPartition, n: number) => {
      const messages = Array.from({ length: n }, (_, i) => ({ value: String(i), partition: i % 3 }));
      const args = { topic: 't', partitionMetadata: [0, 1, 2], messages, partitioner: ({ message }: { message: { partition?: number } }) => message.partition! };
      return iteratorSteps(() => group(args as never));
    };
    const ours = [grouping(groupMessagesPerPartition, 3_000), grouping(groupMessagesPerPartition, 6_000)];
    const theirs = [grouping(origGroup, 3_000), grouping(origGroup, 6_000)];
    expect(ours[1]! / ours[0]!).toBeLessThan(2.1);
    expect(ours[1]!).toBeLessThanOrEqual(6_001 * 2);
    expect(theirs[1]! / theirs[0]!).toBeGreaterThan(3.5);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 200 }), fc.integer({ min: 0, max: 6 }), (parts, n) => {
        const messages = parts.map((p, i) => ({ value: String(i), partition: p }));
        const args = { topic: 't', partitionMetadata: Array.from({ length: n }), messages, partitioner: ({ message }: { message: { partition?: number } }) => message.partition! };
        expect(groupMessagesPerPartition(args as never)).toEqual(origGroup(args as never));
      }),
    );
  });

  for (const [name, compression] of [['none', 0], ['gzip', 1], ['lz4', 3]] as const) {
    it(`encodes produce requests byte for byte as kafkajs does (compression ${name})`, async () => {
      registerCompression();
      const origRequest = original<(args: unknown) => { encode(): Promise<{ buffer: Buffer }> }>('kafkajs/src/protocol/requests/produce/v3/request.js');
      const fast = produceRequestV3();
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              topic: fc.string({ minLength: 1, maxLength: 10 }),
              partitions: fc.array(fc.record({ partition: fc.nat(20), firstSequence: fc.nat(1_000_000), messages: fc.array(messageArb, { minLength: 1, maxLength: 12 }) }), { minLength: 1, maxLength: 3 }),
            }),
            { minLength: 1, maxLength: 2 },
          ),
          fc.option(fc.string({ maxLength: 8 }), { nil: null }),
          fc.integer({ min: -1, max: 1 }),
          fc.bigInt({ min: -1n, max: 2n ** 62n }),
          async (topicData, transactionalId, acks, pid) => {
            vi.spyOn(Date, 'now').mockReturnValue(1_763_700_000_000);
            const args = { acks, timeout: 30_000, transactionalId, producerId: Long.fromValue(pid.toString()), producerEpoch: 3, compression, topicData };
            const a = (await origRequest(args).encode()).buffer;
            const b = (await fast(args as never).encode()).buffer;
            expect(b.equals(a)).toBe(true);
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('decodes records into the same objects as kafkajs, also for offsets beyond 2^53', () => {
    const origDecode = original<typeof decodeRecordV0>('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');
    fc.assert(
      fc.property(
        messageArb,
        fc.integer({ min: -5_000, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.oneof(fc.constant('0'), fc.constant('9007199254740990'), fc.constant('9223372036854775000'), fc.nat().map(String)),
        fc.oneof(fc.constant('1763700000000'), fc.constant('-1'), fc.constant('9007199254740991')),
        (m, timestampDelta, offsetDelta, firstOffset, firstTimestamp) => {
          // Header values must be strings or Buffers for kafkajs to encode them at all.
          const bytes = RecordEncoder({ ...m, offsetDelta, timestampDelta }).buffer as Buffer;
          const ctx = { firstOffset, firstTimestamp, magicByte: 2, isControlBatch: false, timestampType: 0, maxTimestamp: firstTimestamp };
          const d1 = new Decoder(bytes);
          d1.readVarInt();
          const d2 = new Decoder(bytes);
          d2.readVarInt();
          const want = origDecode(d1, ctx);
          const got = decodeRecordV0(d2, ctx);
          expect(got).toEqual(want);
          expect(d2.offset).toBe(d1.offset);
        },
      ),
      { numRuns: 500 },
    );
  });
});
