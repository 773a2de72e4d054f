// npm run bench -- erasure: how long erasing one user takes, rollups included (issue #15's target:
// one user among 10 M events in under 60 s on this machine), against the floor of a lightweight
// DELETE of another user in the same table (rows masked until a merge, not rewritten).
//
// bench/erasure-child.ts seeds a fresh chDB with ERASURE_BENCH_EVENTS events (10 M; BENCH_QUICK:
// 200 k) of ERASURE_BENCH_USERS users (100 k) over 90 days through the project's migrations, then
// runs the project's ErasureStore: ALTER TABLE events DELETE (mutations_sync = 2), the same on
// sink_recent_ids, and the rebuild of every day the user had events in the three rollups. Kafka
// is not involved: what a regulation adds there (one record, acks=all) costs milliseconds.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { ErasureResult } from './erasure-child.js';
import { track } from './lib/children.js';
import type { BenchContext, BenchSection, Scenario } from './types.js';

function child(ctx: BenchContext, args: unknown): Promise<ErasureResult> {
  return new Promise((resolve, reject) => {
    const proc = track(spawn(process.execPath, ['--import', 'tsx', path.join(ctx.root, 'bench', 'erasure-child.ts'), JSON.stringify(args)], { cwd: ctx.root, stdio: ['ignore', 'pipe', 'inherit'] }));
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`erasure-child.ts exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as ErasureResult);
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

export const run: Scenario = async (ctx): Promise<BenchSection> => {
  const events = Number(process.env.ERASURE_BENCH_EVENTS ?? (ctx.quick ? 200_000 : 10_000_000));
  const users = Number(process.env.ERASURE_BENCH_USERS ?? 100_000);
  ctx.log(`erasure: seeding ${events} events of ${users} users, then erasing one`);
  const load = os.loadavg();
  const r = await child(ctx, { dir: path.join(ctx.workDir, 'chdb'), events, users });
  if (r.left_of_user !== 0 || !r.rollups_equal_rebuild) throw new Error(`erasure left ${r.left_of_user} rows or rollups unequal to a rebuild: ${JSON.stringify(r)}`);
  const results = { ...r, vs_lightweight_delete: +(r.erasure_seconds / Math.max(r.lightweight_delete_seconds, 0.001)).toFixed(1), load_avg_at_start: load };
  const markdown = [
    '## Erasure',
    '',
    `One user (${r.user_events} events on ${r.rollup_days} days) erased among ${r.events} events of ${r.users} users (${r.parts_before} active parts, merged), chDB, rollups included.`,
    '',
    '| step | seconds |',
    '| --- | ---: |',
    `| ALTER DELETE on events and sink_recent_ids | ${r.delete_seconds} |`,
    `| rebuild of ${r.rollup_days} days in the three rollups | ${r.rollups_seconds} |`,
    `| **erasure, total** | **${r.erasure_seconds}** |`,
    `| floor: lightweight DELETE of another user (masks, no rewrite) | ${r.lightweight_delete_seconds} |`,
    '',
    `Nothing of the user left (${r.left_of_user} rows); every rollup equals an aggregation of events: ${r.rollups_equal_rebuild}. Seeding took ${r.seed_seconds} s, then merging the table's parts (OPTIMIZE FINAL, the table at rest) ${r.merge_seconds} s. Load average at start ${load.map((x) => x.toFixed(2)).join(' ')}.`,
  ].join('\n');
  return { name: 'erasure', results, markdown };
};
