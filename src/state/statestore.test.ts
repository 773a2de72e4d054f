import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../common/log.js';
import { openState, type StateStore } from './statestore.js';

const DBS = ['data'] as const;
const TOPIC = 't.events';

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

  const openWith = (pageSize?: number) => openState({ path: dir, databases: DBS, identity: { layout: 1 }, log: silentLogger(), ...(pageSize ? { pageSize } : {}) });

  async function writeOne(s: StateStore): Promise<void> {
    await s.write(() => void s.db('data').put(Buffer.from('k'), Buffer.from('v')), TOPIC, [[0, 42]]);
  }

  it('creates the file with the page size asked for, 4096 when none is', async () => {
    state = await openWith(16_384);
    expect(state.pageSize()).toBe(16_384);
    await state.close();
    rmSync(dir, { recursive: true, force: true });
    state = await openWith();
    expect(state.pageSize()).toBe(4096);
  });

  it('keeps a state reopened with its own page size', async () => {
    state = await openWith(16_384);
    await writeOne(state);
    await state.close();
    state = await openWith(16_384);
    expect(state.wiped).toBeNull();
    expect(state.pageSize()).toBe(16_384);
    expect(state.db('data').getBinary(Buffer.from('k'))?.toString()).toBe('v');
    expect(state.offsets(TOPIC)).toEqual(new Map([[0, 42]]));
  });

  it.each([
    [4096, 16_384],
    [16_384, 4096],
    [16_384, 8192],
  ])('wipes a state of %i-byte pages opened for %i-byte pages, and recreates it with the new size', async (built, asked) => {
    state = await openWith(built);
    await writeOne(state);
    await state.close();
    state = await openWith(asked);
    expect(state.wiped).toBe(`its LMDB pages are ${built} bytes, this process asks for ${asked}`);
    expect(state.pageSize()).toBe(asked);
    expect(state.db('data').getBinary(Buffer.from('k'))).toBeUndefined();
    expect(state.offsets(TOPIC).size).toBe(0);
  });

  // What the wipe relies on: LMDB takes an existing file's page size from its meta page and ignores
  // the option, so without the check a changed setting would silently not apply.
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
