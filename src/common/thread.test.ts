import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { threadExecArgv } from './thread.js';

/**
 * Starts a Worker with `execArgv` (undefined: none given) in a process started with `flags`;
 * what it printed: the worker's answer ('worker started') or the error code its construction threw
 * (after --trace-gc's own lines).
 */
function workerIn(flags: string[], execArgv: string[] | undefined): string {
  const script = `const { Worker } = require('node:worker_threads');
    try {
      const w = new Worker('require("node:worker_threads").parentPort.postMessage("worker started")', { eval: true, execArgv: JSON.parse(process.argv[1]) ?? undefined });
      w.on('message', (m) => { process.stdout.write(String(m)); w.terminate(); });
    } catch (err) { process.stdout.write(err.code); }`;
  const r = spawnSync(process.execPath, [...flags, '-e', script, JSON.stringify(execArgv ?? null)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  // --perf-basic-prof leaves its symbol map behind.
  rmSync(`/tmp/perf-${r.pid}.map`, { force: true });
  return r.stdout;
}

describe('threadExecArgv', () => {
  it('gives built pools no execArgv: their threads inherit this thread options', () => {
    expect(threadExecArgv(false, ['--max-semi-space-size=64', '--enable-source-maps'])).toBeUndefined();
  });

  it('from source, drops V8 heap sizes (with their value in either form), keeps the rest and adds tsx once', () => {
    const argv = ['--max-semi-space-size=64', '--enable-source-maps', '--min_semi_space_size', '16', '--max-old-space-size=2048', '--conditions=x'];
    expect(threadExecArgv(true, argv)).toEqual(['--enable-source-maps', '--conditions=x', '--import', 'tsx']);
    expect(threadExecArgv(true, ['--max-semi-space-size=64'])).toEqual(['--import', 'tsx']);
    expect(threadExecArgv(true, ['--import', 'tsx'])).toEqual(['--import', 'tsx']);
  });

  it('lets a process started with flags a Worker refuses (heap sizes, --trace-gc, --perf-basic-prof) start its pools', () => {
    for (const flag of ['--max-semi-space-size=64', '--trace-gc', '--perf-basic-prof']) {
      // Node refuses the flag in an execArgv given to a Worker (as this process's own was, before)...
      expect(workerIn([flag], [flag])).toContain('ERR_WORKER_INVALID_EXEC_ARGV');
      // ...and copies it without a word when the thread inherits it.
      const inherited = workerIn([flag], threadExecArgv(false, [flag]));
      expect(inherited).toContain('worker started');
      expect(inherited).not.toContain('ERR_');
    }
  });
});
