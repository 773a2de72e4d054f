// Process lifecycle of the long-running commands (`ingest`, `sink`, `query`, `start`, `kafka run`):
// parts start in order and stop in reverse (one added with `stopFirst` stops before the rest), a
// signal drains and stops them, bounded by
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
// certificate files (reloadAll) and the process keeps running: from the Lifecycle's creation (and,
// through ./hangup.ts, from main.ts's first line), so a SIGHUP during start-up never ends it.
// One then is applied once, at ready(): the parts started before it hold the files as they were.
//
// The bound is hard: SHUTDOWN_TIMEOUT_MS after the signal (or after a supervised part gave up,
// which stops the parts with no signal: armCut) the process exits whatever its parts are
// doing (kafkajs retrying against a broker that is gone or paused, an insert that does not end),
// with one log line naming each part that had not stopped and what that leaves behind, and exit
// code 1; parts with child processes are killed first. A hard exit (this cut, a second signal) does
// not wait for a chDB statement still running, nor run libchdb's exit handlers: ./hardexit.ts. A stop that finishes in time exits the
// process at once (cli/main.ts), so timers and sockets a client library keeps cannot hold it.
//
// Supervised parts (the all-in-one's broker and ingest child) are restarted when they crash:
// see Supervised below.
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Counter } from '../common/metrics.js';
import type { ReadinessCheck } from '../common/http.js';
import { exitNow, prepareHardExit } from './hardexit.js';
import { settleHangup } from './hangup.js';

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
  /** What is left behind when SHUTDOWN_TIMEOUT_MS cuts its stop short (said in the exit's log line). */
  readonly ifCut?: string;
  /** Ends it at once when SHUTDOWN_TIMEOUT_MS has passed (a child process: SIGKILL). */
  kill?(): void;
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

/** How long before SHUTDOWN_TIMEOUT_MS the hard cut comes, so the exit lands inside the bound. */
export function exitMarginMs(timeoutMs: number): number {
  return Math.min(250, Math.floor(timeoutMs / 10));
}

/** Start-up was cut short by a signal; what had started is stopped. */
export class StartAborted extends InterruptedError {
  constructor() {
    super('start-up stopped by a signal');
  }
}

export type LifecycleState = 'starting' | 'running' | 'stopping' | 'stopped';

export class Lifecycle {
  /** In stop order from the end: pop() gives the next part to stop. */
  private readonly parts: Part[] = [];
  private readonly stopsFirst = new WeakSet<Part>();
  /** The part whose stop() is running. */
  private inStop: Part | null = null;
  private current: LifecycleState = 'starting';
  /** A stop asked for during start-up, honoured at the next step boundary. */
  private stopAsked = false;
  private stopping: Promise<boolean> | null = null;
  /** A SIGHUP came during start-up: reload at ready(). */
  private reloadAsked = false;
  private release!: (clean: boolean) => void;
  /** SHUTDOWN_TIMEOUT_MS's hard cut, armed by a signal or a supervised part's give-up (armCut). */
  private cut: NodeJS.Timeout | null = null;
  /** ready() was called: start-up had finished. */
  private wasReady = false;
  /** Resolves once every part is stopped: true when each stopped without an error. */
  readonly stopped = new Promise<boolean>((resolve) => (this.release = resolve));

  /** With reloadOnHangup, SIGHUP is handled from here on (a start-up with TLS on takes one too). */
  constructor(
    private readonly log: Logger,
    private readonly options: StopOptions,
  ) {
    if (options.reloadOnHangup) {
      process.on('SIGHUP', () => this.hangup());
      if (settleHangup(true)) this.hangup();
    } else {
      settleHangup(false);
    }
  }

