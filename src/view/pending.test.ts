import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { rng } from '../../test/support/rng.js';
import { tempDir } from '../../test/support/env.js';
import { eventRecord, recordBatch } from '../../test/support/events.js';
import { silentLogger } from '../common/log.js';
import { EVENT_TYPES, type EventRecord } from '../schema/index.js';
import { attachState, openState, type StateStore } from '../state/statestore.js';
import { ViewBuilder, type BuilderOptions } from './builder.js';
import { PendingRows } from './pending.js';
import { DAY_MS, ViewReader, VIEW_DATABASES, type ViewQuery } from './viewstore.js';

const T0 = Date.UTC(2026, 9, 1);
const NAMES = ['Clicked', 'Viewed', 'Ünïcode näme'];
const USERS = ['a', 'b', 'ünï', 'c'.repeat(300), 'd'];

/** Random events of a few users: ties in time, ids reused across users, long ids, some older than the horizon. */
function events(r: () => number, from: number, n: number): EventRecord[] {
  const out: EventRecord[] = [];
  for (let i = from; i < from + n; i++) {
    const type = EVENT_TYPES[Math.floor(r() * EVENT_TYPES.length)]!;
    const x = r();
    out.push(
      eventRecord({
        event_id: x < 0.05 ? `x${'y'.repeat(420)}-${i}` : x < 0.1 ? `é-${i % 7}` : `e-${i}`,
        type,
        event: type === 'track' ? NAMES[Math.floor(r() * NAMES.length)]! : null,
        user_id: USERS[Math.floor(r() * USERS.length)]!,
        // A tenth older than the horizon (T0): ClickHouse's; many share a millisecond.
        timestamp: r() < 0.1 ? T0 - DAY_MS + i : T0 + Math.floor(r() * 50) * 1000 + (r() < 0.5 ? 0 : Math.floor(r() * 3)),
        received_at: T0 + 30 * DAY_MS + i,
        properties: `{"i":${i}}`,
      }),
    );
  }
  return out;
}

/** A builder of partition 0 publishing into `pending`, recording its commits in `committed`. */
function publishing(state: StateStore, pending: PendingRows, committed: number[], opts: Partial<BuilderOptions>): ViewBuilder {
  return new ViewBuilder(state, {
    topic: 't',
    partitions: [0],
    window: { events: 1000, ms: 0 },
    log: silentLogger(),
    onPending: (batch) => pending.add(batch),
    onCommitted: (seq) => committed.push(seq),
    ...opts,
  });
}

