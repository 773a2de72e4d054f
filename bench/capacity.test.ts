import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ASSUMED, measured, plan, SCENARIOS, updateCapacityDoc } from './capacity.js';
import { tempDir } from '../test/support/env.js';

/** latest.json as the bench now writes it (per-event CPU recorded). */
function latest(extra: Record<string, unknown> = {}) {
  const run = (single: number, batch: number, broker: number) => ({
    single: { max: { events_per_s: 40_000, cpu_s_per_m_events: { server: single, broker: broker * 10 } } },
    batch: { max: { events_per_s: 300_000, cpu_s_per_m_events: { server: batch, broker } } },
    cpu_cores: 1,
  });
  return {
    sections: {
      ingest: { started: 'T1', results: { config: { mean_record_bytes: 500 }, trackhouse: { '1': run(20, 5, 3), '2': run(25, 4, 3.5) } } },
      sink: { started: 'T2', results: { ceiling: { tsv: { rows_per_s: 100_000 } }, backlog: { sink_rows_per_s: 60_000, cpu_s_per_m_rows: { sink: 30, broker: 2 } } } },
      query: { started: 'T3', results: { table: { rows: 1_000_000, bytes_on_disk: 120_000_000 } } },
      ...extra,
    },
  };
}

describe('capacity model', () => {
  it('takes each per-event CPU figure from the best thread count, with the run it came from', () => {
    const m = measured(latest());
    expect(m.ingestSingleCpu.value).toBe(20);
    expect(m.ingestBatchCpu.value).toBe(4);
    expect(m.ingestBatchCpu.source).toMatch(/x2 batch/);
    expect(m.brokerBatchCpu.value).toBe(3);
    expect(m.sinkCpu.value).toBe(30);
    expect(m.chRowsPerCore.value).toBe(50_000);
    expect(m.chBytesPerRow.value).toBe(120);
    expect(m.recordBytes.value).toBe(500);
  });

  it('says "not measured yet" for the query view and alerts until a section publishes their per-core figure', () => {
    expect(measured(latest()).queryView).toEqual({ value: null, source: 'not measured yet' });
    const m = measured(latest({ view: { started: 'T4', results: { capacity: { query_view: { events_per_core_s: 50_000 } } } } }));
    expect(m.queryView.value).toBe(50_000);
    expect(m.queryView.source).toMatch(/latest\.json view/);
    expect(m.alerts.value).toBeNull();
    const p = plan(SCENARIOS[1]!, m);
    expect(p.queryViewCores).toBeCloseTo(1e6 / 50_000 / ASSUMED.cpuUtilisation.value);
    expect(p.alertsCores).toBeNull();
  });

  it('cores = events/s x CPU s per M / 10^6 / planned utilisation; brokers count replication', () => {
    const m = measured(latest());
    const single = plan(SCENARIOS[0]!, m);
    const batch = plan(SCENARIOS[1]!, m);
    const u = ASSUMED.cpuUtilisation.value;
    expect(single.ingestCores).toBeCloseTo(20 / u);
    expect(batch.ingestCores).toBeCloseTo(4 / u);
    expect(batch.sinkCores).toBeCloseTo(30 / u);
    expect(batch.brokersByCpu).toBe(Math.ceil((3 * ASSUMED.kafkaReplication.value) / (ASSUMED.kafkaBrokerCores.value * u)));
    expect(single.brokersByCpu!).toBeGreaterThan(batch.brokersByCpu!);
    expect(batch.brokers).toBeGreaterThanOrEqual(ASSUMED.kafkaReplication.value);
    expect(batch.partitions % batch.brokers).toBe(0);
    expect(batch.chShards).toBe(Math.max(batch.chShardsByInsert!, batch.chShardsByDisk));
  });

  it('falls back to older results and names the fallback', () => {
    const old = { sections: { ingest: { started: 'T0', results: { trackhouse: { '1': { cpu_cores: 1, batch: { max: { events_per_s: 200_000 } } } } } } } };
    const m = measured(old);
    expect(m.ingestBatchCpu.value).toBe(5);
    expect(m.ingestBatchCpu.source).toMatch(/before per-event CPU was recorded/);
    expect(m.ingestSingleCpu.source).toMatch(/issue #16/);
    expect(m.brokerBatchCpu.value).toBeNull();
  });

  it('rewrites only the generated part of docs/capacity.md', () => {
    const dir = tempDir('trackhouse-capacity-');
    try {
      const doc = path.join(dir.path, 'capacity.md');
      const json = path.join(dir.path, 'latest.json');
      copyFileSync('docs/capacity.md', doc);
      writeFileSync(json, JSON.stringify(latest()));
      updateCapacityDoc(json, doc);
      const text = readFileSync(doc, 'utf8');
      expect(text).toMatch(/## Multi-region layout/);
      expect(text).toMatch(/\| ingest cores \| 33 \| 7 \| 2 \|/);
      const again = updateCapacityDoc(json, doc);
      expect(readFileSync(doc, 'utf8')).toBe(text);
      expect(text).toContain(again);
    } finally {
      dir.remove();
    }
  });
});
