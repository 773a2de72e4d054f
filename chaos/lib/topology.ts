// The deployments a case runs against, each in its own temp dir, on loopback, with free ports:
//
// - AllInOne: `trackhouse start` (its own local broker, or the suite's broker by KAFKA_BROKERS),
//   chDB in its process unless a ClickHouse URL is given.
// - Split: the suite's broker, ClickHouse (a chDB data dir served over ClickHouse's HTTP
//   interface, see chdb-http.ts) behind a fault proxy, and `trackhouse ingest`, `sink`, `query` as
//   separate processes, as in production. The suite plays the orchestrator: `repair()` restarts a
//   process that died, as Kubernetes would.
//
// Every process is known by PID and stopped by it; `dispose()` removes the temp dir.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_KAFKA_VERSION } from '../../src/config/index.js';
import { ensureJars, freePort, startLocalBroker, type LocalBroker } from '../../src/localkafka/index.js';
import { FaultProxy } from './faultproxy.js';
import { alive, findDescendant, reap, signal, startProc, tailOf, waitReady, type Proc } from './procs.js';

export const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const WRITE_KEY = 'chaos-write-key';
export const READ_KEY = 'chaos-read-key';
const READY_TIMEOUT_MS = 180_000;

/** Where the broker's jars are cached once for every case (the project's own data dir). */
export function jarCache(): string {
  return path.resolve(ROOT, process.env.TRACKHOUSE_DATA_DIR ?? '.trackhouse');
}

/**
 * The jars, and the broker JVM's class archive made from them (src/localkafka/cds.ts), which a
 * user's broker has from its first run on: without it a case would measure a broker that starts
 * without one. Made once, by a throwaway broker, if missing.
 */
