// The decode worker pool (piscina). Tasks are CPU only; their inputs and results move between
// threads as transferred buffers.
import { Piscina } from 'piscina';
import { threadExecArgv } from '../common/thread.js';
import type { DecodeResult, DecodeTask } from './types.js';

export interface DecodePool {
  decode(task: DecodeTask): Promise<DecodeResult>;
  readonly threads: number;
  destroy(): Promise<void>;
}

export function createDecodePool(threads: number): DecodePool {
  // Built: dist/sink/worker.js. From source (tests, tsx): the .ts file, loaded through tsx.
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url).href;
  const execArgv = threadExecArgv(fromSource);
  const pool = new Piscina({
    filename,
    minThreads: threads,
    maxThreads: threads,
    execArgv,
    // No queue limit here: the sink submits one fetch's tasks at a time, which bounds it.
    idleTimeout: 60_000,
  });
  return {
    threads,
    decode: (task) =>
      pool.run(task, {
        transferList: [task.values.buffer as ArrayBuffer, task.starts.buffer as ArrayBuffer, task.ends.buffer as ArrayBuffer, task.offsets.buffer as ArrayBuffer],
      }) as Promise<DecodeResult>,
    destroy: () => pool.destroy(),
  };
}
