// Thread names and priorities (Linux; elsewhere both do nothing).
//
// Named threads show in `top -H` and /proc/<pid>/task/*/comm. `trackhouse start` runs the sink
// (its decode workers, chDB's insert and merge threads) and the stream in the process of the
// query API's view, on a host of few cores: lowering the bulk threads there lets the threads a
// fresh event waits on (the view's builder, decode and LMDB threads, the HTTP thread) go first
// when the cores are short, while the bulk work still gets whatever they leave
// (docs/architecture/view.md, "Freshness"). `trackhouse query` may lower its background threads
// (QUERY_BACKGROUND_NICE: the view's and the stream's) so that its HTTP thread goes first
// (docs/architecture/query.md, "Background threads at a lower priority").
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { getPriority, setPriority } from 'node:os';

/** Thread names of this project (at most 15 bytes: the kernel's limit). */
export const THREAD = {
  viewBuilder: 'view-build',
  viewDecode: 'view-decode',
  sinkDecode: 'sink-decode',
  stream: 'stream',
} as const;

/** Names the calling thread (a worker thread names itself when it starts). */
export function nameThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // Not Linux (or no /proc): the name is only for people looking at threads.
  }
}

/**
 * The names of Node's own threads (the main thread, libuv's pool, V8's, a worker thread before it
 * names itself). Node 20 leaves them the process's name; Node 22 names libuv's pool and V8's task
 * scheduler, Node 24 every one of them (the kernel keeps 15 bytes of each).
 */
export const NODE_THREAD_NAMES: ReadonlySet<string> = new Set(['node', 'MainThread', 'libuv-worker', 'V8Worker', 'DelayedTaskSche', 'SignalInspector', 'WorkerThread']);

/**
 * The threads of `trackhouse query` no request waits on: the view's builder and decode threads
 * and the hosted stream's thread. Not the HTTP (main) thread, nor Node's unnamed ones: libuv's
 * pool runs lmdb-js's commits (lmdb-js 2.9 has no write thread of its own; its writes are N-API
 * async work) besides the file system and DNS work of every thread, and V8's threads run the HTTP
 * thread's parallel scavenges, which it waits for.
 */
export const QUERY_BACKGROUND: readonly string[] = [THREAD.viewBuilder, THREAD.viewDecode, THREAD.stream];

/**
 * Lowers to `nice` every thread of this process that is bulk work: one named in `bulk`, or any
 * thread not started by Node or by this project (chDB's thread pools), unless its priority was
 * set already. Threads appear later (chDB
 * grows its pools), so the scan runs every `everyMs` (a readdir and a small read per new thread).
 * Node's own threads are the ones that exist when it is called (call it before starting worker
 * threads), libuv's pool among them: they keep their priority whatever they are called later.
 * chDB renames a pool thread that ran one of its queries to "Unknown", and lowered by that name,
 * the pool ran the view's and the stream's LMDB commits at nice 10 (found 2026-12-05).
 * Resolves to a function that ends the scan.
 */
export async function lowerBulkThreads(bulk: readonly string[], nice: number, everyMs = 2_000): Promise<() => void> {
  // libuv starts every thread of its pool on its first task: after this one, they are all there.
  await stat(process.cwd()).catch(() => undefined);
  const ours = new Set<string>(Object.values(THREAD));
  const lowered = new Set<string>(bulk);
  return lowerWhere((name) => lowered.has(name) || !ours.has(name), nice, everyMs, true);
}

/**
 * Lowers to `nice` the threads of this process named in `names` and no other, unless a thread's
 * priority was set already; rescanned every `everyMs` for threads started later (the stream's
 * starts once the view has caught up). Returns a function that ends the scan.
 */
export function lowerNamedThreads(names: readonly string[], nice: number, everyMs = 2_000): () => void {
  const lowered = new Set<string>(names);
  return lowerWhere((name) => lowered.has(name), nice, everyMs, false);
}

/**
 * Every `everyMs`, each thread of this process seen for the first time with a name of its own,
 * lowered when `pick(name)`. `keepNodeThreads`: the threads with Node's name at the first scan are
 * never looked at again (see lowerBulkThreads).
 */
function lowerWhere(pick: (name: string) => boolean, nice: number, everyMs: number, keepNodeThreads: boolean): () => void {
  let self: string;
  try {
    self = readlinkSync('/proc/self');
  } catch {
    return () => {};
  }
  const seen = new Set<string>();
  let first = true;
  const scan = () => {
    let tids: string[];
    try {
      tids = readdirSync('/proc/self/task');
    } catch {
      return;
    }
    for (const tid of tids) {
      if (seen.has(tid) || tid === self) continue;
      let name: string;
      try {
        name = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
      } catch {
        continue; // ended meanwhile
      }
      if (NODE_THREAD_NAMES.has(name)) {
        if (first && keepNodeThreads) seen.add(tid);
        // A worker thread names itself once it runs: one with Node's name is looked at again next time.
        continue;
      }
      seen.add(tid);
      if (pick(name)) {
        try {
          // A thread whose priority was chosen (chDB runs one of its MemoryWorkers at -20) keeps it.
          if (getPriority(Number(tid)) === 0) setPriority(Number(tid), nice);
        } catch {
          // Ended meanwhile, or not permitted: it keeps its priority.
        }
      }
    }
    first = false;
  };
  scan();
  const timer = setInterval(scan, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
