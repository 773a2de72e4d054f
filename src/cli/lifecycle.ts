// Process lifecycle of the long-running commands (`ingest`, `sink`, `query`, `start`, `kafka run`):
// parts start in order and stop in reverse, a signal drains and stops them, bounded by
// SHUTDOWN_TIMEOUT_MS. One small state machine:
//
//   starting --ready()--> running --signal--> stopping --(every part stopped)--> stopped
//      |                                          ^
//      +--signal: remembered; the start-up code --+  (at its next step boundary: add() or
//         checkpoint() throws StartAborted, and it calls stopAll())
//
// A stop has two phases: drain() on every part (newest first: /readyz 503, new requests refused,
// ports still open) for SHUTDOWN_DRAIN_DELAY_MS, then each part's stop() (its graceful stop),
// newest part first, so data stops where it enters before the parts behind it. A part that fails
// to stop is logged, the ones before it are still stopped, and the exit code is 1. The same
// signal twice within REPEAT_WINDOW_MS counts once; after it, a signal exits at once (130). Why the
// delay and the window: docs/architecture.md, "Processes". With TLS on, SIGHUP reloads the
// certificate files (reloadAll) and the process keeps running.
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export interface Stoppable {
  /** Optional first phase: not ready, new requests refused, the port still open. */
  drain?(): void;
  /** Stop accepting work, finish what is in flight, flush, release resources. */
  stop(): Promise<void>;
  /** What SIGHUP asks for (load the TLS certificate files again); open connections stay. */
  reload?(): Promise<void>;
}

/** A started piece of a process: a server, a client, a child process, the local broker. */
export interface Part extends Stoppable {
  readonly name: string;
}

export interface StopOptions {
  /** SHUTDOWN_TIMEOUT_MS: bounds the whole stop, drain delay included. */
  timeoutMs: number;
  /** SHUTDOWN_DRAIN_DELAY_MS: time between drain() and stop(). */
  drainDelayMs?: number;
  /** A repeated signal within this window is the same one delivered twice (see above). */
  repeatWindowMs?: number;
  /**
   * SIGHUP reloads the parts (their TLS certificates) instead of ending the process. Only when TLS
   * is on: otherwise SIGHUP keeps its default, so closing a terminal still ends `trackhouse start`.
   */
  reloadOnHangup?: boolean;
}

export const REPEAT_WINDOW_MS = 1_000;

/** Start-up was cut short by a signal; what had started is stopped. */
export class StartAborted extends InterruptedError {
  constructor() {
    super('start-up stopped by a signal');
  }
}

export type LifecycleState = 'starting' | 'running' | 'stopping' | 'stopped';

export class Lifecycle {
  private readonly parts: Part[] = [];
  private current: LifecycleState = 'starting';
  /** A stop asked for during start-up, honoured at the next step boundary. */
  private stopAsked = false;
  private stopping: Promise<boolean> | null = null;
  private release!: (clean: boolean) => void;
  /** Resolves once every part is stopped: true when each stopped without an error. */
  readonly stopped = new Promise<boolean>((resolve) => (this.release = resolve));

  constructor(
    private readonly log: Logger,
    private readonly options: StopOptions,
  ) {}

  get state(): LifecycleState {
    return this.current;
  }

  /** A stop was asked for (or is under way): start-up should not go on. */
  get stopRequested(): boolean {
    return this.stopAsked || this.stopping !== null;
  }

  /** Throws StartAborted when a stop was asked for during start-up. */
  checkpoint(): void {
    if (this.stopRequested) throw new StartAborted();
  }

  /** A part has started: it is stopped with the others (newest first). A step boundary. */
  add(part: Part): void {
    this.parts.push(part);
    this.checkpoint();
  }

  /** Start-up finished: from now on a stop request stops at once. */
  ready(): void {
    if (this.current === 'starting') this.current = 'running';
    this.checkpoint();
  }

  /**
   * What a signal asks for. Running: drain every part, wait the drain delay, stop them all.
   * Starting: remembered for the next step boundary; resolves once start-up has stopped what it
   * started.
   */
  requestStop(): Promise<boolean> {
    if (this.current === 'starting' && this.stopping === null) {
      this.stopAsked = true;
      return this.stopped;
    }
    return this.stopAll(true);
  }

