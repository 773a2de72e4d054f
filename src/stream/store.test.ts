import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from './store.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-stream-store-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('stream state store format', () => {
  it('keeps a store it wrote: same instance, same data, nothing wiped', async () => {
    const dir = tempDir();
    const first = openStore(dir);
    await first.dbs.offsets.put(['t', 0], 42);
    await first.close();
    const again = openStore(dir);
    expect(again.wiped).toBeNull();
    expect(again.instance).toBe(first.instance);
    expect(again.dbs.offsets.get(['t', 0])).toBe(42);
    await again.close();
  });

  it('removes a store without the format mark (written by lmdb-js 3) and starts it again empty', async () => {
    const dir = tempDir();
    const old = openStore(dir);
    await old.dbs.offsets.put(['t', 0], 42);
    await old.close();
    unlinkSync(path.join(dir, 'trackhouse-stream.format'));
    const fresh = openStore(dir);
    expect(fresh.wiped).toMatch(/lmdb-js 3/);
    expect(fresh.instance).not.toBe(old.instance);
    expect(fresh.dbs.offsets.get(['t', 0])).toBeUndefined();
    await fresh.close();
  });
});

describe('stream state store folder', () => {
  const modeOf = (dir: string) => statSync(dir).mode & 0o777;
  const made0755 = () => {
    const dir = path.join(tempDir(), 'stream');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    return dir;
  };

  it('is made readable by its owner only, parents included', async () => {
    const dir = path.join(tempDir(), 'a', 'stream');
    await openStore(dir).close();
    expect([modeOf(path.dirname(dir)), modeOf(dir)]).toEqual([0o700, 0o700]);
  });

  it('tightens its own <data dir>/stream that an earlier version made 0755, and leaves a STREAM_DIR that exists as it is', async () => {
    const own = made0755();
    await openStore(own, true).close();
    expect(modeOf(own)).toBe(0o700);
    const operators = made0755();
    await openStore(operators).close();
    expect(modeOf(operators)).toBe(0o755);
  });
});
