import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// Vite would resolve `graphql` to its ESM build (package.json "module") in our files, while
// graphql-http and graphql-query-complexity, loaded by Node, get its CommonJS build: two copies of
// graphql, which refuses objects from the other. Node's own choice (CommonJS) for both, as in production.
const resolve = { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }] };

export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        test: {
          name: 'unit',
          // Unit tests sit beside the file they test; integration tests are in test/integration/.
          // bench/ holds one pure model with its test: the capacity model (bench/capacity.ts), a
          // planning tool over the bench's own results that ships with no process.
          include: ['src/**/*.test.ts', 'bench/**/*.test.ts'],
          // Before any test file imports kafkajs directly, so tests run the code production runs.
          setupFiles: ['test/support/fastpath.ts'],
          environment: 'node',
          // The property tests run thousands of cases: on a busy shared machine they outlast
          // vitest's 5 s default, which is a clock, not an assertion.
          testTimeout: 60_000,
        },
      },
      {
        resolve,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['test/support/fastpath.ts'],
          environment: 'node',
          globalSetup: ['test/support/kafka-global.ts'],
          // chDB binds one data directory per process: each test file gets its own process.
          pool: 'forks',
          // Two files at a time even on 2 cores (vitest's default there is one): these tests
          // mostly wait on processes, brokers and timers. Measured on this 2-core machine: the
          // same 54 files in 614 s instead of 970 s, all passing.
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
