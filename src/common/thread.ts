// Starts a worker thread from the module file next to the caller: `<name>.js` when built,
// `<name>.ts` when running from source (tsx, vitest). Node 20 does not apply `--import tsx` from a
// worker's execArgv to the worker's own entry file, so a .ts worker starts from a two-line
// bootstrap that registers tsx's loader in the new thread first.
//
// A pool given an execArgv (piscina) gets this process's without V8's heap flags: a Worker
// refuses them in its execArgv (ERR_WORKER_INVALID_EXEC_ARGV), and V8 applies them process-wide
// anyway, so the threads have them either way (docs/architecture/query.md, "Young generation").
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `callerUrl`: the caller's import.meta.url; `name`: the worker module's name without extension. */
export function startThread(callerUrl: string, name: string, options: WorkerOptions): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** V8's heap sizes: process-wide, and refused by a Worker's execArgv. */
const HEAP_FLAG = /^--(?:max|min)[-_]semi[-_]space[-_]size(=|$)|^--max[-_]old[-_]space[-_]size(=|$)/;

/**
 * The execArgv of a pool's threads: this process's without V8's heap flags (and their value when
 * it is the next argument), plus tsx's loader when the pool's module is a .ts file.
 */
export function threadExecArgv(fromSource: boolean, execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const m = HEAP_FLAG.exec(execArgv[i]!);
    if (m === null) out.push(execArgv[i]!);
    else if (m[1] === '' || m[2] === '') i++;
  }
  if (fromSource && !out.includes('tsx')) out.push('--import', 'tsx');
  return out;
}
