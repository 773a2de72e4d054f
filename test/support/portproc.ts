// A trackhouse process a test starts and watches: its log lines as they come, the port it says it
// listens on (from the first JSON log line whose text contains `portLine`), and its exit.
import { spawn, type ChildProcess } from 'node:child_process';

export interface PortProcess {
  proc: ChildProcess;
  /** The port it listens on, once it says so. */
  port: Promise<number>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its stdout lines and stderr chunks, in order. */
  log: string[];
}

export function spawnWithPort(args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; portLine: string }): PortProcess {
  const proc = spawn(process.execPath, args, { ...(opts.cwd ? { cwd: opts.cwd } : {}), env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  let onPort!: (p: number) => void;
  const port = new Promise<number>((resolve) => (onPort = resolve));
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      log.push(line);
      if (line.includes(opts.portLine)) onPort((JSON.parse(line) as { port: number }).port);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, port, exit, log };
}
