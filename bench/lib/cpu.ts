// CPU time of processes under test, read from /proc: utime + stime of a process (all its
// threads) and, with `tree`, of all its descendants (the local broker is a sh watchdog whose
// child is the JVM). Counting CPU seconds per million events is what stays comparable on a
// shared machine: throughput moves with the neighbours' load, the work per event much less.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux we run on). */
const TICKS_PER_S = 100;

interface Stat {
  /** The thread's or process's name (comm). */
  name: string;
  ppid: number;
  user: number;
  system: number;
}

function stat(pid: number, file = `/proc/${pid}/stat`): Stat | null {
  try {
    const s = readFileSync(file, 'utf8');
    // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { name: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), ppid: Number(f[1]), user: Number(f[11]), system: Number(f[12]) };
  } catch {
    return null;
  }
}

/** The pid and every live descendant of it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p) || p <= 0) continue;
    const s = stat(p);
    if (s === null) continue;
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [p]);
    else list.push(p);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    for (const c of children.get(p) ?? []) todo.push(c);
  }
  return out;
}

/** User and system CPU seconds used so far by `pid` (and its descendants with `tree`); 0 when gone. */
export function cpuTimes(pid: number, tree = false): { user: number; system: number } {
  const pids = tree ? processTree(pid) : [pid];
  let user = 0;
  let system = 0;
  for (const p of pids) {
    const s = stat(p);
    if (s === null) continue;
    user += s.user;
    system += s.system;
  }
  return { user: user / TICKS_PER_S, system: system / TICKS_PER_S };
}

/** User and system CPU seconds used so far by the main thread of `pid` alone (its event loop, for Node); 0 when gone. */
export function mainThreadTimes(pid: number): { user: number; system: number } {
  const s = stat(pid, `/proc/${pid}/task/${pid}/stat`);
  return s === null ? { user: 0, system: 0 } : { user: s.user / TICKS_PER_S, system: s.system / TICKS_PER_S };
}

/** CPU seconds (user + system) used so far by `pid` (and its descendants with `tree`). */
export function cpuSeconds(pid: number, tree = false): number {
  const t = cpuTimes(pid, tree);
  return t.user + t.system;
}

/** A CPU meter over a set of named processes: start() then stop() gives seconds used by each. */
export class CpuMeter {
  private readonly at0 = new Map<string, number>();

  constructor(private readonly procs: Record<string, { pid: number; tree?: boolean } | undefined>) {}

  start(): this {
    for (const [name, p] of Object.entries(this.procs)) if (p) this.at0.set(name, cpuSeconds(p.pid, p.tree));
    return this;
  }

  /** CPU seconds per process since start(). */
  stop(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, p] of Object.entries(this.procs)) if (p) out[name] = round3(cpuSeconds(p.pid, p.tree) - this.at0.get(name)!);
    return out;
  }
}

/** CPU seconds per million events; null when no events went through. */
export function perMillion(cpuS: number, events: number): number | null {
  return events > 0 ? Math.round((cpuS / events) * 1e6 * 100) / 100 : null;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Each thread of `pid` now: its id, name (comm) and CPU seconds so far (user + system); empty when gone. */
export function threadTimes(pid: number): { tid: number; name: string; seconds: number }[] {
  const out: { tid: number; name: string; seconds: number }[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const s = stat(pid, `/proc/${pid}/task/${tid}/stat`);
    if (s !== null) out.push({ tid: Number(tid), name: s.name, seconds: (s.user + s.system) / TICKS_PER_S });
  }
  return out;
}
