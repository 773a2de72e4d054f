// The state's LMDB page size: a new file gets PAGE_SIZE pages whatever the OS page size, and a
// file created with other pages (an older build on a 64 KiB-page kernel) is opened as it is, kept.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../common/log.js';
import { identityChange, LMDB_FORMAT, openState, PAGE_SIZE, type StateStore } from './statestore.js';

// Every lmdb open() call's options, so the test can see what the store asked for: on a kernel with
// 4 KiB pages a file without the option would have 4096-byte pages too.
const opened = vi.hoisted(() => [] as { path?: string; pageSize?: number }[]);
vi.mock('lmdb', async (importOriginal) => {
  const real = await importOriginal<typeof import('lmdb')>();
  return { ...real, open: (o: Parameters<typeof real.open>[0]) => (opened.push(o as { path?: string; pageSize?: number }), real.open(o as never)) };
});

const DBS = ['data'] as const;
const TOPIC = 't.events';

/** The page size LMDB reads from the file at `dir`. */
async function filePageSize(dir: string): Promise<number> {
  const env = open({ path: dir });
  try {
    return (env.getStats() as { pageSize: number }).pageSize;
  } finally {
    await env.close();
  }
}

describe('state page size', () => {
  let dir: string;
  let state: StateStore | undefined;

  beforeEach(() => {
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'statestore-')), 'state');
  });
  afterEach(async () => {
    await state?.close();
    state = undefined;
    rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  const openIt = () => openState({ path: dir, databases: DBS, identity: { layout: 1 }, log: silentLogger() });

  it('creates the file with 4096-byte pages', async () => {
    state = await openIt();
    await state.close();
    state = undefined;
    expect(PAGE_SIZE).toBe(4096);
    expect(opened.filter((o) => o.path === dir).map((o) => o.pageSize)).toEqual([PAGE_SIZE]);
    expect(await filePageSize(dir)).toBe(PAGE_SIZE);
  });

  it('keeps a state whose file has other pages, with its data and offsets', async () => {
    // Created as an older build would have on a kernel with 16 KiB pages.
    const created = open({ path: dir, pageSize: 16_384 });
    await created.close();
    state = await openIt();
    await state.write(() => void state!.db('data').put(Buffer.from('k'), Buffer.from('v')), TOPIC, [[0, 42]]);
    await state.close();
    state = await openIt();
    expect(state.wiped).toBeNull();
    expect(state.db('data').getBinary(Buffer.from('k'))?.toString()).toBe('v');
    expect(state.offsets(TOPIC)).toEqual(new Map([[0, 42]]));
    await state.close();
    state = undefined;
    expect(await filePageSize(dir)).toBe(16_384);
  });

  // Why no setting can change the page size of a state that exists: LMDB takes it from the file's
  // meta page and ignores the option.
  it('lmdb-js opens an existing file with its own page size whatever pageSize says', async () => {
    const created = open({ path: dir, pageSize: 16_384 });
    await created.put('k', 'v');
    await created.close();
    const reopened = open({ path: dir, pageSize: 4096 });
    try {
      expect((reopened.getStats() as { pageSize: number }).pageSize).toBe(16_384);
      expect(reopened.get('k')).toBe('v');
    } finally {
      await reopened.close();
    }
  });
});

