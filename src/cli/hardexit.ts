// The hard exits of the long-running commands (lifecycle.ts: SHUTDOWN_TIMEOUT_MS's cut, a second
// signal): the process ends at once, with the exit code the docs give (1, 130).
//
// process.exit() cannot promise that once chDB is in the process. After its 'exit' listeners,
// Node's exit joins libuv's pool threads, so it waits for a chDB statement still running on one
// (a BI statement: up to its 30 s limit; chDB cannot stop it), and then calls libc's exit(), which
// runs libchdb's exit handlers and static destructors while the engine's threads may still be at
// work: the process died of SIGSEGV (139) instead, in 2 of 60 such exits on this 2-core machine
// (a statement running, the connection closed, then process.exit(); 0 of 60 with _exit()). So a hard exit here runs the 'exit' listeners as process.exit() does (the data
// dir lock is released there), then calls libc's _exit(): no exit handlers, no destructors, no
// join. That leaves the data as a kill -9 does, which every part survives by design (a sink insert
// not confirmed is read again and deduplicated, chDB's parts and LMDB's pages are written whole;
// sink-crash, view-crash, stream-crash tests); the logs are written synchronously (common/log.ts).
//
// Node offers no _exit: process.abort() and a signal to itself lose the exit code. koffi (FFI,
// prebuilt for each platform, no compiler) calls it; process.exit() calls process.reallyExit()
// after the 'exit' event, the hook signal-exit and nyc use too. Where koffi is not installed (it is
// an optional dependency) or cannot load, a hard exit is process.exit() as before.
import { createRequire } from 'node:module';

type Exit = (code: number) => never;

let libcExit: Exit | null | undefined;

/** libc's _exit(), or null where it cannot be had. Loaded once (tens of ms): see prepareHardExit. */
function underscoreExit(): Exit | null {
  if (libcExit !== undefined) return libcExit;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    // The process itself (dlopen(NULL)): libc is in it, whichever libc it is (glibc, musl).
    const exit = koffi.load(null).func('void _exit(int)') as (code: number) => void;
    libcExit = (code: number): never => {
      exit(code);
      throw new Error('_exit returned'); // it does not
    };
  } catch {
    libcExit = null;
  }
  return libcExit;
}

/** Loads what exitNow needs ahead of time, so the exit itself waits for nothing (a first signal calls it). */
export function prepareHardExit(): boolean {
  return underscoreExit() !== null;
}

/**
 * Ends the process now with `code`: the 'exit' listeners run, then libc's _exit() (see above).
 * Synchronous; never returns.
 */
export function exitNow(code: number): never {
  const exit = underscoreExit();
  if (exit !== null) (process as unknown as { reallyExit: Exit }).reallyExit = exit;
  process.exit(code);
}
