// What V8 does in a fresh node process started with some flags, for tests of src/common/heap.ts:
// heapSizes() read there (a query process's heap against a baseline's), where V8 puts a
// literal's objects after a burst (V8_FLAGS), and whether it marks the whole heap while young
// objects churn beside a query process's live set (QUERY_NODE_OPTIONS).
import { execFileSync } from 'node:child_process';
import type { heapSizes } from '../../src/common/heap.js';

/** The flags of a baseline with Node 20's 16 MB semi-spaces given explicitly (Node 24's V8 may pick 64 MB by itself). */
export const SEMI_SPACE_16_MB = ['--max-semi-space-size=16'];

/** What `body` (JS, with src/common/heap.ts as `m`) writes to stdout in a fresh node process started with `args`. */
function withHeapModule(args: readonly string[], body: string): string {
  const script = `import('${new URL('../../src/common/heap.ts', import.meta.url).href}').then((m) => { ${body} })`;
  return execFileSync(process.execPath, [...args, '--import', 'tsx', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
}

/** heapSizes() of a fresh node process started with `args`. */
export function heapOf(args: readonly string[]): ReturnType<typeof heapSizes> {
  return JSON.parse(withHeapModule(args, 'process.stdout.write(JSON.stringify(m.heapSizes()));')) as ReturnType<typeof heapSizes>;
}

/**
 * Of 1000 objects of one object literal made after a burst in which 400 k of them lived across
 * scavenges at full new space, how many a fresh node process (V8_FLAGS set first when
 * `flags`) made in the young generation. With pretenuring, V8 has moved the literal to the old
 * generation by then, and every later object of it lands there.
 */
export function youngAfterBurst(flags: boolean): number {
  const body = `
    if (${flags}) m.setV8Flags();
    const young = new Function('o', 'return %InYoungGeneration(o)');
    const make = (i) => ({ i, next: null });
    let keep = [];
    for (let r = 0; r < 60; r++) { for (let i = 0; i < 100000; i++) keep.push(make(i)); if (keep.length >= 400000) keep = []; }
    keep = [];
    let n = 0;
    for (let i = 0; i < 1000; i++) if (young(make(i))) n++;
    process.stdout.write(String(n));`;
  return Number(withHeapModule([...SEMI_SPACE_16_MB, '--allow-natives-syntax'], body));
}

/**
 * How many mark-compacts a fresh node process started with `args` (and V8_FLAGS) runs while it
 * holds a live set about a query process's (~30 MB, old) and makes 6 M young objects, each kept
 * until 100 k later ones (a ring, as pages and pending events live a little while), yielding to
 * the event loop every 20 k (V8 starts incremental marking from a task there). Nothing is kept
 * for good beyond the live set, so the old generation grows by little: a mark-compact here is
 * V8's soft limit (the old generation's room no larger than the new space's capacity), not growth.
 */
export function marksBesideLiveSet(args: readonly string[]): number {
  const body = `
    m.setV8Flags();
    import('node:perf_hooks').then(async ({ PerformanceObserver, constants }) => {
      let marks = 0;
      new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) marks++; }).observe({ entryTypes: ['gc'] });
      const live = [];
      for (let i = 0; i < 200000; i++) live.push({ i, s: 'live-' + i, a: [i, i + 1] });
      const ring = new Array(100000);
      for (let r = 0; r < 300; r++) {
        for (let i = 0; i < 20000; i++) ring[(r * 20000 + i) % ring.length] = { r, i, b: [r, i, r + i] };
        await new Promise((resolve) => setImmediate(resolve));
      }
      // GC entries reach the observer after the collection: let the last ones arrive.
      await new Promise((resolve) => setTimeout(resolve, 50));
      process.stdout.write(String(live.length === 200000 ? marks : -1));
    });`;
  return Number(withHeapModule(args, body));
}
