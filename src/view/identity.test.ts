import { describe, expect, it } from 'vitest';
import { keepsGrownView, shardPartitions, viewIdentity } from './view.js';

describe('keepsGrownView: a view built before the events topic gained partitions is kept', () => {
  const id = (count: number, shards = 1, index = 0, topic = 't', layout = 3) => viewIdentity(layout, topic, count, shardPartitions(count, shards, index));
  const stored = (count: number, shards = 1, index = 0, topic = 't', layout = 3) => ({ ...id(count, shards, index, topic, layout), store: 'lmdb-2' });

  it('keeps a state of fewer partitions of the same shard', () => {
    expect(keepsGrownView(stored(6), id(12), 1, 0)).toBe(true);
    expect(keepsGrownView(stored(6, 2, 1), id(12, 2, 1), 2, 1)).toBe(true);
  });

  it('wipes one of another shard, topic, layout, or more partitions', () => {
    expect(keepsGrownView(stored(6, 2, 0), id(12, 2, 1), 2, 1)).toBe(false);
    expect(keepsGrownView(stored(6, 1, 0), id(12, 2, 0), 2, 0)).toBe(false);
    expect(keepsGrownView(stored(6, 1, 0, 'other'), id(12), 1, 0)).toBe(false);
    expect(keepsGrownView(stored(6, 1, 0, 't', 2), id(12), 1, 0)).toBe(false);
    expect(keepsGrownView(stored(12), id(6), 1, 0)).toBe(false);
  });
});
