// A bench that measures each variant in a fresh child process (chDB keeps one engine per process),
// the variants interleaved over rounds since the machine's load drifts while it runs. The same file
// is the driver (no argument) and the child (its one JSON argument); each child prints one JSON line.
import { spawnSync } from 'node:child_process';

/**
 * In a child (an argument given): runs `measure` on it and prints the result. Otherwise runs
 * `self` once per argument of each round, in order, printing each child's line (or
 * `{"variant": ..., "failed": <exit code>}`).
 */
export async function interleaved<A extends { variant: string }>(self: string, measure: (a: A) => Promise<unknown>, rounds: number, args: readonly A[]): Promise<void> {
  const [, , arg] = process.argv;
  if (arg) {
    process.stdout.write(`${JSON.stringify(await measure(JSON.parse(arg) as A))}\n`);
    return;
  }
  for (let round = 0; round < rounds; round++) {
    for (const a of args) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', self, JSON.stringify(a)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      process.stdout.write(r.stdout || `${JSON.stringify({ variant: a.variant, failed: r.status })}\n`);
    }
  }
}
