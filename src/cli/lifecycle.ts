// Process lifecycle for the long-running commands: wait for SIGINT/SIGTERM, then stop the
// component once, bounded by SHUTDOWN_TIMEOUT_MS; a second signal forces exit.
//
// A stop has two phases. drain(): /readyz answers 503 and new requests are refused, but the port
// stays open for SHUTDOWN_DRAIN_DELAY_MS, so a load balancer's next probe sees the 503 (instead of
// a refused connection it may retry elsewhere or count as a flake) and stops sending. Then
// stop(): the component's own graceful stop (answer what is in flight, flush, close).
//
// The same signal twice within a second counts once: a terminal's Ctrl-C goes to the whole
// foreground process group, and `npm start` (npm's run-script) forwards the SIGINT it got to its
// child again, so under npm every Ctrl-C arrives twice, a millisecond apart. Only a signal after
// that window is a person asking for an immediate exit.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/log.js';

export interface Stoppable {
  /** Optional first phase: not ready, new requests refused, the port still open. */
  drain?(): void;
  /** Stop accepting work, finish what is in flight, flush, release resources. */
  stop(): Promise<void>;
}

export interface StopOptions {
  /** SHUTDOWN_TIMEOUT_MS: bounds the whole stop, drain delay included. */
  timeoutMs: number;
  /** SHUTDOWN_DRAIN_DELAY_MS: time between drain() and stop(). */
  drainDelayMs?: number;
  /** A repeated signal within this window is the same one delivered twice (see above). */
  repeatWindowMs?: number;
}

export const REPEAT_WINDOW_MS = 1_000;

export function runUntilSignal(component: Stoppable, log: Logger, options: StopOptions): Promise<number> {
  const { timeoutMs, drainDelayMs = 0, repeatWindowMs = REPEAT_WINDOW_MS } = options;
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
          log.debug({ signal }, 'the same signal again at once (npm forwards the terminal\'s): already stopping');
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
      const stop = async () => {
        component.drain?.();
        if (drainDelayMs > 0) await sleep(drainDelayMs);
        await component.stop();
      };
      stop().then(
        () => {
          clearTimeout(timer);
          log.info('stopped');
          done(0);
        },
        (err: unknown) => {
          clearTimeout(timer);
          log.error({ err }, 'error while stopping');
          done(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Started by `trackhouse start` with an IPC channel: if that parent dies, stop too.
    if (process.channel) process.once('disconnect', onParentGone);
  });
}
