import { afterEach, describe, expect, it } from 'vitest';
import { eventRecord, recordBatch } from '../../test/support/events.js';
import { viewStates } from '../../test/support/viewstate.js';
import { silentLogger } from '../common/log.js';
import { partitionForKey } from '../kafka/partitioner.js';
import type { ReadBatch } from '../kafka/reader.js';
import type { EventRecord } from '../schema/index.js';
import { ViewBuilder } from './builder.js';
import { TopicGrowth } from './growth.js';

const T0 = Date.UTC(2026, 9, 1);

const event = (id: string, user: string, receivedAt: number): EventRecord => eventRecord({ event_id: id, user_id: user, timestamp: T0, received_at: receivedAt });

/** One record keyed by its user, as ingest writes it. */
const batch = (partition: number, offset: number, e: EventRecord): ReadBatch => recordBatch(partition, offset, [e], true);

/** A user whose key hashes to another partition of `after` than of `before`. */
function movedUser(before: number, after: number, holds: (p: number) => boolean = () => true): string {
  for (let i = 0; ; i++) {
    const u = `user-${i}`;
    const from = partitionForKey(u, before);
    const to = partitionForKey(u, after);
    if (to >= before && holds(from) && holds(to)) return u;
  }
}

describe('the events topic growing while the view runs', () => {
  const states = viewStates('view-growth-');
  afterEach(() => states.closeAll());

  async function setUp(partitions: number[], count: number) {
    const state = await states.open();
    const builder = new ViewBuilder(state, { topic: 't', partitions, window: { events: 1000, ms: 0 }, log: silentLogger() });
    await state.write(() => builder.setHorizon(0));
    const grown: { partitions: readonly number[]; count: number }[] = [];
    const growth = new TopicGrowth({ topic: 't', partitions, partitionCount: count, state, builder, windowMs: 0, log: silentLogger(), onGrown: (p, c) => grown.push({ partitions: p, count: c }) });
    await growth.noteCount(count);
    return { state, builder, growth, grown };
  }

  /** The reader as it is right after a join: assigned `assigned` of a topic of `count` partitions; its end offsets come when told. */
  function joinedReader(assigned: number[], count: number) {
    let answer!: (ends: Map<string, Map<number, number>>) => void;
    let fail!: (err: Error) => void;
    const ends = new Promise<Map<string, Map<number, number>>>((resolve, reject) => {
      answer = resolve;
      fail = reject;
    });
    const reader = { assigned: () => new Map([['t', assigned]]), partitionCounts: () => new Map([['t', count]]), endOffsets: () => ends };
    return { reader, answer, fail };
  }

  it('drops a resend that is the first record of a new partition, applied before the end offsets of the join came', async () => {
    const { builder, growth, grown } = await setUp([0, 1], 2);
    const user = movedUser(2, 4);
    await builder.apply([batch(partitionForKey(user, 2), 0, event('e-1', user, T0))]);
    // The reader re-joined with the topic at 4 partitions: it fetches the new ones at once, while
    // the end offsets it was asked for are still on their way (a loaded broker or machine).
    const { reader, answer } = joinedReader([0, 1, 2, 3], 4);
    growth.joined(reader);
    await builder.apply([batch(partitionForKey(user, 4), 0, event('e-1', user, T0 + 5))]); // the client's resend
    await builder.flush();
    expect(builder.counts).toMatchObject({ applied: 1, resent: 1 });
    answer(new Map([['t', new Map([[0, 1], [1, 1], [2, 1], [3, 1]])]]));
    await new Promise((r) => setTimeout(r, 10));
    expect(growth.partitions).toEqual([0, 1, 2, 3]);
    expect(grown.at(-1)).toEqual({ partitions: [0, 1, 2, 3], count: 4 });
  });

  it("takes the topic's count from the join for a shard, also when the end offsets cannot be read", async () => {
    // Shard 0 of QUERY_SHARDS=2: partitions 0 and 2 of 4; the highest held says nothing of the count.
    const { builder, growth, grown } = await setUp([0], 2);
    const user = movedUser(2, 4, (p) => p % 2 === 0);
    await builder.apply([batch(partitionForKey(user, 2), 0, event('e-1', user, T0))]);
    const { reader, fail } = joinedReader([0, 2], 4);
    growth.joined(reader);
    fail(new Error('the broker did not answer'));
    await new Promise((r) => setTimeout(r, 10));
    await builder.apply([batch(partitionForKey(user, 4), 0, event('e-1', user, T0 + 5))]);
    await builder.flush();
    expect(builder.counts).toMatchObject({ applied: 1, resent: 1 });
    expect(growth.partitions).toEqual([0, 2]);
    expect(grown.at(-1)).toEqual({ partitions: [0, 2], count: 4 });
  });
});
