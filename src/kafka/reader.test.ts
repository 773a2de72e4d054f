import { describe, expect, it } from 'vitest';
import { kafkajs } from './kafkajs.js';
import { selectingAssigner } from './reader.js';

describe('selectingAssigner', () => {
  it("assigns the selected partitions among those the topic has, and tells the topic's whole count", async () => {
    const counted = new Map<string, number>();
    const cluster = { findTopicPartitionMetadata: () => [3, 0, 2, 1].map((partitionId) => ({ partitionId })) };
    const assigner = selectingAssigner((_, p) => p % 2 === 0, (t, n) => counted.set(t, n))({ cluster } as never);
    const [first] = await assigner.assign({ members: [{ memberId: 'm' } as never], topics: ['events'] });
    const { AssignerProtocol } = kafkajs();
    expect(AssignerProtocol.MemberAssignment.decode(first!.memberAssignment)?.assignment).toEqual({ events: [0, 2] });
    expect(counted).toEqual(new Map([['events', 4]]));
  });
});
