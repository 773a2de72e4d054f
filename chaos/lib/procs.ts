// Processes the suite starts: each one's output goes to a log file in the case's temp dir, each is
// known by its PID and stopped by it (SIGTERM, then SIGKILL after a bound). Children that a
// process starts itself (the all-in-one's ingest child and broker JVM) are found through /proc by
// parent PID and command line, never by a name match over the whole machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (128 + n for a signal) once the process is gone. */
  readonly exited: Promise<number>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number>;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function startProc(name: string, cmd: string, args: string[], env: Record<string, string>, logFile: string): Proc {
  const fd = openSync(logFile, 'a');
  // Its own process group: a Ctrl-C on the suite's terminal reaches the suite, which stops
  // everything in order, instead of every process at once.
  const child: ChildProcess = spawn(cmd, args, { env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  let alive = true;
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => {
      alive = false;
      resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0));
    }),
  );
  return {
    name,
    pid: child.pid!,
    logFile,
    exited,
    running: () => alive,
    stop: async (timeoutMs = 30_000) => {
      if (!alive) return exited;
      signal(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => signal(child.pid!, 'SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Sends a signal to one PID; false when it is gone already. */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its parent) still answers kill 0.
  return procState(pid) !== 'Z';
}

function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

function info(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid, cmdline };
  } catch {
    return null;
  }
}

/** Every live descendant of `pid` (children, their children, ...). */
export function descendants(pid: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = info(Number(entry));
    if (p) all.push(p);
  }
  const out: ProcInfo[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    out.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return out;
}

/** The first descendant of `pid` whose command line matches, waiting for it up to `timeoutMs`. */
export async function findDescendant(pid: number, match: RegExp, timeoutMs = 10_000): Promise<ProcInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = descendants(pid).find((p) => match.test(p.cmdline));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no process matching ${match} under pid ${pid}`);
    await sleep(100);
  }
}

/** Waits until every PID is gone; SIGKILLs what is left after `timeoutMs`. Returns the PIDs it had to kill. */
export async function reap(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && pids.some(alive)) await sleep(100);
  const left = pids.filter(alive);
  for (const pid of left) signal(pid, 'SIGKILL');
  while (left.some(alive)) await sleep(50);
  return left;
}

/** GET `url`; true on a 2xx answer within `timeoutMs`. */
export async function answers(url: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Polls until every URL answers 2xx; throws (naming `what`) after `timeoutMs` or when `gone()` says the process died. */
export async function waitReady(what: string, urls: readonly string[], timeoutMs: number, gone: () => boolean = () => false): Promise<number> {
  const t0 = performance.now();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await Promise.all(urls.map((u) => answers(u)));
    if (ok.every(Boolean)) return performance.now() - t0;
    if (gone()) throw new Error(`${what} exited before it was ready`);
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs / 1000} s (${urls.filter((_, i) => !ok[i]).join(', ')})`);
    await sleep(200);
  }
}

export function tailOf(file: string, chars = 3_000): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}
