import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventRecord } from '../../test/support/events.js';
import { rng } from '../../test/support/rng.js';
import { silentLogger } from '../common/log.js';
import { EVENT_TYPES, type EventType } from '../schema/index.js';
import { attachState, openState, type StateStore } from '../state/statestore.js';
import { ROW_HEADER, storedEvent } from './render.js';
import { ageHorizon, DAY_MS, ViewReader, ViewWriter, VIEW_DATABASES, widenedWindow, type ViewQuery } from './viewstore.js';

const T0 = Date.UTC(2026, 9, 1);
const NAMES = ['Clicked', 'Viewed', 'Bought', 'Ünïcode näme'];

interface Stored {
  user: string;
  ts: number;
  id: string;
  type: EventType;
  event: string | null;
  /** As the view stores it: header, then the reply JSON. */
  stored: Buffer;
  json: Buffer;
}

/** Users whose events have very different type mixes: the type= reads take both of their paths. */
function events(): Stored[] {
  const r = rng(7);
  const out: Stored[] = [];
  const users: [string, (x: number) => EventType, number][] = [
    // Mostly track: a type=track page is read from the events alone, a type=page page from by_type after a few rows.
    ['mostly-track', (x) => (x < 0.93 ? 'track' : x < 0.97 ? 'page' : 'identify'), 400],
    ['half-half', (x) => (x < 0.5 ? 'track' : 'screen'), 200],
    ['rare-kinds', (x) => EVENT_TYPES[Math.floor(x * EVENT_TYPES.length)]!, 150],
    ['few', () => 'track', 3],
    ['ünïcode üser', (x) => (x < 0.7 ? 'track' : 'group'), 60],
  ];
  let n = 0;
  for (const [user, typeOf, count] of users) {
    for (let i = 0; i < count; i++) {
      const type = typeOf(r());
      // Many events share a millisecond: the id orders them (by its UTF-8 bytes).
      const ts = T0 + Math.floor(r() * 40) * 60_000 + (r() < 0.3 ? 0 : Math.floor(r() * 3));
      const id = r() < 0.1 ? `é-${n}` : r() < 0.1 ? `x${'y'.repeat(Math.floor(r() * 500))}-${n}` : `e-${(n * 7919) % 100_000}`;
      const event = type === 'track' ? NAMES[Math.floor(r() * NAMES.length)]! : null;
      // One in fifty is a JSON of 64 KiB or more (a row without field offsets).
      const big = r() < 0.02;
      const rec = eventRecord({
        event_id: id,
        type,
        event,
        user_id: user,
        timestamp: ts,
        received_at: ts + 5,
        name: type === 'page' ? 'Home' : null,
        properties: big ? JSON.stringify({ pad: 'p'.repeat(70_000) }) : `{"i":${n}}`,
      });
      const stored = storedEvent(rec);
      // One in ten without field offsets in its header (as if too long for them): read all the same.
      if (r() < 0.1) stored.fill(0, 0, ROW_HEADER);
      out.push({ user, ts, id, type, event, stored, json: stored.subarray(ROW_HEADER) });
      n++;
    }
  }
  return out;
}

/** The API's order: timestamp DESC, then event_id DESC by its UTF-8 bytes. */
function newestFirst(a: Stored, b: Stored): number {
  return b.ts - a.ts || Buffer.compare(Buffer.from(b.id), Buffer.from(a.id));
}

