// Servers under test run as child processes (never in the load generator's thread); these
// helpers start one, wait for its port, sample its memory and CPU from /proc, and stop it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { QUERY_NODE_OPTIONS } from '../../src/common/heap.js';
import { track } from './children.js';
import { cpuSeconds } from './cpu.js';

export interface Server {
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

export function startServer(cmd: string, args: string[], env: Record<string, string>): Server {
  const child = track(spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid!,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export async function waitForPort(port: number, server: Server, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`server exited (${server.child.exitCode}) before listening:\n${server.output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listened on ${port} in time:\n${server.output()}`);
}

export interface Sampled<T> {
  result: T;
  max_rss_mb: number;
  /**
   * Max RssAnon: the process's own memory, without file pages it maps (the view's LMDB file,
   * mapped with a write map, counts in VmRSS as it is touched, but the kernel reclaims it).
   */
  max_anon_rss_mb: number;
  /** CPU seconds of the process per second of the run. */
  cpu_cores: number;
  /** CPU seconds of the process during the run. */
  cpu_s: number;
  /** CPU seconds of the broker's process tree during the run, when its pid is known. */
  broker_cpu_s: number | null;
}

/** Samples a process's RSS (max) and CPU time (and the broker's CPU time) while `work` runs. */
export async function sampled<T>(pid: number, work: () => Promise<T>, brokerPid?: number): Promise<Sampled<T>> {
  let maxRss = 0;
  let maxAnon = 0;
  const sample = () => {
    const m = rssMb(pid);
    maxRss = Math.max(maxRss, m.rss);
    maxAnon = Math.max(maxAnon, m.anon);
  };
  const cpu0 = cpuSeconds(pid);
  const broker0 = brokerPid === undefined ? 0 : cpuSeconds(brokerPid, true);
  const t0 = process.hrtime.bigint();
  const timer = setInterval(sample, 200);
  try {
    const result = await work();
    sample();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(pid) - cpu0;
    const brokerCpu = brokerPid === undefined ? null : Math.round((cpuSeconds(brokerPid, true) - broker0) * 1000) / 1000;
    return { result, max_rss_mb: Math.round(maxRss), max_anon_rss_mb: Math.round(maxAnon), cpu_cores: Math.round((cpu / wall) * 100) / 100, cpu_s: Math.round(cpu * 1000) / 1000, broker_cpu_s: brokerCpu };
  } finally {
    clearInterval(timer);
  }
}

/** A process's resident memory now, in MB: all of it (VmRSS) and its anonymous part (RssAnon: heaps, not mapped files); 0 when gone. */
export function rssMb(pid: number): { rss: number; anon: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon') };
  } catch {
    return { rss: 0, anon: 0 };
  }
}

/** 'a  b c' -> ['a', 'b', 'c']: node options of a process, as a bench variable gives them. */
export function words(v: string | undefined): string[] {
  return (v ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Node options of a process serving the query API, as a bench variable gives them: unset, the
 * product's (QUERY_NODE_OPTIONS, as `npm start` and k8s start it); `none` or empty, none.
 */
export function queryNodeOptions(v: string | undefined): string[] {
  return v === undefined ? [...QUERY_NODE_OPTIONS] : words(v).filter((w) => w !== 'none');
}

/** Node options of the processes the query and all-in-one benches serve the query API with: BENCH_QUERY_NODE_OPTIONS (queryNodeOptions). */
export const QUERY_NODE_ARGS: readonly string[] = queryNodeOptions(process.env.BENCH_QUERY_NODE_OPTIONS);

/** 'A=1 B=x=y' -> { A: '1', B: 'x=y' }: extra environment of a process, as a bench variable gives it. */
export function envPairs(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of words(v)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`not NAME=value: ${pair}`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
