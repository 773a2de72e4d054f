// A program run to its end, for the test support that drives other languages' clients
// (python-clients.ts, sdk-clients.ts): its exit code and what it printed. (No vitest imports:
// test/support/prereqs.ts loads those modules outside vitest.)
import { spawn } from 'node:child_process';

export interface RunResult {
  /** The exit code; 137 when killed for running past `timeoutMs`. */
  code: number;
  /** stdout and stderr as they came. */
  text: string;
  stdout: string;
  stderr: string;
}

export function runChild(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const both: Buffer[] = [];
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => (both.push(d), out.push(d)));
    child.stderr.on('data', (d: Buffer) => (both.push(d), err.push(d)));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = (parts: Buffer[]) => Buffer.concat(parts).toString('utf8');
      resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 128), text: text(both), stdout: text(out), stderr: text(err) });
    });
  });
}