export async function prepareJars(): Promise<void> {
  await ensureJars(jarCache(), LOCAL_KAFKA_VERSION, 'broker');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-chaos-cds-'));
  try {
    const broker = await startLocalBroker({ dataDir: dir, cacheDir: jarCache(), version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0 });
    const archive = await broker.classArchive;
    await broker.stop();
    if (!archive) process.stderr.write('warning: no class archive for the broker JVM could be made; its starts are slower\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A case's temp dir; the broker's jars are linked in, not copied. */
export class Workspace {
  readonly dir: string;
  private readonly mounts: string[] = [];

  constructor(label: string) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `trackhouse-chaos-${label}-`));
    mkdirSync(path.join(this.dir, 'kafka'), { recursive: true });
    symlinkSync(path.join(jarCache(), 'kafka', LOCAL_KAFKA_VERSION), path.join(this.dir, 'kafka', LOCAL_KAFKA_VERSION));
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /** Mounts a tmpfs of `sizeMb` at `dir` (needs root and CAP_SYS_ADMIN); throws saying why it cannot. */
  mountTmpfs(dir: string, sizeMb: number): void {
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      const text = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
      throw new Error(`cannot mount a ${sizeMb} MB tmpfs at ${dir}: ${text}`);
    }
    this.mounts.push(dir);
  }

  freeBytes(dir: string): number {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  }

  dispose(): void {
    for (const m of this.mounts.reverse()) {
      try {
        execFileSync('umount', [m], { stdio: 'pipe' });
      } catch {
        try {
          execFileSync('umount', ['-l', m], { stdio: 'pipe' });
        } catch {
          /* reported below by rm failing, if at all */
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function baseEnv(ws: Workspace): Record<string, string> {
  const env: Record<string, string> = {};
  // The suite's own environment minus trackhouse settings, so a developer's shell cannot change a case.
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(TRACKHOUSE_|KAFKA_|CLICKHOUSE_|INGEST_|QUERY_|SINK_|SHUTDOWN_|LOCAL_KAFKA_|HOST$|LOG_LEVEL$)/.test(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    HOST: '127.0.0.1',
    TRACKHOUSE_DATA_DIR: ws.dir,
    TRACKHOUSE_WRITE_KEYS: `${WRITE_KEY}:chaos`,
    TRACKHOUSE_READ_KEYS: READ_KEY,
    LOG_LEVEL: 'info',
  };
}

/** A broker the suite runs itself (the "external" cluster of a deployment), so it can kill, pause and restart it. */
export class SuiteBroker {
  private broker: LocalBroker | null = null;
  port = 0;
  private controllerPort = 0;
  /** The JVM's PID (the broker runs under a small watchdog shell). */
  jvmPid = 0;

  constructor(private readonly ws: Workspace) {}

  get dataDir(): string {
    return this.ws.path('kafka', 'external', 'data');
  }

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) {
      this.port = await freePort();
      this.controllerPort = await freePort();
    }
    this.broker = await startLocalBroker({
      dataDir: this.ws.dir,
      cacheDir: jarCache(),
      version: LOCAL_KAFKA_VERSION,
      port: this.port,
      controllerPort: this.controllerPort,
      instance: 'external',
      heapMb: 512,
    });
    this.jvmPid = (await findDescendant(this.broker.pid, /^\S*java .*kafka\.Kafka /)).pid;
  }

  running(): boolean {
    return this.jvmPid !== 0 && alive(this.jvmPid);
  }

  kill9(): void {
    signal(this.jvmPid, 'SIGKILL');
  }

  async waitGone(timeoutMs = 30_000): Promise<void> {
    await reap([this.jvmPid], timeoutMs);
    // The watchdog shell exits with the JVM; stop() resolves once it has.
    await this.broker?.stop(5_000);
  }

  async stop(): Promise<void> {
    if (this.jvmPid) signal(this.jvmPid, 'SIGCONT');
    await this.broker?.stop(30_000);
    if (this.jvmPid) await reap([this.jvmPid], 5_000);
  }
}

export interface Parts {
  /** PIDs of the processes a fault can hit; absent when the topology has no such process. */
  main?: number;
  ingest?: number;
  sink?: number;
  query?: number;
  broker?: number;
}

export interface Topology {
  readonly name: string;
  readonly ingestUrl: string;
  readonly queryUrl: string;
  start(): Promise<void>;
  parts(): Promise<Parts>;
  /** Ingest and query ready. */
  healthy(): Promise<boolean>;
  /** Restarts whatever died (or, for the all-in-one, the whole thing); says what it did. */
  repair(): Promise<string[]>;
  /** Stops the sink (SIGTERM) and starts it again; says what it did. */
  restartSink(): Promise<string[]>;
  /** Stops every process by PID; returns notes on what did not stop by itself. */
  stop(): Promise<string[]>;
}

export interface AllInOneOptions {
  /** The suite's broker (KAFKA_BROKERS) instead of the all-in-one's own. */
  broker?: SuiteBroker;
  clickhouseUrl?: string;
  extraEnv?: Record<string, string>;
}

export class AllInOne implements Topology {
  readonly name = 'all-in-one';
  private proc: Proc | null = null;
  private ports = { ingest: 0, query: 0, sink: 0, bi: 0, kafka: 0, controller: 0 };
  /** Every PID this topology's processes started, so stop() can make sure none outlives it. */
  private readonly known = new Set<number>();
  private starts = 0;

  constructor(
    private readonly ws: Workspace,
    private readonly o: AllInOneOptions = {},
  ) {}

  get ingestUrl(): string {
    return `http://127.0.0.1:${this.ports.ingest}`;
  }

  get queryUrl(): string {
    return `http://127.0.0.1:${this.ports.query}`;
  }

  /** The read-only SQL port for BI tools (BI_PORT), served on chDB. */
  get sqlUrl(): string {
    return `http://127.0.0.1:${this.ports.bi}`;
  }

  /** The running `trackhouse start` process. */
  get main(): Proc | null {
    return this.proc;
  }

  /** The suite's broker it uses (KAFKA_BROKERS), if any. */
  get suiteBroker(): SuiteBroker | null {
    return this.o.broker ?? null;
  }

  private env(ports: typeof this.ports): Record<string, string> {
    return {
      ...baseEnv(this.ws),
      INGEST_PORT: String(ports.ingest),
      QUERY_PORT: String(ports.query),
      SINK_PORT: String(ports.sink),
      BI_PORT: String(ports.bi),
      BI_NATIVE_PORT: 'off',
      LOCAL_KAFKA_PORT: String(ports.kafka),
      LOCAL_KAFKA_CONTROLLER_PORT: String(ports.controller),
      ...(this.o.broker ? { KAFKA_BROKERS: this.o.broker.brokers } : {}),
      ...(this.o.clickhouseUrl ? { CLICKHOUSE_URL: this.o.clickhouseUrl } : {}),
      ...this.o.extraEnv,
    };
  }

  /** A second `trackhouse start` on the same data dir, on ports of its own (a person's second `npm start`). */
  async startAnother(): Promise<Proc> {
    const ports = { ingest: await freePort(), query: await freePort(), sink: await freePort(), bi: await freePort(), kafka: await freePort(), controller: await freePort() };
    return startProc('start-again', process.execPath, [CLI, 'start'], this.env(ports), this.ws.path('start-second.log'));
  }

  async start(): Promise<void> {
    if (this.ports.ingest === 0) {
      for (const k of Object.keys(this.ports) as (keyof typeof this.ports)[]) this.ports[k] = await freePort();
    }
    if (this.o.broker && !this.o.broker.running()) await this.o.broker.start();
    const env = this.env(this.ports);
    const proc = startProc('start', process.execPath, [CLI, 'start'], env, this.ws.path(`start-${++this.starts}.log`));
    this.proc = proc;
    this.known.add(proc.pid);
    try {
      await waitReady('trackhouse start', [`${this.ingestUrl}/readyz`, `${this.queryUrl}/readyz`], READY_TIMEOUT_MS, () => !proc.running());
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${proc.logFile}\n${tailOf(proc.logFile)}`);
    }
    await this.parts();
  }

  async parts(): Promise<Parts> {
    const main = this.proc?.pid;
    if (!main || !this.proc?.running()) return {};
    const out: Parts = { main, sink: main, query: main };
    const ingest = await findDescendant(main, /main\.js ingest$/, 5_000).catch(() => null);
    if (ingest) out.ingest = ingest.pid;
    if (!this.o.broker) {
      const broker = await findDescendant(main, /^\S*java .*kafka\.Kafka /, 5_000).catch(() => null);
      if (broker) {
        out.broker = broker.pid;
        this.known.add(broker.ppid); // the watchdog shell
      }
    } else if (this.o.broker.running()) {
      out.broker = this.o.broker.jvmPid;
    }
    for (const pid of [out.ingest, out.broker]) if (pid && pid !== this.o.broker?.jvmPid) this.known.add(pid);
    return out;
  }

  async healthy(): Promise<boolean> {
    if (!this.proc?.running()) return false;
    const ok = await Promise.all([`${this.ingestUrl}/readyz`, `${this.queryUrl}/readyz`].map((u) => fetch(u, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)));
    return ok.every(Boolean);
  }

  /** The all-in-one cannot restart one of its parts from outside: stop it (as a person would) and start it again. */
  async repair(): Promise<string[]> {
    const notes: string[] = [];
    if (this.o.broker && !this.o.broker.running()) {
      await this.o.broker.waitGone();
      await this.o.broker.start();
      notes.push('restarted the broker');
    }
    if (this.proc?.running()) {
      notes.push('stopped the all-in-one (SIGTERM)');
      notes.push(...(await this.stopProcesses()));
    } else {
      notes.push(`the all-in-one had exited (code ${await this.proc?.exited})`);
      notes.push(...(await this.reapKnown()));
    }
    await this.start();
    notes.push('started it again');
    return notes;
  }

  /** The sink shares the main process: the whole all-in-one restarts. */
  async restartSink(): Promise<string[]> {
    const notes = ['stopped the all-in-one (SIGTERM)', ...(await this.stopProcesses())];
    await this.start();
    return [...notes, 'started it again'];
  }

  async stop(): Promise<string[]> {
    const notes = await this.stopProcesses();
    await this.o.broker?.stop();
    return notes;
  }

  private async stopProcesses(): Promise<string[]> {
    const notes: string[] = [];
    if (this.proc?.running()) {
      await this.parts();
      const t0 = performance.now();
      const code = await this.proc.stop(30_000);
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      if (code === 137) notes.push(`did not exit within 30 s of SIGTERM: SIGKILLed`);
      else if (code !== 0) notes.push(`exited ${code} after SIGTERM (${s} s)`);
    }
    notes.push(...(await this.reapKnown()));
    return notes;
  }

  private async reapKnown(): Promise<string[]> {
    const pids = [...this.known].filter((p) => p !== this.proc?.pid);
    const killed = await reap(pids, 20_000);
    for (const p of pids) this.known.delete(p);
    return killed.length > 0 ? [`SIGKILLed ${killed.length} leftover process(es) of the all-in-one (pid ${killed.join(', ')})`] : [];
  }
}

/** ClickHouse for the split deployment: a chDB data dir served over HTTP, behind a fault proxy. */
export class SuiteClickHouse {
  private proc: Proc | null = null;
  private port = 0;
  private faultProxy: FaultProxy | null = null;
  private proxyPort = 0;

  constructor(private readonly ws: Workspace) {}

  /** Between trackhouse and ClickHouse: a case switches it to make ClickHouse hang or answer slowly. */
  get proxy(): FaultProxy {
    if (!this.faultProxy) throw new Error('ClickHouse is not started');
    return this.faultProxy;
  }

  /** The URL trackhouse is given: the proxy's. */
  get url(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
    this.proc = startProc('clickhouse', process.execPath, ['--import', existsSync(tsx) ? tsx : 'tsx', path.join(ROOT, 'chaos', 'lib', 'chdb-http.ts'), this.ws.path('clickhouse'), String(this.port)], baseEnv(this.ws), this.ws.path('clickhouse.log'));
    await waitReady('chDB over HTTP', [`http://127.0.0.1:${this.port}/ping`], 60_000, () => !this.proc!.running());
    this.faultProxy = new FaultProxy({ host: '127.0.0.1', port: this.port });
    this.proxyPort = await this.faultProxy.start();
  }

  async stop(): Promise<void> {
    await this.faultProxy?.stop();
    await this.proc?.stop(20_000);
  }
}

export interface SplitOptions {
  extraEnv?: Record<string, string>;
}

type Role = 'ingest' | 'sink' | 'query';

export class Split implements Topology {
  readonly name = 'split';
  readonly broker: SuiteBroker;
  readonly clickhouse: SuiteClickHouse;
  private readonly procs = new Map<Role, Proc>();
  private readonly ports: Record<Role, number> = { ingest: 0, sink: 0, query: 0 };
  private readonly starts: Record<Role, number> = { ingest: 0, sink: 0, query: 0 };

  constructor(
    private readonly ws: Workspace,
    private readonly o: SplitOptions = {},
  ) {
    this.broker = new SuiteBroker(ws);
    this.clickhouse = new SuiteClickHouse(ws);
  }

  get ingestUrl(): string {
    return `http://127.0.0.1:${this.ports.ingest}`;
  }

  get queryUrl(): string {
    return `http://127.0.0.1:${this.ports.query}`;
  }

  private env(): Record<string, string> {
    return {
      ...baseEnv(this.ws),
      KAFKA_BROKERS: this.broker.brokers,
      CLICKHOUSE_URL: this.clickhouse.url,
      INGEST_PORT: String(this.ports.ingest),
      QUERY_PORT: String(this.ports.query),
      SINK_PORT: String(this.ports.sink),
      ...this.o.extraEnv,
    };
  }

  async start(): Promise<void> {
    for (const r of Object.keys(this.ports) as Role[]) this.ports[r] = await freePort();
    await Promise.all([this.broker.start(), this.clickhouse.start()]);
    const migrate = startProc('migrate', process.execPath, [CLI, 'migrate'], this.env(), this.ws.path('migrate.log'));
    const code = await migrate.exited;
    if (code !== 0) throw new Error(`trackhouse migrate exited ${code}:\n${tailOf(migrate.logFile)}`);
    await Promise.all((['sink', 'query', 'ingest'] as Role[]).map((r) => this.startRole(r)));
  }

  private portOf(r: Role): number {
    return this.ports[r];
  }

  async startRole(r: Role): Promise<void> {
    const proc = startProc(r, process.execPath, [CLI, r], this.env(), this.ws.path(`${r}-${++this.starts[r]}.log`));
    this.procs.set(r, proc);
    try {
      await waitReady(`trackhouse ${r}`, [`http://127.0.0.1:${this.portOf(r)}/readyz`], READY_TIMEOUT_MS, () => !proc.running());
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${proc.logFile}\n${tailOf(proc.logFile)}`);
    }
  }

  async parts(): Promise<Parts> {
    const pid = (r: Role) => (this.procs.get(r)?.running() ? this.procs.get(r)!.pid : undefined);
    return { ingest: pid('ingest'), sink: pid('sink'), query: pid('query'), broker: this.broker.running() ? this.broker.jvmPid : undefined };
  }

  async healthy(): Promise<boolean> {
    const urls = [`${this.ingestUrl}/readyz`, `${this.queryUrl}/readyz`, `http://127.0.0.1:${this.ports.sink}/readyz`];
    const ok = await Promise.all(urls.map((u) => fetch(u, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)));
    return ok.every(Boolean);
  }

  /** What an orchestrator does: start again each process that exited. */
  async repair(): Promise<string[]> {
    const notes: string[] = [];
    if (!this.broker.running()) {
      await this.broker.waitGone();
      await this.broker.start();
      notes.push('restarted the broker');
    }
    for (const r of ['sink', 'query', 'ingest'] as Role[]) {
      const p = this.procs.get(r);
      if (p && !alive(p.pid)) {
        notes.push(`restarted ${r} (it had exited ${await p.exited})`);
        await this.startRole(r);
      }
    }
    return notes;
  }

  async restartSink(): Promise<string[]> {
    const p = this.procs.get('sink');
    const code = p?.running() ? await p.stop(60_000) : null;
    await this.startRole('sink');
    return [`stopped the sink (exit ${code ?? 'already gone'}) and started it again`];
  }

  async stop(): Promise<string[]> {
    const notes: string[] = [];
    for (const r of ['ingest', 'sink', 'query'] as Role[]) {
      const p = this.procs.get(r);
      if (!p?.running()) continue;
      const code = await p.stop(30_000);
      if (code === 137) notes.push(`${r} did not exit within 30 s of SIGTERM: SIGKILLed`);
      else if (code !== 0) notes.push(`${r} exited ${code} after SIGTERM`);
    }
    await this.clickhouse.stop();
    await this.broker.stop();
    return notes;
  }
}