  /**
   * Reloads every running part that can (SIGHUP), one after the other; resolves true when each
   * did. A part that fails keeps what it had; the error is logged.
   */
  async reloadAll(): Promise<boolean> {
    let ok = true;
    for (const part of [...this.parts]) {
      if (part.reload === undefined || this.stopping !== null) continue;
      try {
        await part.reload();
        this.log.info({ part: part.name }, 'reloaded');
      } catch (err) {
        ok = false;
        this.log.error({ err, part: part.name }, 'reload failed: the part keeps its previous certificate');
      }
    }
    return ok;
  }

  /** Stops every part started so far, newest first (draining them first when asked). Once. */
  stopAll(drain = false): Promise<boolean> {
    this.stopping ??= (async () => {
      this.current = 'stopping';
      const delay = this.options.drainDelayMs ?? 0;
      if (drain) {
        for (const part of [...this.parts].reverse()) part.drain?.();
        if (delay > 0) await sleep(delay);
      }
      let clean = true;
      while (this.parts.length > 0) {
        const part = this.parts.pop()!;
        try {
          await part.stop();
          this.log.info({ part: part.name }, 'stopped');
        } catch (err) {
          clean = false;
          this.log.error({ err, part: part.name }, 'error while stopping');
        }
      }
      this.current = 'stopped';
      this.release(clean);
      return clean;
    })();
    return this.stopping;
  }

  /**
   * Installs the SIGINT/SIGTERM handlers (and, under `trackhouse start`, a stop when the parent
   * goes away) and resolves with the exit code once a signal's stop has finished: 0, or 1 when a
   * part failed to stop or SHUTDOWN_TIMEOUT_MS passed first; a second signal after the repeat
   * window exits at once with 130. Install it before start-up, so a signal then is honoured too.
   */
  untilSignal(): Promise<number> {
    const { timeoutMs, repeatWindowMs = REPEAT_WINDOW_MS } = this.options;
    const drainDelayMs = this.options.drainDelayMs ?? 0;
    const log = this.log;
    return new Promise((resolve) => {
      let stoppingSince: number | null = null;
      const onParentGone = () => onSignal('SIGTERM');
      const done = (code: number) => {
        // The IPC channel to a `trackhouse start` parent would keep this process alive.
        if (process.channel) {
          process.off('disconnect', onParentGone);
          process.disconnect();
        }
        resolve(code);
      };
      const onSignal = (signal: NodeJS.Signals) => {
        if (stoppingSince !== null) {
          if (performance.now() - stoppingSince < repeatWindowMs) {
            log.debug({ signal }, "the same signal again at once (npm forwards the terminal's): already stopping");
            return;
          }
          log.warn({ signal }, 'second signal: exiting now');
          process.exit(130);
        }
        stoppingSince = performance.now();
        log.info({ signal, drainDelayMs }, drainDelayMs > 0 ? 'stopping: not ready from now on, stopping after the drain delay' : 'stopping');
        const timer = setTimeout(() => {
          log.error({ timeoutMs }, 'graceful stop took too long; exiting');
          process.exit(1);
        }, timeoutMs);
        timer.unref();
        void this.requestStop().then((clean) => {
          clearTimeout(timer);
          if (clean) log.info('stopped');
          done(clean ? 0 : 1);
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      if (this.options.reloadOnHangup) {
        process.on('SIGHUP', () => {
          log.info({ signal: 'SIGHUP' }, 'reloading the TLS certificate files');
          void this.reloadAll();
        });
      }
      // Started by `trackhouse start` with an IPC channel: if that parent dies, stop too.
      if (process.channel) process.once('disconnect', onParentGone);
    });
  }
}

/** One component until a signal: the single commands' whole lifecycle once it has started. */
export function runUntilSignal(component: Stoppable, log: Logger, options: StopOptions): Promise<number> {
  const life = new Lifecycle(log, options);
  const exited = life.untilSignal();
  life.add({ name: 'component', drain: component.drain?.bind(component), stop: () => component.stop() });
  life.ready();
  return exited;
}
