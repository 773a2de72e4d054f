// The builder's decode threads (piscina), or none: then decoding runs in the builder's own thread.
import { Piscina } from 'piscina';
import { threadExecArgv } from '../common/thread.js';
import { decodeRecords, type DecodedRecords, type DecodeTask } from './decode.js';

export interface Decoder {
  decode(task: DecodeTask): Promise<DecodedRecords>;
  readonly threads: number;
  close(): Promise<void>;
}

export function createDecoder(threads: number): Decoder {
  if (threads === 0) {
    return { threads: 0, decode: async (task) => decodeRecords(task), close: async () => {} };
  }
  // Built: dist/view/decodethread.js. From source (tests, tsx): the .ts file, loaded through tsx.
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? './decodethread.ts' : './decodethread.js', import.meta.url).href;
  const execArgv = threadExecArgv(fromSource);
  const pool = new Piscina({ filename, minThreads: threads, maxThreads: threads, execArgv, idleTimeout: 60_000 });
  return {
    threads,
    decode: (task) =>
      pool.run(task, { transferList: [task.values.buffer as ArrayBuffer, task.ends.buffer as ArrayBuffer, task.empty.buffer as ArrayBuffer] }) as Promise<DecodedRecords>,
    close: () => pool.destroy(),
  };
}
