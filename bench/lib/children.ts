// The processes a bench started, and what it must undo, when it is interrupted (Ctrl-C, SIGTERM)
// or exits without stopping them. Without this, Node exits at once on SIGINT and skips every
// `finally`: a `kill -INT` of bench/query-ab.ts left `trackhouse query` (1.4 GB, its view) and the
// chDB HTTP server running, and the bench's temp folder in /tmp (found 2026-12-07). The local
// broker needs nothing here: it stops when its parent's pipe closes (src/localkafka/broker.ts).
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
const undo: (() => void | Promise<void>)[] = [];
let installed = false;
/** How long stopped children get to exit before they are killed. */
const GRACE_MS = 10_000;

/** Stops `proc` (SIGTERM, then SIGKILL) if the bench is interrupted or exits while it runs. */
export function track<P extends ChildProcess>(proc: P): P {
  install();
  if (proc.exitCode === null && proc.signalCode === null) {
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
  }
  return proc;
}

/** Runs `fn` if the bench is interrupted, after its children exited. */
export function atInterrupt(fn: () => void | Promise<void>): void {
  install();
  undo.push(fn);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('SIGINT', () => void interrupted(130));
  process.once('SIGTERM', () => void interrupted(143));
  // An exit without the signal (an uncaught error, process.exit): no time to wait, so SIGKILL.
  process.once('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

async function interrupted(code: number): Promise<void> {
  process.stderr.write(`\n[bench] interrupted: stopping ${live.size} child process(es)\n`);
  // The bench's own awaits now fail (its servers are going away): that is expected, not news.
  process.on('uncaughtException', () => {});
  process.on('unhandledRejection', () => {});
  // `live` holds only children that have not exited (track() drops them on 'exit').
  const exits = [...live].map((p) => new Promise<void>((resolve) => p.once('exit', () => resolve())));
  for (const p of live) p.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const p of live) p.kill('SIGKILL');
  }, GRACE_MS);
  await Promise.all(exits);
  clearTimeout(timer);
  for (const fn of undo.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`[bench] clean-up after the interrupt failed: ${String(err)}\n`);
    }
  }
  process.exit(code);
}
