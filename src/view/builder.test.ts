import { afterEach, describe, expect, it } from 'vitest';
import { eventRecord, recordBatch } from '../../test/support/events.js';
import { viewStates } from '../../test/support/viewstate.js';
import { silentLogger } from '../common/log.js';
import type { ReadBatch } from '../kafka/reader.js';
import type { EventRecord } from '../schema/index.js';
import { attachState, type StateStore } from '../state/statestore.js';
import { ViewBuilder } from './builder.js';
import { DAY_MS, readHorizon, ViewReader, VIEW_DATABASES } from './viewstore.js';

const T0 = Date.UTC(2026, 9, 1);

const event = (i: number, user: string, ts: number, over: Partial<EventRecord> = {}): EventRecord =>
  eventRecord({ event_id: `e-${i}`, user_id: user, timestamp: ts, received_at: T0 + 30 * DAY_MS + i, ...over });

describe('view builder', () => {
  const states = viewStates('view-builder-');
  afterEach(() => states.closeAll());
  const open = () => states.open();

  /** A reader on the same environment, with its own handles (as the query API's thread has). */
  function readerOf(state: StateStore): ViewReader {
    const reader = new ViewReader();
    const attached = attachState({ path: state.path, databases: VIEW_DATABASES, dbOptions: reader.dbOptions });
    states.closeFirst(attached);
    return reader.attach(attached);
  }

  it('applies a redelivered fetch once, and drops a resend whose time differs, keeping the first', async () => {
    const state = await open();
    const b = new ViewBuilder(state, { topic: 't', partitions: [0], window: { events: 1000, ms: 0 }, log: silentLogger() });
    await state.write(() => b.setHorizon(0));
    const first = [event(1, 'u', T0), event(2, 'u', T0 + 1)];
    await b.apply([recordBatch(0, 0, first)]);
    await b.apply([recordBatch(0, 0, first)]); // the same records again (a re-join)
    await b.apply([recordBatch(0, 2, [event(1, 'u', T0 + 3)])]); // a client resend of e-1
    await b.flush();
    expect(b.counts).toMatchObject({ applied: 2, redelivered: 2, resent: 1 });
    expect(state.offsets('t')).toEqual(new Map([[0, 3]]));
    expect(b.writer.days.get(Math.floor(T0 / DAY_MS))?.events).toBe(2);
  });

  it('keeps recognizing resends after a kill, for a partition first read after the first commit', async () => {
    const state = await open();
    const opts = { topic: 't', partitions: [0, 1], window: { events: 1000, ms: 0 }, log: silentLogger(), now: () => T0 };
    const killed = new ViewBuilder(state, opts);
    await state.write(() => killed.setHorizon(0));
    await killed.apply([recordBatch(0, 0, [event(1, 'u', T0)])]);
    // Partition 1 first appears in a later commit, well within the window snapshot interval.
    await killed.apply([recordBatch(1, 0, [event(2, 'v', T0 + 1)])]);
    await killed.flush();
    // kill -9: no saveAll(). The next process's builder on the same state gets a resend of e-2.
    const next = new ViewBuilder(state, opts);
    await next.apply([recordBatch(1, 1, [event(2, 'v', T0 + 4)])]);
    await next.flush();
    expect(next.counts).toMatchObject({ applied: 0, resent: 1 });
    expect(state.offsets('t')).toEqual(new Map([[0, 1], [1, 2]]));
  });

  it('never lets a read take a page as complete without events it no longer serves, while the horizon moves', async () => {
    const state = await open();
    const reader = readerOf(state);
    const b = new ViewBuilder(state, { topic: 't', partitions: [0], window: { events: 1000, ms: 0 }, log: silentLogger() });
    await state.write(() => b.setHorizon(0));
    // Users with events on day 0 and day 10, and users with day 10 only.
    const events: EventRecord[] = [];
    for (let u = 0; u < 60; u++) {
      if (u % 2 === 0) events.push(event(events.length, `old-${u}`, T0 + u));
      events.push(event(events.length, u % 2 === 0 ? `old-${u}` : `new-${u}`, T0 + 10 * DAY_MS + u));
    }
    await b.apply([recordBatch(0, 0, events)]);
    await b.flush();
    // After every commit of the move: a user with an event older than the stored horizon is never
    // answered from the view alone (the page goes on in ClickHouse). Marking early only costs a query.
    const complete = (user: string, horizon: number) => reader.rows({ userKey: user, from: null, to: null, type: null, event: null, cursor: null }, 10, horizon).complete;
    const check = () => {
      const horizon = readHorizon(state.db('view_meta'))!;
      for (let u = 0; u < 60; u += 2) {
        if (T0 + u < horizon) expect(complete(`old-${u}`, horizon), `old-${u} with the horizon at ${new Date(horizon).toISOString()}`).toBe(false);
      }
    };
    const write = state.write.bind(state);
    let commits = 0;
    state.write = async (fn, topic, offsets) => {
      await write(fn, topic, offsets);
      commits++;
      check();
    };
    await b.moveHorizon(T0 + 5 * DAY_MS, 7, silentLogger());
    expect(commits).toBeGreaterThan(5);
    const horizon = readHorizon(state.db('view_meta'))!;
    expect(horizon).toBe(T0 + 5 * DAY_MS);
    // Users without older events are still answered from the view alone.
    for (let u = 1; u < 60; u += 2) expect(complete(`new-${u}`, horizon)).toBe(true);
    // The old events are gone, the new ones stay.
    expect(b.writer.days.has(Math.floor(T0 / DAY_MS))).toBe(false);
    expect(b.writer.days.get(Math.floor(T0 / DAY_MS) + 10)?.events).toBe(60);
  });

  /** A builder far behind a 1000-record topic (100 records a transaction when near its end), recording each transaction it queues. */
  async function catchingUp(bounds: { catchUpRecords?: number; catchUpBytes?: number }) {
    const state = await open();
    const queued: number[] = [];
    const b = new ViewBuilder(state, {
      topic: 't',
      partitions: [0],
      window: { events: 1000, ms: 0 },
      log: silentLogger(),
      recordsPerCommit: 100,
      ...bounds,
      afterQueued: (records) => queued.push(records),
    });
    await state.write(() => b.setHorizon(0));
    const events = Array.from({ length: 1000 }, (_, i) => event(i, `u${i % 7}`, T0 + i));
    return { state, b, queued, events };
  }

  it('while far behind the topic, gathers one transaction over several fetches, and commits what it gathered once near the end', async () => {
    const { state, b, queued, events } = await catchingUp({ catchUpRecords: 500 });
    const reader = readerOf(state);
    const fetch = (from: number, to: number) => ({ ...recordBatch(0, from, events.slice(from, to)), highWatermark: 1000 });
    // 950 records still to read: the first fetches are gathered, nothing is committed yet.
    await b.apply([fetch(0, 50)]);
    await b.apply([fetch(50, 300)]);
    expect(queued).toEqual([]);
    expect(state.offsets('t')).toEqual(new Map());
    // At 500 records gathered (parts of 100) the transaction goes; near the end, the rest goes too.
    await b.apply([fetch(300, 1000)]);
    await b.flush();
    expect(queued).toEqual([500, 1000]);
    expect(state.offsets('t')).toEqual(new Map([[0, 1000]]));
    const rows = reader.rows({ userKey: 'u3', from: null, to: null, type: null, event: null, cursor: null }, 1000, 0);
    expect(rows.count).toBe(events.filter((e) => e.user_id === 'u3').length);
  });

  it('queues a catching-up transaction once it holds its bytes bound, whatever its records', async () => {
    const { state, b, queued, events } = await catchingUp({ catchUpBytes: 1 });
    await b.apply([{ ...recordBatch(0, 0, events.slice(0, 50)), highWatermark: 1000 }]);
    await b.apply([{ ...recordBatch(0, 50, events.slice(50, 80)), highWatermark: 1000 }]);
    await b.flush();
    expect(queued).toEqual([50, 80]);
    expect(state.offsets('t')).toEqual(new Map([[0, 80]]));
  });

  it('times each commit, and ages it by the oldest Kafka timestamp among its records', async () => {
    const state = await open();
    const b = new ViewBuilder(state, { topic: 't', partitions: [0, 1], window: { events: 1000, ms: 0 }, log: silentLogger(), now: () => T0 });
    await state.write(() => b.setHorizon(0));
    const writtenAt = (rb: ReadBatch, ms: number): ReadBatch => ({ ...rb, records: rb.records.map((r) => ({ ...r, timestamp: String(ms) })) });
    // One fetch, two partitions: one transaction, as old as its older partition's record.
    await b.apply([writtenAt(recordBatch(0, 0, [event(1, 'u', T0)]), T0 - 250), writtenAt(recordBatch(1, 0, [event(2, 'v', T0)]), T0 - 4000)]);
    await b.flush();
    const t = b.takeTimings();
    expect(t).toHaveLength(2);
    expect(t[0]).toBeGreaterThanOrEqual(0);
    expect(t[1]).toBe(4);
    expect(b.takeTimings()).toEqual([]);
    await b.apply([writtenAt(recordBatch(0, 1, [event(3, 'u', T0)]), T0 + 60_000)]); // a producer clock ahead of this one
    await b.flush();
    expect(b.takeTimings()[1]).toBe(0);
  });
});
