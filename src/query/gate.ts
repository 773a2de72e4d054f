// Bounded concurrency in front of ClickHouse: at most `maxConcurrent` queries run, at most
// `maxQueued` wait (FIFO); beyond that a request fails at once with OverloadedError (503 +
// Retry-After) instead of queueing without bound. chDB runs parameterized queries one at a time
// anyway, so a long queue would only add latency and memory.
import { OverloadedError } from './errors.js';

export interface Gate {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly running: number;
  readonly queued: number;
}

export function createGate(maxConcurrent: number, maxQueued: number): Gate {
  let running = 0;
  const waiting: (() => void)[] = [];
  let head = 0;
  const release = () => {
    running--;
    if (head < waiting.length) {
      running++;
      const next = waiting[head]!;
      waiting[head++] = undefined as never;
      if (head > 1024 && head * 2 > waiting.length) {
        waiting.splice(0, head);
        head = 0;
      }
      next();
    }
  };
  return {
    get running() {
      return running;
    },
    get queued() {
      return waiting.length - head;
    },
    async run(task) {
      if (running >= maxConcurrent) {
        if (waiting.length - head >= maxQueued) throw new OverloadedError(waiting.length - head);
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        running++;
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