describe('state folder', () => {
  it('is made readable by its owner only, and so again when a state of another identity is wiped and made anew', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'statestore-'));
    const dir = path.join(root, 'view');
    try {
      const first = await openState({ path: dir, databases: DBS, identity: { layout: 1 }, log: silentLogger() });
      await first.close();
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const again = await openState({ path: dir, databases: DBS, identity: { layout: 2 }, log: silentLogger() });
      await again.close();
      expect(again.wiped).not.toBeNull();
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('wipeIf', () => {
  it('wipes a state of the same identity when its owner gives a reason, read from the state, and keeps it otherwise', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'statestore-'));
    const dir = path.join(root, 'state');
    try {
      const first = await openState({ path: dir, databases: DBS, identity: { layout: 1 }, log: silentLogger() });
      await first.write(() => first.putMeta('window', 3));
      await first.close();
      const seen: unknown[] = [];
      const keep = await openState({ path: dir, databases: DBS, identity: { layout: 1 }, wipeIf: (s) => (seen.push(s.getMeta('window')), null), log: silentLogger() });
      expect(keep.wiped).toBeNull();
      expect(keep.getMeta('window')).toBe(3);
      await keep.close();
      expect(seen).toEqual([3]);
      const wipe = await openState({ path: dir, databases: DBS, identity: { layout: 1 }, wipeIf: (s) => (s.getMeta<number>('window')! < 30 ? 'window widened' : null), log: silentLogger() });
      expect(wipe.wiped).toBe('window widened');
      expect(wipe.getMeta('window')).toBeUndefined();
      await wipe.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('is not asked for a new state', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'statestore-'));
    try {
      let asked = 0;
      const s = await openState({ path: path.join(root, 'state'), databases: DBS, identity: { layout: 1 }, wipeIf: () => (asked++, 'no'), log: silentLogger() });
      expect(s.wiped).toBeNull();
      expect(asked).toBe(0);
      await s.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('keeps', () => {
  it('keeps a state of another identity that its owner accepts, and says which identity it had', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'statestore-'));
    const dir = path.join(root, 'state');
    try {
      await (await openState({ path: dir, databases: DBS, identity: { layout: 1, count: 2 }, log: silentLogger() })).close();
      const grown = await openState({ path: dir, databases: DBS, identity: { layout: 1, count: 4 }, keeps: (s) => s.layout === 1, log: silentLogger() });
      expect([grown.wiped, grown.keptFrom?.count]).toEqual([null, 2]);
      await grown.close();
      const same = await openState({ path: dir, databases: DBS, identity: { layout: 1, count: 4 }, keeps: () => true, log: silentLogger() });
      expect([same.wiped, same.keptFrom]).toEqual([null, null]);
      await same.close();
      const other = await openState({ path: dir, databases: DBS, identity: { layout: 2, count: 4 }, keeps: () => false, log: silentLogger() });
      expect(other.wiped).not.toBeNull();
      expect(other.keptFrom).toBeNull();
      await other.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('identityChange: why a state of another identity is wiped, for the log', () => {
  it('names each field that differs, before -> now, and says a state without a store format (lmdb-js 3.x) is never reused', () => {
    // The identity a view written before 2026-12-03 (lmdb-js 3.x) recorded: no store format.
    const before = { layout: 3, topic: 'trackhouse.events', partitionCount: 6, partitions: '0,1,2,3,4,5' };
    expect(identityChange(before, { ...before, store: LMDB_FORMAT })).toBe(
      `it was written for another store than this build needs (store none -> ${LMDB_FORMAT}); a file of another LMDB store format (lmdb-js 3.x wrote none) is never reused`,
    );
    expect(identityChange({ ...before, store: LMDB_FORMAT }, { ...before, layout: 4, topic: 't2', store: LMDB_FORMAT })).toBe(
      'it was written for another layout and topic than this build needs (layout 3 -> 4, topic "trackhouse.events" -> "t2")',
    );
  });

  it('is the reason openState gives when it wipes a state whose identity has no store format', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'statestore-'));
    const dir = path.join(root, 'view');
    try {
      await (await openState({ path: dir, databases: DBS, identity: { layout: 1 }, log: silentLogger() })).close();
      // Rewrite the recorded identity as a version before the store format was recorded left it.
      const env = open({ path: dir, maxDbs: DBS.length + 2 });
      await env.openDB<unknown, string>({ name: '_meta', encoding: 'json' }).put('identity', { layout: 1 });
      await env.close();
      const again = await openState({ path: dir, databases: DBS, identity: { layout: 1 }, log: silentLogger() });
      await again.close();
      expect(again.wiped).toBe(identityChange({ layout: 1 }, { layout: 1, store: LMDB_FORMAT }));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
