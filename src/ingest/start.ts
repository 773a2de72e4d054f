// startIngest: the programmatic entry (CLI, all-in-one start, tests). INGEST_THREADS=1 runs the
// edge on the calling thread; N > 1 runs N edge threads that share one port (the first binds it,
// the rest bind the same port with SO_REUSEPORT, which uWebSockets.js sets by default on Linux, so
// the kernel spreads connections over the threads). The main thread then only supervises:
// metrics gathering, stop, and restarting a thread that died.
//
// Each thread has its own Kafka producer rather than handing records to one: kafkajs spends
// ~8 us of CPU per record (measured, see docs/architecture/ingest.md), so a single producer
// thread would cap every thread count at about one core's worth of records.
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/index.js';
import { startEdgeServer } from './server.js';
import type { FromWorker, ToWorker, WorkerInit } from './thread-messages.js';

export interface IngestOptions {
  config: Config;
  log: Logger;
  /** Metrics of the edge (one thread) or of the supervisor (several). */
  registry: Registry;
  /** Kafka bootstrap servers; defaults to config.kafka.brokers. */
  brokers?: string[];
}

export interface IngestHandle {
  /** The port it listens on (useful with INGEST_PORT=0). */
  readonly port: number;
  /** Graceful drain: /readyz 503, stop accepting, answer in-flight requests, flush Kafka, close. */
  stop(): Promise<void>;
}

export async function startIngest(opts: IngestOptions): Promise<IngestHandle> {
  const brokers = opts.brokers ?? opts.config.kafka.brokers;
  if (brokers.length === 0) throw new Error('startIngest needs Kafka brokers (config.kafka.brokers or the brokers option)');
  if (opts.config.ingest.threads <= 1) {
    return startEdgeServer({ config: opts.config, log: opts.log, registry: opts.registry, brokers, port: opts.config.http.ingestPort });
  }
  return startThreads(opts, brokers);
}

/** Picks the worker file next to this one: .ts under tsx/vitest, .js when built. */
function workerFile(): { url: URL; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  return { url: new URL(ts ? './worker.ts' : './worker.js', import.meta.url), execArgv: ts ? ['--import', 'tsx'] : [] };
}

class EdgeThread {
  worker!: Worker;
  stopping = false;
  constructor(
    readonly index: number,
    readonly supervisor: Supervisor,
  ) {}

  start(port: number): Promise<number> {
    const file = workerFile();
    const init: WorkerInit = { config: this.supervisor.config, brokers: this.supervisor.brokers, port, thread: this.index };
    const worker = new Worker(file.url, { workerData: init, execArgv: file.execArgv });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'listening':
            started = true;
            resolve(m.port);
            break;
          case 'failed':
            reject(new Error(`ingest thread ${this.index} failed to start: ${m.message}`));
            break;
          default:
            this.supervisor.onMessage(this, m);
        }
      });
      worker.on('error', (err) => {
        this.supervisor.log.error({ err, thread: this.index }, 'ingest thread crashed');
        if (!started) reject(err);
      });
      worker.on('exit', (code) => {
        if (!started) reject(new Error(`ingest thread ${this.index} exited with code ${code} before listening`));
        else if (!this.stopping) this.supervisor.restart(this, port, code);
      });
    });
  }

  post(m: ToWorker): void {
    this.worker.postMessage(m);
  }
}

class Supervisor {
  readonly threads: EdgeThread[] = [];
  private nextId = 0;
  private readonly jsonWaiters = new Map<number, (json: unknown[]) => void>();
  private readonly stopWaiters = new Map<EdgeThread, () => void>();

  constructor(
    readonly config: Config,
    readonly brokers: string[],
    readonly log: Logger,
    readonly registry: Registry,
  ) {}

  onMessage(t: EdgeThread, m: FromWorker): void {
    switch (m.type) {
      case 'metrics-json':
        this.jsonWaiters.get(m.id)?.(m.json);
        this.jsonWaiters.delete(m.id);
        break;
      case 'metrics-text':
        void this.metricsText().then(
          (text) => t.post({ type: 'metrics-text', id: m.id, text }),
          (err: unknown) => t.post({ type: 'metrics-text', id: m.id, text: `# metrics unavailable: ${String(err)}\n` }),
        );
        break;
      case 'stopped':
        this.stopWaiters.get(t)?.();
        break;
      default:
        break;
    }
  }

  /** Prometheus text summed over the supervisor's registry and every thread's. */
  async metricsText(): Promise<string> {
    const parts: unknown[][] = [await this.registry.getMetricsAsJSON()];
    const asks = this.threads.map(
      (t) =>
        new Promise<unknown[]>((resolve) => {
          const id = this.nextId++;
          const timer = setTimeout(() => {
            this.jsonWaiters.delete(id);
            resolve([]);
          }, 2_000);
          this.jsonWaiters.set(id, (json) => {
            clearTimeout(timer);
            resolve(json);
          });
          t.post({ type: 'metrics-json', id });
        }),
    );
    parts.push(...(await Promise.all(asks)));
    return AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  restart(t: EdgeThread, port: number, code: number): void {
    this.log.error({ thread: t.index, code }, 'ingest thread exited unexpectedly; starting a new one');
    t.start(port).catch((err: unknown) => this.log.error({ err, thread: t.index }, 'could not restart ingest thread'));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.threads.map(async (t) => {
        t.stopping = true;
        const exited = new Promise<void>((resolve) => t.worker.once('exit', () => resolve()));
        const stopped = new Promise<void>((resolve) => this.stopWaiters.set(t, resolve));
        t.post({ type: 'stop' });
        await Promise.race([stopped, exited]);
        // The thread ends by itself once its sockets and clients are closed; make sure it does.
        const timer = setTimeout(() => void t.worker.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

async function startThreads(opts: IngestOptions, brokers: string[]): Promise<IngestHandle> {
  const sup = new Supervisor(opts.config, brokers, opts.log, opts.registry);
  const n = opts.config.ingest.threads;
  try {
    const first = new EdgeThread(0, sup);
    sup.threads.push(first);
    const port = await first.start(opts.config.http.ingestPort);
    const rest = Array.from({ length: n - 1 }, (_, i) => new EdgeThread(i + 1, sup));
    sup.threads.push(...rest);
    await Promise.all(rest.map((t) => t.start(port)));
    opts.log.info({ port, threads: n }, 'ingest threads listening');
    let stopping: Promise<void> | undefined;
    return { port, stop: () => (stopping ??= sup.stop()) };
  } catch (err) {
    await Promise.allSettled(sup.threads.map((t) => t.worker?.terminate()));
    throw err;
  }
}