describe('view reader', () => {
  let dir: string;
  let state: StateStore;
  let attached: StateStore;
  const reader = new ViewReader();
  const all = events();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'viewstore-'));
    state = await openState({ path: dir, databases: VIEW_DATABASES, identity: { t: 1 }, log: silentLogger() });
    const w = new ViewWriter(state);
    await state.write(() => {
      w.setHorizon(0);
      const seen = new Set<string>();
      for (const e of all) {
        // Same user, time and id: one event (the later copy replaces it, as in LMDB).
        const k = `${e.user}|${e.ts}|${e.id}`;
        if (seen.has(k)) continue;
        seen.add(k);
        w.put(e.user, e.ts, e.id, e.type, e.event, e.stored);
      }
    });
    attached = attachState({ path: dir, databases: VIEW_DATABASES, dbOptions: reader.dbOptions });
    reader.attach(attached);
  });
  afterAll(async () => {
    await attached?.close();
    await state?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What a page must hold: the user's events that match, newest first, at most `want`. */
  function expected(q: ViewQuery, want: number): Stored[] {
    const unique = new Map<string, Stored>();
    for (const e of all) if (e.user === q.userKey) unique.set(`${e.ts}|${e.id}`, e);
    return [...unique.values()]
      .filter(
        (e) =>
          (q.from === null || e.ts >= q.from) &&
          (q.to === null || e.ts < q.to) &&
          (q.type === null || e.type === q.type) &&
          (q.event === null || e.event === q.event) &&
          (q.cursor === null || e.ts < q.cursor.ts || (e.ts === q.cursor.ts && Buffer.compare(Buffer.from(e.id), Buffer.from(q.cursor.id)) < 0)),
      )
      .sort(newestFirst)
      .slice(0, want);
  }

  it('reads what the filters select, newest first, whichever key space serves the filter', () => {
    const r = rng(11);
    const users = [...new Set(all.map((e) => e.user))];
    let rows = 0;
    let typed = 0;
    for (let i = 0; i < 3000; i++) {
      const userKey = users[Math.floor(r() * users.length)]!;
      const mine = all.filter((e) => e.user === userKey);
      const pick = () => mine[Math.floor(r() * mine.length)]!;
      const x = r();
      const q: ViewQuery = {
        userKey,
        from: r() < 0.3 ? pick().ts : null,
        to: r() < 0.3 ? pick().ts + 1 : null,
        type: x < 0.6 ? EVENT_TYPES[Math.floor(r() * EVENT_TYPES.length)]! : null,
        event: r() < 0.2 ? NAMES[Math.floor(r() * NAMES.length)]! : null,
        cursor: r() < 0.4 ? { ts: pick().ts, id: pick().id } : null,
      };
      const want = 1 + Math.floor(r() * 60);
      const found = reader.rows(q, want, 0);
      const want_ = expected(q, want);
      const label = JSON.stringify({ q, want });
      expect(found.count, label).toBe(want_.length);
      for (let j = 0; j < found.count; j++) {
        expect(reader.time(j), label).toBe(want_[j]!.ts);
        expect(reader.id(j), label).toBe(want_[j]!.id);
        expect(reader.row(j).equals(want_[j]!.json), label).toBe(true);
      }
      // A page is whole here: the view holds all of these users' events (no user is marked).
      expect(found.complete).toBe(true);
      // The reply is the rows as they are, with the tail behind the first `limit`.
      const limit = Math.max(1, want - 1);
      const body = reader.reply(limit, Buffer.from('],"next_cursor":null}'));
      expect(JSON.parse(body.toString()).events.length).toBe(Math.min(limit, found.count));
      rows += found.count;
      if (q.type !== null && q.event === null) typed += found.count;
    }
    // The comparisons covered many rows, of type= reads too.
    expect(rows).toBeGreaterThan(20_000);
    expect(typed).toBeGreaterThan(3000);
  });

  it('reads a rare type of a user with a long history through the index, without missing a row', () => {
    // 4 % of mostly-track's 400 events are pages: the events range is left after a few rows.
    const q: ViewQuery = { userKey: 'mostly-track', from: null, to: null, type: 'page', event: null, cursor: null };
    const want = expected(q, 1000);
    expect(want.length).toBeGreaterThan(8);
    const found = reader.rows(q, 1000, 0);
    expect(found.count).toBe(want.length);
    for (let j = 0; j < found.count; j++) expect(reader.id(j)).toBe(want[j]!.id);
  });
});

describe('widenedWindow', () => {
  const now = Date.UTC(2026, 11, 6, 7, 30);
  const window = { days: 7, maxBytes: 1000 };

  it('asks for a rebuild when a raised setting reaches below the horizon the view holds', () => {
    const horizon = ageHorizon(7, now);
    expect(horizon).toBe(Date.UTC(2026, 10, 29));
    expect(widenedWindow(window, horizon, { days: 30, maxBytes: 1000 }, now)).toBe(
      'QUERY_VIEW_DAYS raised from 7 to 30: the view holds events from 2026-11-29T00:00:00.000Z on, so ' +
        'it is rebuilt to hold them from 2026-11-06T00:00:00.000Z (older pages come from ClickHouse meanwhile)',
    );
    // The budget had moved the horizon past the age: raising it may give the days back.
    expect(widenedWindow(window, horizon + 3 * DAY_MS, { days: 7, maxBytes: 5000 }, now)).toMatch(/^QUERY_VIEW_MAX_BYTES raised from 1000 to 5000: /);
  });

  it('keeps the view when nothing was raised, when the horizon already reaches the new days, or when nothing was recorded', () => {
    const horizon = ageHorizon(7, now);
    expect(widenedWindow(window, horizon, window, now)).toBeNull();
    expect(widenedWindow(window, horizon, { days: 3, maxBytes: 500 }, now)).toBeNull();
    expect(widenedWindow(window, horizon, { days: 7, maxBytes: 5000 }, now)).toBeNull();
    expect(widenedWindow(window, ageHorizon(30, now), { days: 30, maxBytes: 1000 }, now)).toBeNull();
    expect(widenedWindow(undefined, horizon, { days: 30, maxBytes: 1000 }, now)).toBeNull();
    expect(widenedWindow(window, undefined, { days: 30, maxBytes: 1000 }, now)).toBeNull();
  });
});
