import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventRecord, recordBatch } from '../../test/support/events.js';
import { rng } from '../../test/support/rng.js';
import { viewStates } from '../../test/support/viewstate.js';
import { silentLogger } from '../common/log.js';
import type { ReadBatch } from '../kafka/reader.js';
import { EVENT_TYPES, type EventRecord } from '../schema/index.js';
import type { StateStore } from '../state/statestore.js';
import { ViewBuilder, type BuilderOptions } from './builder.js';
import { BULK_META, clearUnfinishedBulk, interruptedBulk, putRunHeader, Runs, type BulkMark } from './bulk.js';
import { DAY_MS, VIEW_DATABASES } from './viewstore.js';

const T0 = Date.UTC(2026, 9, 1);
/** Nothing against resuming but the mark and the runs. */
const RESUMES = { erasedSince: false, bulkOn: true };

/**
 * Fetches of three partitions (each user on one, as the producer keys them) with what makes the
 * order hard: users whose keys share their first 12 bytes and more, short and non-ASCII ones, events
 * of one user in the same millisecond, resends within the window, copies of one (user, time, id)
 * beyond it with another type or name, events without a name, undecodable records, events older
 * than the horizon.
 */
function fetches(seed: number, events: number): ReadBatch[][] {
  const rnd = rng(seed);
  const users = [
    ...Array.from({ length: 30 }, (_, i) => `user-with-a-long-shared-prefix-${i % 3}-${i}`),
    ...Array.from({ length: 10 }, (_, i) => `u${i}`),
    'ü-ñ',
    'x'.repeat(300),
  ];
  const per: EventRecord[][] = [[], [], []];
  const sent: EventRecord[] = [];
  for (let i = 0; i < events; i++) {
    const u = Math.floor(rnd() * users.length);
    const partition = u % 3;
    let e: EventRecord;
    const roll = rnd();
    if (roll < 0.05 && sent.length > 0) {
      // A resend (maybe within the window) or a copy of an earlier identity with other fields.
      const earlier = sent[Math.floor(rnd() * sent.length)]!;
      e = { ...earlier, type: EVENT_TYPES[Math.floor(rnd() * EVENT_TYPES.length)]!, event: rnd() < 0.5 ? earlier.event : `Other ${i % 4}`, received_at: T0 + 40 * DAY_MS + i };
      per[users.indexOf(e.user_id!) % 3]!.push(e);
      continue;
    }
    const ts = roll < 0.08 ? T0 - 400 * DAY_MS : T0 + Math.floor(rnd() * 20) * 3_600_000 + (rnd() < 0.3 ? 0 : Math.floor(rnd() * 1000));
    e = eventRecord({
      event_id: rnd() < 0.02 ? 'x'.repeat(390 + Math.floor(rnd() * 20)) + String(i % 5) : `e-${i}`,
      user_id: users[u]!,
      timestamp: ts,
      received_at: T0 + 40 * DAY_MS + i,
      type: EVENT_TYPES[Math.floor(rnd() * EVENT_TYPES.length)]!,
      event: rnd() < 0.15 ? null : `Event ${Math.floor(rnd() * 6)}`,
    });
    sent.push(e);
    per[partition]!.push(e);
  }
  const out: ReadBatch[][] = [];
  const at = [0, 0, 0];
  // Fetches of 1-120 records per partition, partitions interleaved, one undecodable record here and there.
  while (at.some((a, p) => a < per[p]!.length)) {
    const fetch: ReadBatch[] = [];
    for (let p = 0; p < 3; p++) {
      const n = Math.min(per[p]!.length - at[p]!, 1 + Math.floor(rnd() * 120));
      if (n === 0) continue;
      const b = recordBatch(p, at[p]!, per[p]!.slice(at[p]!, at[p]! + n), true);
      if (rnd() < 0.2) (b.records[0] as { value: Buffer | null }).value = Buffer.from([0xff, 0x01]);
      fetch.push({ ...b, highWatermark: per[p]!.length });
      at[p]! += n;
    }
    out.push(fetch);
  }
  return out;
}

/** Every entry of every database and the offsets, as hex, for byte-for-byte comparison. */
function contents(state: StateStore): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of VIEW_DATABASES) {
    out[name] = [...state.db(name).getRange({ snapshot: false })].map(({ key, value }) => `${key.toString('hex')}=${value.toString('hex')}`);
  }
  out.offsets = [...state.offsets('t')].map(([p, n]) => `${p}:${n}`);
  // The offset each saved resend window reflects.
  out.windowsAt = [0, 1, 2].map((p) => JSON.stringify(state.getMeta(`window/${p}`) ?? null));
  return out;
}

