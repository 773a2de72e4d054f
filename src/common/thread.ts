// Starts a worker thread from the module file next to the caller: `<name>.js` when built,
// `<name>.ts` when running from source (tsx, vitest). Node 20 does not apply `--import tsx` from a
// worker's execArgv to the worker's own entry file, so a .ts worker starts from a two-line
// bootstrap that registers tsx's loader in the new thread first.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `callerUrl`: the caller's import.meta.url; `name`: the worker module's name without extension. */
export function startThread(callerUrl: string, name: string, options: WorkerOptions): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
