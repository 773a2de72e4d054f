import { describe, expect, it } from 'vitest';
import { silentLogger } from '../common/log.js';
import { createRegistry } from '../common/metrics.js';
import { DecodeError, InvalidEventError } from '../schema/index.js';
import { DEAD_LETTER_CODES } from './deadletter.js';
import type { OffsetsSource, TopicOffsets } from '../kafka/admin.js';
import { LagProbe } from './lag.js';
import { createSinkMetrics } from './metrics.js';

const offsets = (high: number[], committed: (number | null)[], low: number[] = high.map(() => 0)): TopicOffsets => ({
  watermarks: new Map(high.map((h, p) => [p, { low: low[p]!, high: h }])),
  committed: new Map(committed.flatMap((c, p) => (c === null ? [] : [[p, c] as [number, number]]))),
});

/** Lets promise callbacks already due run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A source whose reads the test answers one at a time. */
function scripted() {
  const pending: { resolve(o: TopicOffsets): void; reject(e: Error): void }[] = [];
  let reads = 0;
  const source: OffsetsSource = {
    read: () => {
      reads++;
      return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    },
    close: async () => {},
  };
  return { source, pending, reads: () => reads };
}

describe('consumer lag probe', () => {
  it('is high watermark minus committed offset for each owned partition, from the low watermark where nothing is committed', async () => {
    const s = scripted();
    const probe = new LagProbe(s.source, { maxAgeMs: 1_000, waitMs: 60_000 }, silentLogger());
    probe.assigned([0, 2, 3]);
    const lag = probe.lag();
    s.pending.shift()!.resolve(offsets([100, 50, 70, 40], [90, 50, null, -1], [0, 0, 10, 15]));
    expect(await lag).toEqual([
      [0, 10],
      [2, 60],
      [3, 25],
    ]);
  });

  it('reads the broker at most once per maxAgeMs, one read at a time', async () => {
    let now = 0;
    const s = scripted();
    const probe = new LagProbe(s.source, { maxAgeMs: 1_000, waitMs: 60_000, now: () => now }, silentLogger());
    probe.assigned([0]);
    const a = probe.lag();
    const b = probe.lag();
    expect(s.reads()).toBe(1);
    s.pending.shift()!.resolve(offsets([10], [4]));
    expect([await a, await b]).toEqual([[[0, 6]], [[0, 6]]]);
    now = 999;
    expect(await probe.lag()).toEqual([[0, 6]]);
    expect(s.reads()).toBe(1);
    now = 1_000;
    const c = probe.lag();
    expect(s.reads()).toBe(2);
    s.pending.shift()!.resolve(offsets([30], [4]));
    expect(await c).toEqual([[0, 26]]);
  });

  it('answers with the last values when a read does not come back in waitMs, and never rejects when reads fail', async () => {
    let now = 0;
    const s = scripted();
    const probe = new LagProbe(s.source, { maxAgeMs: 1_000, waitMs: 5, now: () => now }, silentLogger());
    probe.assigned([0]);
    // Nothing read yet and the broker silent: no value rather than a made-up one.
    expect(await probe.lag()).toEqual([]);
    s.pending.shift()!.resolve(offsets([8], [3]));
    await settled();
    expect(await probe.lag()).toEqual([[0, 5]]);
    now = 5_000;
    expect(await probe.lag()).toEqual([[0, 5]]); // the new read hangs: last values
    s.pending.shift()!.reject(new Error('broker gone'));
    await settled();
    now = 10_000;
    const d = probe.lag();
    s.pending.shift()!.reject(new Error('still gone'));
    expect(await d).toEqual([[0, 5]]);
  });

  it('reports nothing before an assignment or after close', async () => {
    const s = scripted();
    const probe = new LagProbe(s.source, { maxAgeMs: 1_000, waitMs: 60_000 }, silentLogger());
    expect(await probe.lag()).toEqual([]);
    probe.assigned([0]);
    await probe.close();
    expect(await probe.lag()).toEqual([]);
    expect(s.reads()).toBe(0);
  });
});

describe('sink metrics', () => {
  it('the lag gauge is collected at scrape time, one series per owned partition', async () => {
    const registry = createRegistry('sink', false);
    let lag: [number, number][] = [[1, 7]];
    createSinkMetrics(registry, async () => lag);
    expect(await registry.getSingleMetricAsString('trackhouse_sink_consumer_lag')).toContain('trackhouse_sink_consumer_lag{partition="1",component="sink"} 7');
    lag = [[0, 3]];
    const text = await registry.getSingleMetricAsString('trackhouse_sink_consumer_lag');
    expect(text.split('\n').filter((l) => !l.startsWith('#'))).toEqual(['trackhouse_sink_consumer_lag{partition="0",component="sink"} 3']);
  });

  it('a lag reader that rejects leaves the gauge empty instead of failing the scrape', async () => {
    const registry = createRegistry('sink', false);
    createSinkMetrics(registry, () => Promise.reject(new Error('boom')));
    await expect(registry.metrics()).resolves.toContain('# TYPE trackhouse_sink_consumer_lag gauge');
  });

  it('dead letters and skipped duplicates start at 0 for every code and reason', async () => {
    const registry = createRegistry('sink', false);
    createSinkMetrics(registry);
    const values = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.map((v) => [Object.values(v.labels)[0], v.value]);
    expect(await values('trackhouse_sink_dlq_records_total')).toEqual([
      ['RECORD_UNDECODABLE', 0],
      ['EVENT_OUT_OF_RANGE', 0],
      ['RECORD_EMPTY', 0],
    ]);
    expect(await values('trackhouse_sink_duplicates_skipped_total')).toEqual([
      ['redelivered', 0],
      ['resent', 0],
    ]);
  });

  it('the known dead-letter codes are the codes the decoder gives', () => {
    expect(DEAD_LETTER_CODES).toContain(new DecodeError('x').code);
    expect(DEAD_LETTER_CODES).toContain(new InvalidEventError('x').code);
  });
});
