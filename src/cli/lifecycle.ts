// Process lifecycle for the long-running commands: wait for SIGINT/SIGTERM, then run the
// component's graceful stop once, bounded by SHUTDOWN_TIMEOUT_MS; a second signal forces exit.
import type { Logger } from '../common/log.js';

export interface Stoppable {
  /** Stop accepting work, finish what is in flight, flush, release resources. */
  stop(): Promise<void>;
}

export function runUntilSignal(component: Stoppable, log: Logger, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
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
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      const timer = setTimeout(() => {
        log.error({ timeoutMs }, 'graceful stop took too long; exiting');
        process.exit(1);
      }, timeoutMs);
      timer.unref();
      component.stop().then(
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
