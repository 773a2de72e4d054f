// The fault cases. Each builds its deployment, then injects its fault while the ledger's load
// runs, and returns when the fault ended (performance.now()); the runner measures recovery from
// there and proves the ledger. A case that needs something this machine lacks says why in skip().
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Counters } from './lib/load.js';
import { reap, signal, tailOf } from './lib/procs.js';
import { AllInOne, READ_KEY, ROOT, Split, SuiteBroker, WRITE_KEY, type Topology, type Workspace } from './lib/topology.js';

/** How long a fault lasts when it has a duration (the broker paused, ClickHouse hanging, ...). */
export const FAULT_MS = Number(process.env.CHAOS_FAULT_S ?? 30) * 1000;
const TMPFS_MB = 256;

export interface CaseContext {
  ws: Workspace;
  topo: Topology;
  load: Counters;
  /** Free-form lines for the report: what the case saw. */
  notes: string[];
  /** Case-specific figures for the report. */
  figures: Record<string, unknown>;
  /** Failed expectations of the case itself (beyond lost/doubled/recovery). */
  failures: string[];
  log(msg: string): void;
}

export interface Case {
  name: string;
  what: string;
  /** The suite restarts a process as part of the fault (kill -9 of the main process): recovery counts from that restart. */
  restartIsPartOfFault?: boolean;
  /** The suite restarts what died at once, as Kubernetes would (split deployment): recovery includes that restart. */
  orchestrated?: boolean;
  skip?(): string | null;
  topology(ws: Workspace): Topology;
  /** Runs before the deployment starts (e.g. a tmpfs for the broker's data). */
  prepare?(ws: Workspace, topo: Topology): void;
  /** Injects the fault; resolves with performance.now() at the moment the fault ended. */
  fault(ctx: CaseContext): Promise<number>;
}

async function part(ctx: CaseContext, name: 'main' | 'ingest' | 'sink' | 'query' | 'broker'): Promise<number> {
  const pid = (await ctx.topo.parts())[name];
  if (!pid) throw new Error(`no ${name} process to act on`);
  return pid;
}

function kill9(name: 'ingest' | 'sink' | 'query' | 'broker', what: string, topology: (ws: Workspace) => Topology, extra: Partial<Case> = {}): Case {
  return {
    name: `kill-${name}`,
    what,
    topology,
    ...extra,
    fault: async (ctx) => {
      const pid = await part(ctx, name);
      signal(pid, 'SIGKILL');
      ctx.log(`SIGKILL ${name} (pid ${pid})`);
      const t = performance.now();
      await reap([pid], 10_000);
      return t;
    },
  };
}

const allInOne = (ws: Workspace) => new AllInOne(ws);
const allInOneExternal = (ws: Workspace) => new AllInOne(ws, { broker: new SuiteBroker(ws) });
const split = (ws: Workspace) => new Split(ws);

function splitOf(topo: Topology): Split {
  if (!(topo instanceof Split)) throw new Error('this case needs the split deployment');
  return topo;
}

/** Pauses (SIGSTOP) the broker's JVM for `ms`, then resumes it. */
async function pauseBroker(ctx: CaseContext, ms: number): Promise<number> {
  const pid = await part(ctx, 'broker');
  signal(pid, 'SIGSTOP');
  ctx.log(`SIGSTOP broker (pid ${pid}) for ${ms / 1000} s`);
  try {
    await sleep(ms);
  } finally {
    signal(pid, 'SIGCONT');
  }
  ctx.log('SIGCONT broker');
  return performance.now();
}

/**
 * Fills the file system of `dir` (the broker's tmpfs) until `leaveBytes` are free, with a file in
 * `dir` itself, so the space measured is the space written; never more than `capBytes` in all
 * (a guard against ever filling a real disk). Returns the ballast file.
 */
