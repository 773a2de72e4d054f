import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          // Before any test file imports kafkajs directly, so tests run the code production runs.
          setupFiles: ['src/kafka/fastpath.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['src/kafka/fastpath.ts'],
          environment: 'node',
          globalSetup: ['test/support/kafka-global.ts'],
          // chDB binds one data directory per process: each test file gets its own process.
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
