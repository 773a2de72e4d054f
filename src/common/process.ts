// Whether another process still runs, as the data dir's owners ask it of a pid they recorded.
import { readFileSync } from 'node:fs';

/** /proc/<pid>/stat's state letter and start time (clock ticks since boot), or null where /proc does not tell. */
export function procStat(pid: number): { state: string; startTicks: number | null } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22 overall
    return { state: fields[0] ?? '', startTicks: Number.isFinite(ticks) ? ticks : null };
  } catch {
    return null;
  }
}

/**
 * True while `pid` runs: it exists (EPERM: under another user) and is not a zombie. A process
 * killed with -9 stays a zombie until its parent reaps it (init took 1.25 s here); it holds no
 * files or ports by then, so it owns nothing.
 */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = procStat(pid)?.state;
  return state !== 'Z' && state !== 'X';
}