function fill(ws: Workspace, dir: string, leaveBytes: number, capBytes: number): string {
  if (ws.freeBytes(dir) > capBytes) throw new Error(`${dir} has more free space than its ${capBytes >> 20} MB tmpfs: refusing to fill it`);
  const file = `${dir}/.chaos-ballast`;
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20, 0x61);
  let written = 0;
  try {
    while (written < capBytes) {
      const free = ws.freeBytes(dir);
      if (free <= leaveBytes) break;
      const n = Math.min(chunk.length, free - leaveBytes, capBytes - written);
      try {
        written += writeSync(fd, chunk, 0, n);
      } catch {
        break; // ENOSPC: as full as it gets
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

/**
 * SIGTERM to the all-in-one while its broker (the suite's, by KAFKA_BROKERS) is paused or killed:
 * issue #14, point 1: it must exit within SHUTDOWN_TIMEOUT_MS whatever Kafka does, non-zero with
 * a line saying what was left when it gave up. Then the broker and the all-in-one start again and
 * the ledger is proven.
 */
function sigtermDuringBrokerOutage(kind: 'pause' | 'kill'): Case {
  return {
    name: kind === 'pause' ? 'sigterm-broker-paused' : 'sigterm-broker-down',
    what: `SIGTERM to the all-in-one while its broker (KAFKA_BROKERS) is ${kind === 'pause' ? 'paused (SIGSTOP)' : 'down (kill -9)'}; expected: it exits within SHUTDOWN_TIMEOUT_MS (15 s), then starts again`,
    restartIsPartOfFault: true,
    topology: allInOneExternal,
    fault: async (ctx) => {
      const aio = ctx.topo as AllInOne;
      const parts = await aio.parts();
      const main = aio.main!;
      const broker = aio.suiteBroker!;
      if (kind === 'pause') signal(parts.broker!, 'SIGSTOP');
      else broker.kill9();
      ctx.log(`${kind === 'pause' ? 'SIGSTOP' : 'SIGKILL'} broker (pid ${parts.broker})`);
      await sleep(3_000);
      signal(main.pid, 'SIGTERM');
      const t0 = performance.now();
      ctx.log(`SIGTERM main (pid ${main.pid})`);
      const code = await Promise.race([main.exited, sleep(60_000).then(() => null)]);
      const exitS = Math.round((performance.now() - t0) / 100) / 10;
      ctx.figures.exit_after_sigterm_s = code === null ? '> 60 (still running)' : exitS;
      ctx.figures.exit_code = code;
      if (code === null || exitS > 15 + 1) ctx.failures.push(`exit after SIGTERM took ${ctx.figures.exit_after_sigterm_s} s, over SHUTDOWN_TIMEOUT_MS (15 s)`);
      const left = await reap([main.pid, parts.ingest ?? 0].filter((p) => p > 0), 1_000);
      if (left.length > 0) ctx.notes.push(`SIGKILLed pid ${left.join(', ')}: still running 60 s after SIGTERM`);
      if (kind === 'pause') signal(parts.broker!, 'SIGCONT');
      else await broker.waitGone();
      ctx.log('broker back; starting the all-in-one again');
      const restart = performance.now();
      await ctx.topo.start();
      return restart;
    },
  };
}

export const CASES: Case[] = [
  kill9('ingest', "kill -9 of the all-in-one's ingest child; expected: restarted by the all-in-one", allInOne),
  kill9('broker', "kill -9 of the all-in-one's own Kafka broker; expected: restarted by the all-in-one", allInOne),
  {
    name: 'kill-main',
    what: "kill -9 of the all-in-one's main process (sink, query, chDB), then `trackhouse start` again on the same data dir",
    restartIsPartOfFault: true,
    topology: allInOne,
    fault: async (ctx) => {
      const parts = await ctx.topo.parts();
      signal(parts.main!, 'SIGKILL');
      ctx.log(`SIGKILL main (pid ${parts.main})`);
      // Its ingest child stops when its IPC channel closes, the broker's watchdog when its stdin does.
      const t0 = performance.now();
      const left = await reap([parts.main!, parts.ingest ?? 0, parts.broker ?? 0].filter((p) => p > 0), 30_000);
      ctx.figures.orphans_gone_s = Math.round((performance.now() - t0) / 100) / 10;
      if (left.length > 0) ctx.failures.push(`${left.length} child process(es) outlived the killed main process by 30 s (SIGKILLed: ${left.join(', ')})`);
      const restart = performance.now();
      await ctx.topo.start();
      ctx.figures.restart_ready_s = Math.round((performance.now() - restart) / 100) / 10;
      return restart;
    },
  },
  sigtermDuringBrokerOutage('pause'),
  sigtermDuringBrokerOutage('kill'),
  {
    name: 'second-start',
    what: 'a second `trackhouse start` on the same data dir (other ports) while the first runs under load; expected: refused at once with "another trackhouse (pid N) is using <dir>", non-zero, the first untouched',
    topology: allInOne,
    fault: async (ctx) => {
      const first = (ctx.topo as AllInOne).main!;
      const second = await (ctx.topo as AllInOne).startAnother();
      ctx.log(`second trackhouse start (pid ${second.pid}) on the same data dir`);
      const t0 = performance.now();
      const code = await Promise.race([second.exited, sleep(60_000).then(() => null)]);
      const s = Math.round((performance.now() - t0) / 100) / 10;
      const said = tailOf(second.logFile, 2_000).trim().split('\n').slice(-3).join(' | ');
      ctx.figures.second_start = { exit_code: code, after_s: s, said: said.slice(-500) };
      if (code === null) {
        await second.stop(30_000);
        ctx.failures.push('the second start was still running 60 s later (stopped by the suite)');
      } else if (code === 0) ctx.failures.push('the second start exited 0');
      if (!said.includes(`pid ${first.pid}`) || !/another trackhouse/i.test(said)) {
        ctx.failures.push(`the second start did not say which trackhouse (pid ${first.pid}) holds the data dir: ${said.slice(-300)}`);
      }
      if (!first.running()) ctx.failures.push('the first instance stopped');
      return performance.now();
    },
  },
  {
    name: 'broker-pause',
    what: `the broker paused (SIGSTOP) for ${FAULT_MS / 1000} s: unreachable, connections open but silent (split deployment)`,
    topology: split,
    fault: (ctx) => pauseBroker(ctx, FAULT_MS),
  },
  {
    name: 'broker-down',
    what: `the broker killed (kill -9) and started again ${FAULT_MS / 1000} s later: connections refused meanwhile (split deployment)`,
    topology: split,
    fault: async (ctx) => {
      const s = splitOf(ctx.topo);
      s.broker.kill9();
      ctx.log(`SIGKILL broker (pid ${s.broker.jvmPid}) for ${FAULT_MS / 1000} s`);
      await s.broker.waitGone();
      await sleep(FAULT_MS);
      const t = performance.now();
      await s.broker.start();
      // The fault ends when the broker answers again; its own start-up is not trackhouse's recovery.
      ctx.figures.broker_restart_s = Math.round((performance.now() - t) / 100) / 10;
      ctx.log(`broker answers again (its start took ${ctx.figures.broker_restart_s} s)`);
      return performance.now();
    },
  },
  {
    name: 'broker-disk-full',
    what: `the broker's data dir (a 256 MB tmpfs) filled to the last 64 KB for ${FAULT_MS / 1000} s, then freed; the broker restarted if it stopped (split deployment)`,
    topology: split,
    skip: () => (process.getuid?.() === 0 ? null : 'needs root to mount a tmpfs for the broker data dir (run the suite as root, or skip this case)'),
    prepare: (ws, topo) => ws.mountTmpfs(splitOf(topo).broker.dataDir, TMPFS_MB),
    fault: async (ctx) => {
      const s = splitOf(ctx.topo);
      const ballast = fill(ctx.ws, s.broker.dataDir, 64 * 1024, TMPFS_MB << 20);
      ctx.log(`filled ${s.broker.dataDir}: ${ctx.ws.freeBytes(s.broker.dataDir)} bytes free`);
      const t0 = performance.now();
      while (performance.now() - t0 < FAULT_MS) {
        if (!s.broker.running() && ctx.figures.broker_stopped_after_s === undefined) {
          ctx.figures.broker_stopped_after_s = Math.round((performance.now() - t0) / 100) / 10;
          ctx.log('the broker stopped on the full disk');
        }
        await sleep(200);
      }
      rmSync(ballast, { force: true });
      ctx.log('disk freed');
      if (!s.broker.running()) {
        await s.broker.waitGone();
        const t = performance.now();
        await s.broker.start();
        ctx.figures.broker_restart_s = Math.round((performance.now() - t) / 100) / 10;
        ctx.notes.push('the broker stopped when its disk filled (Kafka halts when its only log dir fails); started again once the disk was freed, and the fault counted as ended when it answered');
      }
      return performance.now();
    },
  },
  {
    name: 'clickhouse-hang',
    what: `ClickHouse stops answering for ${FAULT_MS / 1000} s (connections accepted, nothing answered; split deployment)`,
    topology: split,
    fault: async (ctx) => {
      const s = splitOf(ctx.topo);
      s.clickhouse.proxy.setMode({ kind: 'hang' });
      ctx.log(`ClickHouse hangs for ${FAULT_MS / 1000} s`);
      await sleep(FAULT_MS);
      s.clickhouse.proxy.setMode({ kind: 'pass' });
      return performance.now();
    },
  },
  {
    name: 'clickhouse-slow',
    what: `ClickHouse answers 4 s late for ${FAULT_MS / 1000} s, past the client's 3 s CLICKHOUSE_REQUEST_TIMEOUT_MS, so inserts it applied are retried (split deployment)`,
    topology: (ws) => new Split(ws, { extraEnv: { CLICKHOUSE_REQUEST_TIMEOUT_MS: '3000' } }),
    fault: async (ctx) => {
      const s = splitOf(ctx.topo);
      s.clickhouse.proxy.setMode({ kind: 'slow', delayMs: 4_000 });
      ctx.log(`ClickHouse answers 4 s late for ${FAULT_MS / 1000} s`);
      await sleep(FAULT_MS);
      s.clickhouse.proxy.setMode({ kind: 'pass' });
      return performance.now();
    },
  },
  kill9('ingest', 'kill -9 of `trackhouse ingest` (split deployment); the suite restarts it at once, as an orchestrator would', split, { name: 'kill-ingest-split', orchestrated: true }),
  kill9('sink', 'kill -9 of `trackhouse sink` (split deployment); the suite restarts it at once, as an orchestrator would', split, { orchestrated: true }),
  kill9('query', 'kill -9 of `trackhouse query` (split deployment); the suite restarts it at once, as an orchestrator would', split, { orchestrated: true }),
  {
    name: 'bi-heavy',
    what: `BI tools keep the shared chDB engine busy for ${FAULT_MS / 1000} s: two clients send CPU-heavy statements back to back to the read-only SQL port, each running until its limit, while events flow (all-in-one)`,
    topology: allInOne,
    fault: async (ctx) => {
      if (!(ctx.topo instanceof AllInOne)) throw new Error('bi-heavy needs the all-in-one');
      const url = ctx.topo.sqlUrl;
      const until = performance.now() + FAULT_MS;
      const answers: Record<string, number> = {};
      const seconds: number[] = [];
      // Each runs until the port's time limit unless it ends first: the engine is theirs between the sink's inserts.
      const heavy = 'SELECT sum(cityHash64(number)) FROM numbers(100000000000)';
      const client = async () => {
        while (performance.now() < until) {
          const t = performance.now();
          const res = await fetch(`${url}/?max_execution_time=${Math.max(1, Math.ceil((until - t) / 1000))}`, {
            method: 'POST',
            headers: { 'x-clickhouse-key': READ_KEY },
            body: heavy,
          }).catch(() => null);
          const key = res === null ? 'no answer' : `${res.status} ${res.headers.get('x-clickhouse-exception-code') ?? ''}`.trim();
          await res?.text();
          answers[key] = (answers[key] ?? 0) + 1;
          seconds.push(Math.round(performance.now() - t) / 1000);
        }
      };
      ctx.log(`two clients send heavy statements to ${url} for ${FAULT_MS / 1000} s`);
      await Promise.all([client(), client()]);
      ctx.figures.sql_answers = answers;
      ctx.figures.sql_statement_seconds = seconds;
      ctx.log(`SQL port answers: ${JSON.stringify(answers)}`);
      if (!Object.keys(answers).some((k) => k.startsWith('408') || k.startsWith('200'))) ctx.failures.push('no heavy statement ran on the SQL port (none ended 200 or at its time limit)');
      return performance.now();
    },
  },
  {
    name: 'slowloris',
    what: `10,000 idle connections and 200 slow-body clients held on the ingest port for ${FAULT_MS / 1000} s while normal traffic goes on (all-in-one)`,
    topology: allInOne,
    fault: async (ctx) => {
      const port = new URL(ctx.topo.ingestUrl).port;
      const okBefore = ctx.load.ok;
      const t0 = performance.now();
      // In a process of its own: 10,000 sockets in the suite's process would slow its load generator.
      const report = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'chaos', 'lib', 'slowloris.ts'), port, WRITE_KEY, '10000', '200', String(FAULT_MS / 1000)], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`the slowloris process exited ${code}`))));
      });
      const t1 = performance.now();
      const okDuring = ctx.load.ok - okBefore;
      ctx.figures.attack = JSON.parse(report.trim().split('\n').pop()!);
      ctx.figures.ok_requests_during_attack = okDuring;
      ctx.figures.ok_per_s_during_attack = Math.round(okDuring / ((t1 - t0) / 1000));
      ctx.log(`attack over: ${report.trim()}`);
      if (okDuring === 0) ctx.failures.push('no request of the normal traffic was answered 200 during the attack');
      return performance.now();
    },
  },
];
