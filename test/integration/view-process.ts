// `trackhouse query` as its own process (the built CLI, as deployed), for the split-deployment
// tests: it reaches ClickHouse through CLICKHOUSE_URL and Kafka through KAFKA_BROKERS like any
// production replica, started with the node options every launcher gives it (QUERY_NODE_OPTIONS).
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { QUERY_NODE_OPTIONS } from '../../src/common/heap.js';
import type { Env } from '../../src/config/index.js';
import { RUN_TZ } from '../support/env.js';
import { spawnWithPort } from '../support/portproc.js';

export const MAIN = path.resolve('dist/cli/main.js');

export interface QueryProcess {
  proc: ChildProcess;
  /** The port it listens on, once it does. */
  port: Promise<number>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  log: string[];
  /** Resolves once /readyz answers 200 (the view caught up). */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function spawnQuery(env: Env): QueryProcess {
  if (!existsSync(MAIN)) throw new Error('dist/cli/main.js is missing: run npm run build first (npm test does)');
  const { proc, port, exit, log } = spawnWithPort([...QUERY_NODE_OPTIONS, MAIN, 'query'], { env: { PATH: process.env.PATH, ...RUN_TZ, ...env }, portLine: '"query API listening"' });
  const host = env.HOST ?? '127.0.0.1';
  return {
    proc,
    port,
    exit,
    log,
    async ready(timeoutMs = 120_000) {
      const p = await Promise.race([port, exit.then((e) => Promise.reject(new Error(`query exited (${JSON.stringify(e)}):\n${log.join('\n')}`)))]);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const res = await fetch(`http://${host}:${p}/readyz`);
          await res.arrayBuffer();
          if (res.status === 200) return;
        } catch {
          /* not listening yet */
        }
        if (Date.now() > deadline) throw new Error(`query on ${host}:${p} not ready in time:\n${log.slice(-20).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exit;
    },
  };
}
