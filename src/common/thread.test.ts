import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { threadExecArgv } from './thread.js';

describe('threadExecArgv', () => {
  it('drops V8 heap sizes, with their value in either form, and keeps the rest', () => {
    const argv = ['--max-semi-space-size=64', '--enable-source-maps', '--min_semi_space_size', '16', '--max-old-space-size=2048', '--title=x'];
    expect(threadExecArgv(false, argv)).toEqual(['--enable-source-maps', '--title=x']);
  });

  it('adds tsx once for a .ts pool', () => {
    expect(threadExecArgv(true, ['--max-semi-space-size=64'])).toEqual(['--import', 'tsx']);
    expect(threadExecArgv(true, ['--import', 'tsx'])).toEqual(['--import', 'tsx']);
  });

  it('lets a process started with --max-semi-space-size start a worker with its execArgv', () => {
    // Node refuses the flag itself in a Worker's execArgv; what threadExecArgv returns starts.
    const script = `const { Worker } = require('node:worker_threads');
      const w = new Worker('require("node:worker_threads").parentPort.postMessage(1)', { eval: true, execArgv: JSON.parse(process.argv[1]) });
      w.on('message', (m) => { process.stdout.write(String(m)); w.terminate(); });`;
    const run = (execArgv: string[]) =>
      execFileSync(process.execPath, ['--max-semi-space-size=64', '-e', script, JSON.stringify(execArgv)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(() => run(['--max-semi-space-size=64'])).toThrow(/ERR_WORKER_INVALID_EXEC_ARGV/);
    expect(run(threadExecArgv(false, ['--max-semi-space-size=64']))).toBe('1');
  });
});
