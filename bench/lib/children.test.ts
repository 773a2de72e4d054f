import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';

const children = fileURLToPath(new URL('./children.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

/**
 * A bench stand-in: starts a child that outlives it unless stopped (a Node process ignoring
 * nothing, sleeping), registers a clean-up that writes `marker`, prints the child's pid, then
 * `then`: wait (to be interrupted) or exit on its own.
 */
function bench(dir: string, marker: string, then: 'wait' | 'exit'): { pid: Promise<number>; code: Promise<number | null>; proc: ReturnType<typeof spawn> } {
  const file = path.join(dir, 'bench.mts');
  writeFileSync(
    file,
    [
      `import { spawn } from 'node:child_process';`,
      `import { writeFileSync } from 'node:fs';`,
      `import { atInterrupt, track } from ${JSON.stringify(children)};`,
      `const c = track(spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300000)'], { stdio: 'ignore' }));`,
      `atInterrupt(() => writeFileSync(${JSON.stringify(marker)}, 'cleaned'));`,
      `console.log(c.pid);`,
      then === 'wait' ? `setTimeout(() => {}, 300000);` : `setTimeout(() => process.exit(3), 200);`,
    ].join('\n'),
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = new Promise<number>((resolve) => createInterface({ input: proc.stdout! }).once('line', (l) => resolve(Number(l))));
  const code = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  return { pid, code, proc };
}

describe('bench children', () => {
  const dirs: { remove(): void }[] = [];
  const strays: number[] = [];
  afterEach(() => {
    for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const d of dirs.splice(0)) d.remove();
  });

  /** A bench stand-in in a folder of its own, with its child's pid once it runs. */
  async function started(then: 'wait' | 'exit') {
    const dir = tempDir('bench-children-');
    dirs.push(dir);
    const marker = path.join(dir.path, 'marker');
    const b = bench(dir.path, marker, then);
    const pid = await b.pid;
    strays.push(pid);
    return { ...b, pid, marker };
  }

  it('stops the processes a bench started and runs its clean-up when the bench gets SIGINT', async () => {
    const b = await started('wait');
    expect(alive(b.pid)).toBe(true);
    b.proc.kill('SIGINT');
    expect(await b.code).toBe(130);
    expect(await gone(b.pid, 15_000)).toBe(true);
    expect(readFileSync(b.marker, 'utf8')).toBe('cleaned');
  });

  it('kills them when the bench exits without stopping them, and runs no interrupt clean-up', async () => {
    const b = await started('exit');
    expect(await b.code).toBe(3);
    expect(await gone(b.pid, 15_000)).toBe(true);
    expect(existsSync(b.marker)).toBe(false);
  });
});
