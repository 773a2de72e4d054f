// startIngest: the programmatic entry (CLI, tests). INGEST_THREADS=1 runs the edge on the calling
// thread; N > 1 runs N edge threads that bind the same port with SO_REUSEPORT (INGEST_PORT=0 is
// turned into a free port first), each with its own Kafka producer; the main thread supervises
// (metrics, stop). Threads are never terminated, only told to stop: a thread that ends with a uWS
// socket open aborts the process. Why each of these, measured: docs/architecture/ingest.md, "Threads".
import type { Worker } from 'node:worker_threads';
import { AggregatorRegistry, Registry } from 'prom-client';
import { TrackhouseError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { claimPort } from '../common/listen-errors.js';
import { freePort } from '../common/serve.js';
import { Pending } from '../common/pending.js';
import type { Config } from '../config/index.js';
import { startEdgeServer } from './server.js';
import type { FromWorker, ToWorker, WorkerInit } from './thread-messages.js';
import { randomCookielessSecret } from './formats/cookieless.js';
import { startThread } from '../common/thread.js';

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
  /** The HTTPS port when apart from `port` (INGEST_TLS_PORT), else null. */
  readonly tlsPort: number | null;
  /**
   * Loads TLS_CERT_FILE and TLS_KEY_FILE again, in every thread, for new connections; open ones
   * stay. Rejects (a ConfigError naming the setting) when the files do not load: the previous
   * certificate stays in use.
   */
  reloadTls(): Promise<void>;
  /** First phase of a stop: /readyz 503, new requests 503 + Connection: close, the port still open. */
  drain(): void;
  /** Graceful drain: /readyz 503, stop accepting, answer in-flight requests, flush Kafka, close. */
  stop(): Promise<void>;
}

export async function startIngest(given: IngestOptions): Promise<IngestHandle> {
  const opts = withCookielessSecret(given);
  const brokers = opts.brokers ?? opts.config.kafka.brokers;
  if (brokers.length === 0) throw new Error('startIngest needs Kafka brokers (config.kafka.brokers or the brokers option)');
  if (opts.config.ingest.threads <= 1) {
    return startEdgeServer({
      config: opts.config,
      log: opts.log,
      registry: opts.registry,
      brokers,
      port: opts.config.http.ingestPort,
      tlsPort: opts.config.tls.files ? opts.config.tls.ingestPort : null,
    });
  }
  return startThreads(opts, brokers);
}

/**
 * Without INGEST_COOKIELESS_SECRET, one random secret for the process, made here once so every
 * edge thread gives a PostHog cookieless visitor the same id (formats/cookieless.ts).
 */
function withCookielessSecret(opts: IngestOptions): IngestOptions {
  const c = opts.config;
  if (c.ingest.cookielessSecret !== null && c.ingest.cookielessSecret !== undefined) return opts;
  return { ...opts, config: { ...c, ingest: { ...c.ingest, cookielessSecret: randomCookielessSecret() } } };
}

function newWorker(workerData: WorkerInit): Worker {
  return startThread(import.meta.url, 'worker', { workerData });
}

class EdgeThread {
  worker!: Worker;
  stopping = false;
  exited = false;
  constructor(
    readonly index: number,
    readonly supervisor: Supervisor,
  ) {}

  start(port: number, tlsPort: number | null): Promise<number> {
    const init: WorkerInit = { config: this.supervisor.config, brokers: this.supervisor.brokers, port, tlsPort, thread: this.index };
    const worker = newWorker(init);
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
            // A typed error (a port in use, ...) stays typed, so the CLI prints it without a stack.
            reject(new TrackhouseError(m.code ?? 'INGEST_THREAD_FAILED', m.code !== undefined ? m.message : `ingest thread ${this.index} failed to start: ${m.message}`));
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
        this.exited = true;
        if (!started) reject(new TrackhouseError('INGEST_THREAD_FAILED', `ingest thread ${this.index} exited with code ${code} before listening`));
        else if (!this.stopping) this.supervisor.log.error({ thread: this.index, code }, 'ingest thread exited unexpectedly');
      });
    });
  }

  post(m: ToWorker): void {
    this.worker.postMessage(m);
  }
}

class Supervisor {
  readonly threads: EdgeThread[] = [];
  private readonly jsonWaiters = new Pending<unknown[]>();
  private readonly stopWaiters = new Map<EdgeThread, (clean: boolean) => void>();
  private readonly reloadWaiters = new Pending<Error | null>();