/** Per database: the same entries, or the first that differs (a whole-state diff is too long to show). */
function expectSame(got: Record<string, string[]>, want: Record<string, string[]>): void {
  for (const name of Object.keys(want)) {
    const g = got[name]!;
    const w = want[name]!;
    const i = w.findIndex((x, j) => g[j] !== x);
    expect({ name, count: g.length, firstDifference: i < 0 ? null : { at: i, got: g[i], want: w[i] } }).toEqual({ name, count: w.length, firstDifference: null });
  }
}

describe('bulk build', () => {
  const states = viewStates('view-bulk-');
  afterEach(() => states.closeAll());
  const open = () => states.open();

  const options = (over: Partial<BuilderOptions> = {}): BuilderOptions => ({
    topic: 't',
    partitions: [0, 1, 2],
    // A small window, so copies of an identity beyond it are written twice (the later one wins).
    window: { events: 40, ms: 0 },
    log: silentLogger(),
    now: () => T0 + 41 * DAY_MS,
    recordsPerCommit: 100,
    catchUpRecords: 150,
    ...over,
  });

  async function build(state: StateStore, data: ReadBatch[][], bulk: boolean, over: Partial<BuilderOptions> = {}): Promise<ViewBuilder> {
    const b = new ViewBuilder(state, options(over));
    await state.write(() => b.setHorizon(T0 - 100 * DAY_MS));
    if (bulk) await b.startBulk(path.join(state.path, 'bulk'));
    for (const f of data) await b.apply(f);
    await b.flush();
    // Both states' resend windows saved at their ends (else each holds the snapshot of its own last save).
    await b.saveAll();
    return b;
  }

  it.each([
    ['many runs of many blocks, small merge transactions', 11, 3_000, { perTransaction: 37, blockBytes: 2_000 }],
    ['users with more index entries than it holds for sorting', 12, 2_000, { perTransaction: 500, userEntries: 7 }],
  ])('leaves the state the inserting build leaves, byte for byte: %s', async (_, seed, events, merge) => {
    const data = fetches(seed, events);
    const inserted = await open();
    const a = await build(inserted, data, false);
    const sorted = await open();
    const b = await build(sorted, data, true, { bulkMerge: merge });
    expect(b.counts).toEqual(a.counts);
    expect(a.counts.resent).toBeGreaterThan(0);
    expect(a.counts.beyondHorizon).toBeGreaterThan(0);
    expect(a.counts.invalid).toBeGreaterThan(0);
    const want = contents(inserted);
    expect(want.events!.length).toBeGreaterThan(events / 2);
    expectSame(contents(sorted), want);
    expect(sorted.getMeta(BULK_META)).toBeUndefined();
    expect(existsSync(path.join(sorted.path, 'bulk'))).toBe(false);
    expect(b.bulkPhase).toBeNull();
  });

  it('goes on inserting after the merge, as the inserting build would', async () => {
    const data = fetches(13, 2_400);
    const first = data.slice(0, Math.floor(data.length / 2));
    const rest = data.slice(first.length);
    const inserted = await open();
    const a = await build(inserted, data, false);
    const sorted = await open();
    const b = await build(sorted, first, true);
    for (const f of rest) await b.apply(f);
    await b.flush();
    await b.saveAll();
    expect(b.counts).toEqual(a.counts);
    expectSame(contents(sorted), contents(inserted));
  });

  /** Applies `data` to a builder on a state whose bulk build was paused or interrupted, resumed; then its end. */
  async function resume(state: StateStore, data: ReadBatch[][], resumed?: () => void): Promise<ViewBuilder> {
    expect(interruptedBulk(state, bulkDir(state), RESUMES)).toBeNull();
    const b = new ViewBuilder(state, options());
    await b.resumeBulk(bulkDir(state));
    expect(b.bulkPhase).toBe('runs');
    resumed?.();
    // Kafka delivers from the stored offsets on; the records before them come again here, as after a redelivery.
    for (const f of data) await b.apply(f);
    await b.flush();
    await b.saveAll();
    return b;
  }
  const bulkDir = (state: StateStore) => path.join(state.path, 'bulk');

  it('pauses at a stop before its merge, with a checkpoint; the next builder resumes it to the state the inserting build leaves', async () => {
    const data = fetches(14, 2_000);
    const inserted = await open();
    await build(inserted, data, false);
    const state = await open();
    const b = new ViewBuilder(state, options());
    await state.write(() => b.setHorizon(T0 - 100 * DAY_MS));
    await b.startBulk(bulkDir(state));
    for (const f of data.slice(0, Math.floor(data.length / 2))) await b.apply(f);
    await b.saveAll();
    // The checkpoint: every run, the offsets they reach, and nothing in the view yet.
    const mark = state.getMeta<BulkMark>(BULK_META)!;
    expect(mark.runs!.length).toBeGreaterThan(1);
    expect(readdirSync(bulkDir(state)).length).toBe(mark.runs!.length);
    expect(mark.events).toBeGreaterThan(0);
    expect([...state.offsets('t').values()].reduce((a, n) => a + n, 0)).toBe(b.counts.records);
    expect(state.db('events').getCount()).toBe(0);
    expect(state.db('days').getCount()).toBeGreaterThan(0);

    const r = await resume(state, data);
    expect(r.counts.redelivered).toBe(b.counts.records);
    expectSame(contents(state), contents(inserted));
    expect(state.getMeta(BULK_META)).toBeUndefined();
    expect(existsSync(bulkDir(state))).toBe(false);
  });

  it('resumes from its last checkpoint whatever a kill left after it: runs written later are dropped, a merge begun is emptied', async () => {
    const data = fetches(18, 2_000);
    const inserted = await open();
    await build(inserted, data, false);
    const state = await open();
    const b = new ViewBuilder(state, options({ bulkCheckpointMs: 0 }));
    await state.write(() => b.setHorizon(T0 - 100 * DAY_MS));
    await b.startBulk(bulkDir(state));
    for (const f of data.slice(0, Math.floor(data.length / 3))) await b.apply(f);
    await b.saveAll();
    const runs = state.getMeta<BulkMark>(BULK_META)!.runs!.length;
    // What a kill -9 can leave beyond the checkpoint: a run (whole or torn) and a merge's first entries.
    const later = `run-${String(runs).padStart(6, '0')}`;
    writeFileSync(path.join(bulkDir(state), later), Buffer.from([9, 9, 9]));
    await state.write(() => {
      void state.db('events').put(Buffer.from('stray'), Buffer.from('row'));
      void state.db('by_type').put(Buffer.from('stray'), Buffer.alloc(0));
    });

    await resume(state, data, () => {
      expect(readdirSync(bulkDir(state))).not.toContain(later);
      expect(state.db('events').getCount()).toBe(0);
      expect(state.db('by_type').getCount()).toBe(0);
    });
    expectSame(contents(state), contents(inserted));
  });

  it('says why a marked state cannot resume: no checkpoint yet, a run lost or of another size, users erased since, bulk builds turned off', async () => {
    const state = await open();
    const b = new ViewBuilder(state, options());
    await state.write(() => b.setHorizon(T0 - 100 * DAY_MS));
    await b.startBulk(bulkDir(state));
    expect(interruptedBulk(state, bulkDir(state), RESUMES)).toMatch(/bulk build \(started .*\) stopped before its first checkpoint/);
    for (const f of fetches(19, 1_000)) await b.apply(f);
    // The first run's checkpoint (committed before the runs after it were queued).
    expect(interruptedBulk(state, bulkDir(state), RESUMES)).toBeNull();
    expect(state.getMeta<BulkMark>(BULK_META)!.runs!.length).toBeGreaterThan(0);
    await b.saveAll();
    expect(interruptedBulk(state, bulkDir(state), RESUMES)).toBeNull();
    expect(interruptedBulk(state, bulkDir(state), { ...RESUMES, erasedSince: true })).toMatch(/users erased since/);
    expect(interruptedBulk(state, bulkDir(state), { ...RESUMES, bulkOn: false })).toMatch(/bulk builds are now off \(QUERY_VIEW_BULK_RECORDS=0\)/);
    writeFileSync(path.join(bulkDir(state), 'run-000000'), Buffer.from([1]), { flag: 'a' });
    expect(interruptedBulk(state, bulkDir(state), RESUMES)).toMatch(/lost run 0 of its checkpoint/);
  });

  it('clears what a bulk build that died in its merge left, its runs too, and builds again to the same state', async () => {
    const data = fetches(16, 2_000);
    const inserted = await open();
    await build(inserted, data, false);
    const state = await open();
    let commits = 0;
    const dying: ViewBuilder = new ViewBuilder(
      state,
      options({
        bulkMerge: { perTransaction: 100 },
        afterQueued: () => {
          if (dying.bulkPhase === 'merging' && ++commits === 3) throw new Error('the builder thread dies');
        },
      }),
    );
    await state.write(() => dying.setHorizon(T0 - 100 * DAY_MS));
    await dying.startBulk(bulkDir(state));
    for (const f of data) await dying.apply(f);
    await expect(dying.flush()).rejects.toThrow(/dies/);
    expect(state.db('events').getCount()).toBeGreaterThan(0);
    expect(state.offsets('t').size).toBeGreaterThan(0);

    // A run left behind (a thread that died while taking runs leaves them all): removed too.
    mkdirSync(bulkDir(state), { recursive: true });
    writeFileSync(path.join(bulkDir(state), 'run-000000'), 'left');
    expect(await clearUnfinishedBulk(state, 't', bulkDir(state))).toMatchObject({ attempt: 1 });
    expect(existsSync(bulkDir(state))).toBe(false);
    for (const name of ['events', 'by_type', 'by_event', 'days', 'windows']) expect(state.db(name).getCount()).toBe(0);
    expect(state.offsets('t').size).toBe(0);
    expect(state.getMeta(BULK_META)).toBeUndefined();
    const next = new ViewBuilder(state, options());
    await next.startBulk(bulkDir(state), 2);
    for (const f of data) await next.apply(f);
    await next.flush();
    await next.saveAll();
    expectSame(contents(state), contents(inserted));
  });

  it('stops its merge between two transactions at a stop, keeping its runs; the next builder merges them again to the same state', async () => {
    const data = fetches(17, 1_500);
    const inserted = await open();
    await build(inserted, data, false);
    const state = await open();
    let stopping: Promise<void> | null = null;
    // At the merge's first commit (the hook is also called after the first run's checkpoint).
    const b: ViewBuilder = new ViewBuilder(state, options({ bulkMerge: { perTransaction: 50 }, afterQueued: () => void (b.bulkPhase === 'merging' && (stopping ??= b.saveAll())) }));
    await state.write(() => b.setHorizon(T0 - 100 * DAY_MS));
    await b.startBulk(bulkDir(state));
    for (const f of data) await b.apply(f);
    await expect(b.flush()).rejects.toThrow(/stopped during its merge/);
    await stopping;
    const merged = state.db('events').getCount();
    expect(merged).toBeGreaterThan(0);
    expect(merged).toBeLessThan(b.counts.applied);
    // The checkpoint before the merge holds every run and the offsets at the topic's end.
    expect([...state.offsets('t').values()].reduce((a, n) => a + n, 0)).toBe(b.counts.records);
    expect(state.getMeta<BulkMark>(BULK_META)!.events).toBe(b.counts.applied);

    const r = await resume(state, data);
    expect(r.counts.applied).toBe(0);
    expectSame(contents(state), contents(inserted));
  });

  it('gives a written run\'s blocks to the next run, and the first run reads back as written', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'view-runs-'));
    try {
      const runs = new Runs(dir);
      // One record per block: an events key and a value, no index keys.
      const record = (key: string, value: string) => {
        const b = runs.alloc(64);
        const at = putRunHeader(b, 0, key.length, 0, 0, 0, value.length);
        b.write(key, at, 'latin1');
        b.write(value, at + key.length, 'latin1');
        return b.subarray(0, at + key.length + value.length);
      };
      const first = [record('a', 'one'), record('b', 'two')];
      const blocks = new Set(first.map((b) => b.buffer));
      await runs.write(first, 2);
      const second = [record('c', 'three'), record('d', 'four')];
      // The second run's records are in the first run's blocks, overwritten.
      expect(second.every((b) => blocks.has(b.buffer))).toBe(true);
      await runs.write(second, 2);
      const read = runs.open().map((c) => {
        const got: string[] = [];
        while (c.next()) got.push(c.chunk.toString('latin1', c.pk0, c.v1));
        return got;
      });
      expect(read).toEqual([['aone', 'btwo'], ['cthree', 'dfour']]);
      // Merging: no block is kept for runs any more.
      expect(runs.alloc(64).buffer).not.toBe(second[1]!.buffer);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes back only the blocks it made, and finds one of the size asked under a larger one', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'view-runs-'));
    try {
      const runs = new Runs(dir);
      // A record with a 1-byte key and no value, at the start of `b`.
      const record = (b: Buffer) => {
        const at = putRunHeader(b, 0, 1, 0, 0, 0, 0);
        b[at] = 0;
        return b.subarray(0, at + 1);
      };
      const block = runs.alloc(64);
      const larger = runs.alloc(128);
      const foreign = Buffer.alloc(64);
      await runs.write([record(block), record(larger), record(foreign)], 3);
      // The 64-byte block comes back although the larger one was given back after it.
      expect(runs.alloc(64).buffer).toBe(block.buffer);
      expect(runs.alloc(128).buffer).toBe(larger.buffer);
      // A buffer it did not make is never handed out (its memory may be shared).
      expect(runs.alloc(64).buffer).not.toBe(foreign.buffer);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a view that holds events', async () => {
    const state = await open();
    const data = fetches(15, 300);
    await build(state, data, false);
    const b = new ViewBuilder(state, options());
    await expect(b.startBulk(path.join(state.path, 'bulk'))).rejects.toThrow(/empty view/);
  });
});