  /** SIGHUP with TLS on: reload now, at the end of start-up, or not at all once stopping. */
  private hangup(): void {
    if (this.current === 'running' && this.stopping === null) {
      this.log.info({ signal: 'SIGHUP' }, 'reloading the TLS certificate files');
      void this.reloadAll();
    } else if (this.current === 'starting' && !this.stopRequested) {
      this.reloadAsked = true;
      this.log.info({ signal: 'SIGHUP' }, 'SIGHUP during start-up: the TLS certificate files are loaded again once every part has started');
    } else {
      this.log.info({ signal: 'SIGHUP' }, 'SIGHUP while stopping: nothing is reloaded');
    }
  }

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

  /**
   * A part has started: it is stopped with the others (newest first). A step boundary.
   * `stopFirst`: drained and stopped before every part without it, whenever it started (the
   * all-in-one starts its ingest early, so a restart takes events again within seconds, yet it
   * must still stop first, as data enters there).
   */
  add(part: Part, options?: { stopFirst?: boolean }): void {
    if (options?.stopFirst) this.stopsFirst.add(part);
    // The stop-first parts stay at the end of the list, which is where stopping begins.
    let at = this.parts.length;
    if (!this.stopsFirst.has(part)) while (at > 0 && this.stopsFirst.has(this.parts[at - 1]!)) at--;
    this.parts.splice(at, 0, part);
    this.checkpoint();
  }