  constructor(
    readonly config: Config,
    readonly brokers: string[],
    readonly log: Logger,
    readonly registry: Registry,
  ) {}

  onMessage(t: EdgeThread, m: FromWorker): void {
    switch (m.type) {
      case 'metrics-json':
        this.jsonWaiters.resolve(m.id, m.json);
        break;
      case 'metrics-text':
        void this.metricsText().then(
          (text) => t.post({ type: 'metrics-text', id: m.id, text }),
          (err: unknown) => t.post({ type: 'metrics-text', id: m.id, text: `# metrics unavailable: ${String(err)}\n` }),
        );
        break;
      case 'stopped':
        this.stopWaiters.get(t)?.(m.clean);
        break;
      case 'tls-reloaded':
        this.reloadWaiters.resolve(m.id, m.error === undefined ? null : new TrackhouseError(m.code ?? 'TLS_RELOAD_FAILED', `ingest thread ${t.index}: ${m.error}`));
        break;
      default:
        break;
    }
  }

  /** Prometheus text summed over the supervisor's registry and every thread's. */
  async metricsText(): Promise<string> {
    const parts: unknown[][] = [await this.registry.getMetricsAsJSON()];
    // A thread that does not answer in 2 s (stuck, exiting) is left out of this scrape.
    const asks = this.threads.map((t) => this.jsonWaiters.ask((id) => t.post({ type: 'metrics-json', id }), { ms: 2_000, value: [] }));
    parts.push(...(await Promise.all(asks)));
    return AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  /** Every running thread reloads its certificate; rejects with the first thread's error. */
  async reloadTls(): Promise<void> {
    const answers = this.threads
      .filter((t) => !t.exited && !t.stopping)
      .map((t) => this.reloadWaiters.ask((id) => t.post({ type: 'reload-tls', id })));
    const failed = (await Promise.all(answers)).find((e) => e !== null);
    if (failed) throw failed;
  }

  async stop(): Promise<void> {
    const clean = await Promise.all(
      this.threads.map(async (t) => {
        if (t.worker === undefined || t.exited) return true;
        t.stopping = true;
        const exited = new Promise<boolean>((resolve) => t.worker.once('exit', () => resolve(true)));
        const stopped = new Promise<boolean>((resolve) => this.stopWaiters.set(t, resolve));
        t.post({ type: 'stop' });
        const ok = await Promise.race([stopped, exited]);
        // Its sockets and clients are closed now, so the thread ends by itself.
        const slow = setTimeout(() => this.log.warn({ thread: t.index }, 'ingest thread has stopped but not yet ended'), 5_000);
        await exited;
        clearTimeout(slow);
        return ok;
      }),
    );
    const unclean = clean.filter((ok) => !ok).length;
    if (unclean > 0) {
      throw new TrackhouseError('INGEST_UNFLUSHED', `${unclean} ingest threads gave up on requests Kafka had not acknowledged (logged by each)`);
    }
  }
}

async function startThreads(opts: IngestOptions, brokers: string[]): Promise<IngestHandle> {
  const sup = new Supervisor(opts.config, brokers, opts.log, opts.registry);
  const n = opts.config.ingest.threads;
  const host = opts.config.http.host;
  const port = opts.config.http.ingestPort === 0 ? await freePort(host) : opts.config.http.ingestPort;
  // Every thread binds the same ports (SO_REUSEPORT), so a port asked as 0 is chosen here once.
  const tlsAsked = opts.config.tls.files ? opts.config.tls.ingestPort : null;
  const tlsPort = tlsAsked === 0 ? await freePort(host) : tlsAsked;
  // Claimed once here: each thread binds them beside the others, so none of them can tell another
  // process's listener from its siblings'.
  await claimPort(host, port, 'INGEST_PORT');
  if (tlsPort !== null) await claimPort(host, tlsPort, 'INGEST_TLS_PORT');
  sup.threads.push(...Array.from({ length: n }, (_, i) => new EdgeThread(i, sup)));
  const started = await Promise.allSettled(sup.threads.map((t) => t.start(port, tlsPort)));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await sup.stop().catch(() => undefined);
    throw (failed as PromiseRejectedResult).reason;
  }
  opts.log.info({ port, tlsPort, threads: n }, 'ingest threads listening');
  let stopping: Promise<void> | undefined;
  return {
    port,
    tlsPort,
    reloadTls: () => sup.reloadTls(),
    drain: () => {
      for (const t of sup.threads) if (!t.exited) t.post({ type: 'drain' });
    },
    stop: () => (stopping ??= sup.stop()),
  };
}
