// What V8 gives a fresh node process started with some flags: heapSizes() (src/common/heap.ts) read
// in that process, for tests that compare a query process's heap with a baseline's.
import { execFileSync } from 'node:child_process';
import type { heapSizes } from '../../src/common/heap.js';

/** The flags of a baseline with Node 20's 16 MB semi-spaces given explicitly (Node 24's V8 may pick 64 MB by itself). */
export const SEMI_SPACE_16_MB = ['--max-semi-space-size=16'];

/** heapSizes() of a fresh node process started with `args`. */
export function heapOf(args: readonly string[]): ReturnType<typeof heapSizes> {
  const script = `import('${new URL('../../src/common/heap.ts', import.meta.url).href}').then((m) => process.stdout.write(JSON.stringify(m.heapSizes())))`;
  return JSON.parse(execFileSync(process.execPath, [...args, '--import', 'tsx', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })) as ReturnType<typeof heapSizes>;
}
