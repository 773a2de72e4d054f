import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';
import { silentLogger } from '../common/log.js';
import { createRegistry } from '../common/metrics.js';
import { blockIntent, readIntent, writeIntent, type IntentRange } from './intent.js';
import { createSinkMetrics } from './metrics.js';
import { repairInterruptedInsert } from './repair.js';
import type { SinkStore } from './sinkstore.js';

/** A store that records the repair's calls, with what the intent file said at each. */
function fakeStore(file: string, found: { rows: number; days: string[] }, failAt?: string) {
  const calls: { call: string; args: unknown[]; savedDays: readonly string[] | undefined }[] = [];
  const record = (call: string, ...args: unknown[]) => {
    const r = readIntent(file, 'fallback');
    calls.push({ call, args, savedDays: r.status === 'ok' || r.status === 'partial' ? r.intent.days : undefined });
    if (call === failAt) throw new Error(`injected: ${call} failed`);
  };
  const store = {
    async blockRows(topic: string, ranges: readonly IntentRange[]) {
      record('blockRows', topic, ranges);
      return found;
    },
    async deleteBlockRows(topic: string, ranges: readonly IntentRange[], events: boolean) {
      record('deleteBlockRows', topic, ranges, events);
    },
    async resetFloors(topic: string, ranges: readonly IntentRange[]) {
      record('resetFloors', topic, ranges);
    },
    async rebuildRollups(days: readonly string[]) {
      record('rebuildRollups', days);
    },
  };
  return { store: store as unknown as SinkStore, calls };
}

describe('repair of an insert cut short', () => {
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    dir = tempDir('th-partial-repair-');
    file = path.join(dir.path, 'insert-intent.json');
  });
  afterEach(() => dir.remove());
  const metrics = () => createSinkMetrics(createRegistry('sink', false));

  it('does nothing without an intent', async () => {
    const { store, calls } = fakeStore(file, { rows: 0, days: [] });
    expect(await repairInterruptedInsert(file, 't', store, silentLogger(), metrics())).toBeNull();
    expect(calls).toEqual([]);
  });

  it('saves the days before it deletes, then floors, rollups, and removes the intent', async () => {
    writeIntent(file, blockIntent('t', 'tok', new Map([[1, [10, 19]]])));
    const { store, calls } = fakeStore(file, { rows: 7, days: ['2026-10-30', '2026-11-02'] });
    const m = metrics();
    expect(await repairInterruptedInsert(file, 'other', store, silentLogger(), m)).toEqual({ rows: 7, days: ['2026-10-30', '2026-11-02'], ranges: [[1, 10, 19]] });
    expect(calls.map((c) => c.call)).toEqual(['blockRows', 'deleteBlockRows', 'resetFloors', 'rebuildRollups']);
    expect(calls[0]!.args).toEqual(['t', [[1, 10, 19]]]);
    expect(calls[1]!.savedDays).toEqual(['2026-10-30', '2026-11-02']);
    expect(calls[1]!.args[2]).toBe(true);
    expect(calls[3]!.args).toEqual([['2026-10-30', '2026-11-02']]);
    expect(existsSync(file)).toBe(false);
    expect((await m.repairedInserts.get()).values[0]!.value).toBe(1);
  });

  it('a repair that failed half-way leaves the intent with its days; the next one rebuilds them though the rows are gone', async () => {
    writeIntent(file, blockIntent('t', 'tok', new Map([[0, [5, 8]]])));
    const first = fakeStore(file, { rows: 4, days: ['2026-10-31'] }, 'resetFloors');
    await expect(repairInterruptedInsert(file, 't', first.store, silentLogger(), metrics())).rejects.toThrow(/undoing it failed: injected: resetFloors failed.*start the sink again/);
    const r = readIntent(file, 't');
    expect(r.status === 'ok' && r.intent.days).toEqual(['2026-10-31']);
    const second = fakeStore(file, { rows: 0, days: [] });
    expect(await repairInterruptedInsert(file, 't', second.store, silentLogger(), metrics())).toMatchObject({ rows: 0, days: ['2026-10-31'] });
    expect(second.calls.find((c) => c.call === 'deleteBlockRows')!.args[2]).toBe(false);
    expect(second.calls.find((c) => c.call === 'rebuildRollups')!.args).toEqual([['2026-10-31']]);
    expect(existsSync(file)).toBe(false);
  });

  it('an unreadable intent is moved aside and the start goes on', async () => {
    writeFileSync(file, 'not an intent');
    const { store, calls } = fakeStore(file, { rows: 0, days: [] });
    expect(await repairInterruptedInsert(file, 't', store, silentLogger(), metrics())).toBeNull();
    expect(calls).toEqual([]);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.unreadable`)).toBe(true);
  });
});
