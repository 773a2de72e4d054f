// Starts a worker thread from the module file next to the caller: `<name>.js` when built,
// `<name>.ts` when running from source (tsx, vitest). Node 20 does not apply `--import tsx` from a
// worker's execArgv to the worker's own entry file, so a .ts worker starts from a two-line
// bootstrap that registers tsx's loader in the new thread first.
//
// A pool's threads (piscina) inherit this thread's options when built: Node copies them into a
// Worker without the check it makes of an execArgv given to it, which refuses every V8 option
// and process-wide one (ERR_WORKER_INVALID_EXEC_ARGV). Handing over process.execArgv made
// `node --trace-gc` or `--perf-basic-prof` (how an operator looks at GC or profiles with perf)
// stop the sink and the view's decode threads from starting: the view's builder restarted every
// 5 s and the query API never became ready. V8 applies its flags process-wide, so the threads
// have them either way (docs/architecture/query.md, "Young generation"). From source (tests, tsx)
// a pool needs tsx's loader, so it gets an execArgv: this process's without V8's heap flags.
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
 * The execArgv of a pool's threads: none when built (they inherit this thread's options); from
 * source, this process's without V8's heap flags (and their value when it is the next argument),
 * plus tsx's loader.
 */
export function threadExecArgv(fromSource: boolean, execArgv: readonly string[] = process.execArgv): string[] | undefined {
  if (!fromSource) return undefined;
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const m = HEAP_FLAG.exec(execArgv[i]!);
    if (m === null) out.push(execArgv[i]!);
    else if (m[1] === '' || m[2] === '') i++;
  }
  if (!out.includes('tsx')) out.push('--import', 'tsx');
  return out;
}
