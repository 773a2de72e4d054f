// A zombie process for tests of pid checks: a child that has exited and that its parent never
// reaps. `sh` starts a short `sleep` in the background and becomes a long one (exec), which does
// not wait for children; the short one, once done, stays a zombie until the parent ends.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { procStat } from '../../src/common/process.js';

const state = (pid: number) => procStat(pid)?.state ?? null;

/** A zombie's pid; `end()` stops its parent, and init reaps both. */
export async function zombie(): Promise<{ pid: number; end(): void }> {
  const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const end = () => parent.kill('SIGKILL');
  try {
    const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    for (let i = 0; i < 250 && state(pid) !== 'Z'; i++) await sleep(20);
    if (state(pid) !== 'Z') throw new Error(`pid ${pid} did not become a zombie (state ${state(pid)})`);
    return { pid, end };
  } catch (err) {
    end();
    throw err;
  }
}