  /** Start-up finished: from now on a stop request stops at once. */
  ready(): void {
    if (this.current === 'starting') this.current = 'running';
    this.wasReady = true;
    this.checkpoint();
    if (this.reloadAsked) {
      this.reloadAsked = false;
      this.log.info({ signal: 'SIGHUP' }, 'started: reloading the TLS certificate files, as asked during start-up');
      void this.reloadAll();
    }
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

  /**
   * Stops every part started so far, newest first (draining them first when asked). Once; a part
   * added after that stop finished (a start-up step under way when a supervised part gave up, not
   * a signal: add() then throws StartAborted) is stopped by the next call.
   */
  stopAll(drain = false): Promise<boolean> {
    if (this.stopping !== null && this.current === 'stopped' && this.parts.length > 0) {
      const before = this.stopping;
      this.stopping = (async () => (await this.stopParts()) && (await before))();
    }
    this.stopping ??= (async () => {
      this.current = 'stopping';
      const delay = this.options.drainDelayMs ?? 0;
      if (drain) {
        for (const part of [...this.parts].reverse()) part.drain?.();
        if (delay > 0) await sleep(delay);
      }
      return this.stopParts();
    })();
    return this.stopping;
  }

  /** Stops the parts left, newest first; true when each stopped without an error. */
  private async stopParts(): Promise<boolean> {
    this.current = 'stopping';
    let clean = true;
    while (this.parts.length > 0) {
      const part = this.parts.pop()!;
      this.inStop = part;
      try {
        await part.stop();
        this.log.info({ part: part.name }, 'stopped');
      } catch (err) {
        clean = false;
        this.log.error({ err, part: part.name }, 'error while stopping');
      }
    }
    this.inStop = null;
    this.current = 'stopped';
    this.release(clean);
    return clean;
  }

  /**
   * Every part has stopped, and the command waits for what no part can stop before it exits
   * (`start`: a BI statement chDB runs on, bounded by its own time limit): SHUTDOWN_TIMEOUT_MS's
   * cut no longer applies. A second signal still exits at once.
   */
  disarmCut(): void {
    if (this.cut !== null) clearTimeout(this.cut);
    this.cut = null;
  }

  /** The parts not stopped yet, the one stopping first. */
  unfinished(): Part[] {
    return [...(this.inStop ? [this.inStop] : []), ...[...this.parts].reverse()];
  }

  /**
   * SHUTDOWN_TIMEOUT_MS has passed: kills what can be killed, says what each unfinished part
   * leaves behind, and exits 1. Synchronous to the end: nothing may wait here.
   */
  private giveUp(timeoutMs: number): never {
    const left = this.unfinished();
    for (const part of left) {
      try {
        part.kill?.();
      } catch {
        /* already gone */
      }
    }
    const what = left.map((p) => `${p.name}: ${p.ifCut ?? 'its stop did not finish'}`);
    // During start-up the step under way (fetching jars, waiting for Kafka) is what did not end: a
    // signal's stop waits for it (state still 'starting'); a give-up's stop may be over already.
    const why = !this.wasReady && this.inStop === null ? 'while a start-up step was still running' : `before ${left.map((p) => p.name).join(', ')} stopped`;
    this.log.error(
      { timeoutMs, unfinished: left.map((p) => p.name), left: what },
      `SHUTDOWN_TIMEOUT_MS (${timeoutMs} ms) passed ${why}; exiting with code 1.${what.length > 0 ? ` Left: ${what.join('; ')}` : ''}`,
    );
    exitNow(1);
  }

  /**
   * Arms SHUTDOWN_TIMEOUT_MS's hard cut (once): a signal does, and so does a stop nobody signalled
   * (a supervised part gave up), so a stop or a start-up step that never ends cannot keep the
   * process (and the data dir lock) alive. Not cleared when the stop ends: see untilSignal.
   */
  armCut(): void {
    if (this.cut !== null) return;
    const { timeoutMs } = this.options;
    // The hard exits that may follow (the cut, a second signal) then wait for nothing.
    prepareHardExit();
    // Cut a little early: killing children, the log line and the exit itself take time, and an
    // orchestrator counts SHUTDOWN_TIMEOUT_MS to the process being gone, not to the cut.
    this.cut = setTimeout(() => this.giveUp(timeoutMs), timeoutMs - exitMarginMs(timeoutMs));
  }

  /**
   * Installs the SIGINT/SIGTERM handlers (and, under `trackhouse start`, a stop when the parent
   * goes away) and resolves with the exit code once a signal's stop has finished: 0, or 1 when a
   * part failed to stop or SHUTDOWN_TIMEOUT_MS passed first; a second signal after the repeat
   * window exits at once with 130. Install it before start-up, so a signal then is honoured too.
   */
  untilSignal(): Promise<number> {
    const { repeatWindowMs = REPEAT_WINDOW_MS } = this.options;
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
          exitNow(130);
        }
        stoppingSince = performance.now();
        log.info({ signal, drainDelayMs }, drainDelayMs > 0 ? 'stopping: not ready from now on, stopping after the drain delay' : 'stopping');
        // Not cleared when the stop ends: the command exits right after (cli/main.ts); should
        // anything keep it alive anyway, this still ends it. Not unref'd, for the same reason.
        this.armCut();
        void this.requestStop().then((clean) => {
          if (clean) log.info('stopped');
          done(clean ? 0 : 1);
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
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

/** RESTART_*: how a supervised part is brought back. */
export interface RestartPolicy {
  /**
   * Wait before the second restart in a row; doubles with each further crash in a row, up to
   * backoffMaxMs. A first crash (after a stable run) is restarted at once.
   */
  backoffMs: number;
  backoffMaxMs: number;
  /** Give up after this many crashes in a row, each within stableMs of its start. */
  giveUpAfter: number;
  /** A part that ran this long before crashing has its count of crashes in a row reset. */
  stableMs: number;
}

/** One run of a supervised part: a child process, from its start to its exit. */
export interface Incarnation {
  /** Resolves with the exit code when it ends, asked to or not. */
  readonly exited: Promise<number>;
  drain?(): void;
  stop(): Promise<void>;
  kill?(): void;
  /** Reloads its TLS certificate files (SIGHUP); a run started later reads them anyway. */
  reload?(): Promise<void>;
}

export interface SupervisedOptions {
  name: string;
  /** Starts one run; resolves once it is ready. */
  launch: () => Promise<Incarnation>;
  log: Logger;
  policy: RestartPolicy;
  /** trackhouse_part_restarts_total{part}. */
  restarts: Counter<'part'>;
  /** Called once when it gives up (repeated fast crashes): the caller stops everything. */
  onGiveUp: (message: string) => void;
  ifCut?: string;
}

/**
 * A part of the all-in-one that is restarted when it crashes (the local broker, the ingest child):
 * after an exit nobody asked for it launches it again: at once after a first crash (each second of
 * waiting is a second of 503s; a wait only helps against a crash loop), then after backoffMs,
 * doubling per further crash in a row, at most backoffMaxMs. It logs the crash and the restart and
 * counts the restart in trackhouse_part_restarts_total{part}. Its readiness check fails while it
 * is down. After giveUpAfter crashes in a row that each came within stableMs of a start, it stops
 * trying and calls onGiveUp with a message saying so.
 */
export class Supervised implements Part {
  readonly name: string;
  readonly ifCut?: string;
  private current: Incarnation;
  private startedAt = performance.now();
  private down: string | null = null;
  private crashesInARow = 0;
  private stopping = false;
  private relaunching: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  private constructor(
    private readonly o: SupervisedOptions,
    first: Incarnation,
  ) {
    this.name = o.name;
    if (o.ifCut !== undefined) this.ifCut = o.ifCut;
    this.current = first;
    this.watch(first);
  }

  /** Launches the first run (a failure there is a start-up failure, not a crash) and watches it. */
  static async start(o: SupervisedOptions): Promise<Supervised> {
    return new Supervised(o, await o.launch());
  }

  /** For /readyz: fails, saying why, while the part is down or restarting. */
  get readiness(): ReadinessCheck {
    return {
      name: this.name,
      check: async () => {
        if (this.down !== null) throw new Error(this.down);
      },
    };
  }

  private watch(run: Incarnation): void {
    void run.exited.then((code) => {
      if (this.stopping || run !== this.current) return;
      this.relaunching = this.recover(code);
    });
  }

  private async recover(exitCode: number): Promise<void> {
    const { log, policy, name } = this.o;
    let code = exitCode;
    for (;;) {
      const ranMs = performance.now() - this.startedAt;
      this.crashesInARow = ranMs < policy.stableMs ? this.crashesInARow + 1 : 1;
      if (this.crashesInARow > policy.giveUpAfter) {
        const message =
          `${name} crashed ${this.crashesInARow} times in a row, each within ${policy.stableMs} ms of its start ` +
          `(last exit code ${code}); giving up. Its log says why; fix that and start again`;
        this.down = `${name} is down: gave up after ${this.crashesInARow} fast crashes`;
        log.error({ part: name, exitCode: code, crashes: this.crashesInARow }, message);
        this.o.onGiveUp(message);
        return;
      }
      const delay = this.crashesInARow === 1 ? 0 : Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** (this.crashesInARow - 2));
      this.down = `${name} is down (exit code ${code}); restarting it`;
      log.error({ part: name, exitCode: code, crashesInARow: this.crashesInARow, restartInMs: delay }, `${name} exited unexpectedly; restarting it`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
      if (this.stopping) return;
      this.startedAt = performance.now();
      try {
        const run = await this.o.launch();
        this.current = run;
        this.o.restarts.inc({ part: name });
        this.down = null;
        log.warn({ part: name, crashesInARow: this.crashesInARow }, `${name} restarted`);
        if (this.stopping) {
          await run.stop();
          return;
        }
        this.watch(run);
        return;
      } catch (err) {
        if (this.stopping) return; // cut short by the stop
        log.error({ err, part: name }, `${name} failed to restart`);
        code = -1;
      }
    }
  }

  drain(): void {
    // From here on an exit is the stop, not a crash.
    this.stopping = true;
    this.wake?.();
    if (this.down === null) this.current.drain?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.relaunching;
    await this.current.stop();
  }

  kill(): void {
    this.stopping = true;
    this.current.kill?.();
  }

  async reload(): Promise<void> {
    if (this.down === null) await this.current.reload?.();
  }
}
