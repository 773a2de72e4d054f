// The data dir lock with real processes: a live holder is named, one killed with -9 is taken
// over (a zombie too), and a pid that now belongs to another program does not hold the folder.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';
import { zombie } from '../../test/support/zombie.js';
import { DataDirInUseError, DataDirUnusableError, LOCK_FILE, lockDataDir } from './datadirlock.js';

const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));
const fresh = () => {
  const d = tempDir('trackhouse-lock-');
  dirs.push(d);
  return d.path;
};

/** Another process that takes the lock and holds it until killed. */
async function holder(dataDir: string): Promise<{ pid: number; exited: Promise<void> }> {
  const mod = pathToFileURL(path.resolve('src/cli/datadirlock.ts')).href;
  const code = `import(${JSON.stringify(mod)}).then((m) => { m.lockDataDir(${JSON.stringify(dataDir)}, 'test holder'); console.log('locked'); setInterval(() => {}, 1 << 30); });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.once('exit', (c) => reject(new Error(`holder exited with ${c}`)));
  });
  return { pid: child.pid!, exited };
}

describe('data dir lock', () => {
  it('names a live holder, and takes over from one killed with -9', async () => {
    const dir = fresh();
    const other = await holder(dir);
    expect(() => lockDataDir(dir, 'test')).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dir, 'test')).toThrow(`another trackhouse (pid ${other.pid}) is using ${dir}`);
    process.kill(other.pid, 'SIGKILL');
    await other.exited;
    // The dead holder's file is still there: a kill -9 runs no exit handler.
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(other.pid);
    const mine = lockDataDir(dir, 'test');
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    expect(mine.previous).toBe(other.pid);
    mine.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    // Taken afresh, there was no one before.
    const again = lockDataDir(dir, 'test');
    expect(again.previous).toBeNull();
    again.release();
  });

  it('takes over from a holder killed and not yet reaped by its parent (a zombie holds nothing)', async () => {
    const dir = fresh();
    const z = await zombie();
    try {
      expect(() => process.kill(z.pid, 0)).not.toThrow();
      writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: z.pid, startTicks: null, command: 'trackhouse start', since: '' }));
      const mine = lockDataDir(dir, 'test');
      expect(mine.previous).toBe(z.pid);
      mine.release();
    } finally {
      z.end();
    }
  });

  it('says which folder cannot be used and which variable to change, instead of a raw fs error', () => {
    // A path through a regular file cannot become a folder, even for root (a read-only root
    // filesystem, as in the image, fails the same way with EROFS or ENOENT).
    const file = path.join(fresh(), 'not-a-dir');
    writeFileSync(file, '');
    const dir = path.join(file, 'data');
    expect(() => lockDataDir(dir, 'test')).toThrow(DataDirUnusableError);
    expect(() => lockDataDir(dir, 'test')).toThrow(`cannot use ${dir} as the data dir (ENOTDIR: not a directory, mkdir '${dir}')`);
    expect(() => lockDataDir(dir, 'test')).toThrow(/set TRACKHOUSE_DATA_DIR to a writable folder/);
  });

  it('does not count a pid that now belongs to another process (it started at another time)', () => {
    const dir = fresh();
    // pid 1 is alive, but it is not the process that wrote this lock.
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, startTicks: 123456789, command: 'trackhouse start', since: '' }));
    const mine = lockDataDir(dir, 'test');
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    mine.release();
  });

  it('is not taken twice by one process, and a released lock can be taken again', () => {
    const dir = fresh();
    const first = lockDataDir(dir, 'test');
    expect(() => lockDataDir(dir, 'test')).toThrow(/already held by this process/);
    first.release();
    lockDataDir(dir, 'test').release();
  });

  describe('mode of the folder (events are personal data)', () => {
    const modeOf = (dir: string) => (statSync(dir).mode & 0o777).toString(8);
    const logged = () => {
      const lines: [object, string][] = [];
      return { lines, log: { info: (obj: object, msg: string) => lines.push([obj, msg]) } };
    };
    const made0755 = () => {
      const dir = path.join(fresh(), 'data');
      mkdirSync(dir);
      chmodSync(dir, 0o755);
      return dir;
    };

    it('makes a missing data dir, and its missing parents, readable by its owner only', () => {
      const parent = path.join(fresh(), 'srv');
      const dir = path.join(parent, 'trackhouse');
      const { lines, log } = logged();
      lockDataDir(dir, 'test', { chosen: true, log }).release();
      expect([modeOf(parent), modeOf(dir)]).toEqual(['700', '700']);
      expect(lines).toEqual([]);
    });

    it('tightens its default folder that an earlier version made 0755, and says so', () => {
      const dir = made0755();
      const { lines, log } = logged();
      lockDataDir(dir, 'test', { chosen: false, log }).release();
      expect(modeOf(dir)).toBe('700');
      expect(lines).toEqual([[{ dataDir: dir, was: '0755' }, 'data dir made readable by its owner only (0700)']]);
    });

    it('leaves a TRACKHOUSE_DATA_DIR that exists as the operator made it, and says so', () => {
      const dir = made0755();
      const { lines, log } = logged();
      lockDataDir(dir, 'test', { chosen: true, log }).release();
      expect(modeOf(dir)).toBe('755');
      expect(lines.map(([obj]) => obj)).toEqual([{ dataDir: dir, mode: '0755' }]);
      expect(lines[0]![1]).toMatch(/readable by other users, left as it is/);
      // Not told whether the operator chose it: the careful answer.
      lockDataDir(dir, 'test').release();
      expect(modeOf(dir)).toBe('755');
    });
  });
});