describe('pending events (applied, not committed yet)', () => {
  const states: StateStore[] = [];
  const dirs: { remove(): void }[] = [];
  afterEach(async () => {
    for (const s of states.splice(0)) await s.close();
    for (const d of dirs.splice(0)) d.remove();
  });

  async function view(pending?: PendingRows) {
    const t = tempDir('view-pending-');
    dirs.push(t);
    const dir = t.path;
    const state = await openState({ path: dir, databases: VIEW_DATABASES, identity: { t: 1 }, log: silentLogger() });
    const reader = new ViewReader();
    const attached = attachState({ path: dir, databases: VIEW_DATABASES, dbOptions: reader.dbOptions });
    states.push(attached, state);
    reader.attach(attached, pending);
    return { state, attached, reader };
  }

  it('serves every page as a view that committed each fetch does, byte for byte, before and after their commits', async () => {
    const pending = new PendingRows();
    const a = await view(pending);
    const b = await view();
    // Commits the query thread has not heard of yet: pending and LMDB then hold the same events.
    const unheard: number[] = [];
    const builderA = publishing(a.state, pending, unheard, { partitions: [0, 1], commitMs: 1e9 });
    const builderB = new ViewBuilder(b.state, { topic: 't', partitions: [0, 1], window: { events: 1000, ms: 0 }, log: silentLogger() });
    await a.state.write(() => builderA.setHorizon(T0));
    await b.state.write(() => builderB.setHorizon(T0));

    const r = rng(5);
    const offsets = [0, 0];
    let compared = 0;
    let fromPending = 0;
    let i = 0;
    for (let round = 0; round < 60; round++) {
      const p = round % 2;
      const evs = events(r, i, 5 + Math.floor(r() * 40));
      // Resends: a few events of earlier rounds again (the window drops them in both views).
      if (round > 0 && r() < 0.3) evs.push(...events(rng(round), Math.max(0, i - 30), 3));
      i += evs.length;
      const fetch = [recordBatch(p, offsets[p]!, evs)];
      offsets[p]! += evs.length;
      await builderA.apply(fetch);
      await builderB.apply(fetch);
      await builderB.flush();
      const x = r();
      if (x < 0.2) {
        await builderA.flush();
        // Heard at once, or only after the next round's reads.
        if (r() < 0.5) {
          a.attached.renewReads();
          for (const seq of unheard.splice(0)) pending.committed(seq);
        }
      } else if (x < 0.3 && unheard.length > 0) {
        a.attached.renewReads();
        for (const seq of unheard.splice(0)) pending.committed(seq);
      }
      if (pending.size > 0) fromPending++;
      a.attached.renewReads();
      b.attached.renewReads();
      for (let n = 0; n < 40; n++) {
        const q: ViewQuery = {
          userKey: USERS[Math.floor(r() * USERS.length)]!,
          from: r() < 0.3 ? T0 + Math.floor(r() * 50) * 1000 : null,
          to: r() < 0.3 ? T0 + Math.floor(r() * 50) * 1000 : null,
          type: r() < 0.4 ? EVENT_TYPES[Math.floor(r() * EVENT_TYPES.length)]! : null,
          event: r() < 0.2 ? NAMES[Math.floor(r() * NAMES.length)]! : null,
          cursor: r() < 0.3 ? { ts: T0 + Math.floor(r() * 50) * 1000 + Math.floor(r() * 3), id: `e-${Math.floor(r() * i)}` } : null,
        };
        const want = 1 + Math.floor(r() * 30);
        const label = JSON.stringify({ round, q, want });
        const fa = { ...a.reader.rows(q, want, T0) };
        const replyA = Buffer.from(a.reader.reply(want, ']}'));
        const headersA = Buffer.from(a.reader.rowHeaders.subarray(0, fa.count * 31));
        const fb = { ...b.reader.rows(q, want, T0) };
        const replyB = b.reader.reply(want, ']}');
        expect(fa, label).toEqual(fb);
        expect(replyA.toString(), label).toBe(replyB.toString());
        expect(headersA.equals(b.reader.rowHeaders.subarray(0, fb.count * 31)), label).toBe(true);
        for (let j = 0; j < fb.count; j++) expect(a.reader.time(j), label).toBe(b.reader.time(j));
        compared += fb.count;
      }
    }
    // The comparisons read many rows, and many of them while events were pending.
    expect(compared).toBeGreaterThan(5000);
    expect(fromPending).toBeGreaterThan(30);
    // Everything committed and heard: nothing is pending, and the pages are still the same.
    await builderA.flush();
    for (const seq of unheard.splice(0)) pending.committed(seq);
    expect(pending.size).toBe(0);
    expect(builderA.counts).toEqual(builderB.counts);
  });

  it('queues a transaction once it is due, from a fetch or from the timer, and never before', async () => {
    const pending = new PendingRows();
    const a = await view(pending);
    const committed: number[] = [];
    const builder = publishing(a.state, pending, committed, { commitMs: 50 });
    await a.state.write(() => builder.setHorizon(0));
    const r = rng(3);
    await builder.apply([recordBatch(0, 0, events(r, 0, 10))]);
    await builder.tick();
    // Readable at once, not committed: no offset stored yet.
    expect(pending.size).toBe(10);
    expect(committed).toEqual([]);
    expect(a.state.offsets('t').size).toBe(0);
    await sleep(60);
    await builder.tick();
    await builder.flush();
    expect(committed).toEqual([1]);
    expect(a.state.offsets('t')).toEqual(new Map([[0, 10]]));
    pending.committed(1);
    expect(pending.size).toBe(0);
  });

  it('queues by the timer only once the transaction before has committed', async () => {
    const pending = new PendingRows();
    const a = await view(pending);
    // Commits that take 60 ms, longer than the cadence.
    const slow: StateStore = { ...a.state, write: (fn, topic, offsets) => a.state.write(fn, topic, offsets).then(() => sleep(60)) };
    const committed: number[] = [];
    const builder = publishing(slow, pending, committed, { commitMs: 5 });
    await slow.write(() => builder.setHorizon(0));
    const r = rng(6);
    await builder.apply([recordBatch(0, 0, events(r, 0, 10))]);
    await sleep(10);
    await builder.tick(); // queues the first (due, nothing in flight)
    await builder.apply([recordBatch(0, 10, events(r, 10, 10))]);
    await sleep(10);
    await builder.tick(); // the first still commits: waits
    await builder.apply([recordBatch(0, 20, events(r, 20, 10))]); // due: queued here, after the first
    await builder.flush();
    expect(committed).toEqual([1, 2]);
    expect(a.state.offsets('t')).toEqual(new Map([[0, 30]]));
    // Every event applied is readable (a resend among the random ones is not applied).
    expect(builder.counts.applied).toBeGreaterThan(25);
    expect(pending.size).toBe(builder.counts.applied);
    for (const seq of committed) pending.committed(seq);
    expect(pending.size).toBe(0);
  });

  it('leaves a catching-up transaction to gather over fetches, however long it waits', async () => {
    const pending = new PendingRows();
    const a = await view(pending);
    const committed: number[] = [];
    const builder = publishing(a.state, pending, committed, { recordsPerCommit: 100, commitMs: 10 });
    await a.state.write(() => builder.setHorizon(0));
    // The topic holds far more than a transaction's worth beyond these fetches: the view is far behind.
    await builder.apply([{ ...recordBatch(0, 0, events(rng(4), 0, 50)), highWatermark: 10_000 }]);
    await sleep(30);
    await builder.tick();
    await builder.apply([{ ...recordBatch(0, 50, events(rng(5), 50, 30)), highWatermark: 10_000 }]);
    await builder.flush();
    // Both fetches in one transaction (the timer queued nothing), and nothing published: nobody
    // waits for a build's events.
    expect(committed).toEqual([1]);
    expect(pending.size).toBe(0);
    expect(a.state.offsets('t')).toEqual(new Map([[0, 80]]));
  });
});
