// Decode thread of the view's builder (piscina): ./decode.ts on a task, its result's buffers moved
// back to the builder thread, never copied.
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { isMainThread } from 'node:worker_threads';
import { nameThread, THREAD } from '../common/threads.js';
import { decodeRecords, transferables, type DecodeTask } from './decode.js';

if (!isMainThread) nameThread(THREAD.viewDecode);

export default function decode(task: DecodeTask): unknown {
  const result = decodeRecords(task);
  return move({ [transferableSymbol]: transferables(result), [valueSymbol]: result } as never);
}
