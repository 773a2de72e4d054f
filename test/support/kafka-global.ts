// vitest globalSetup for integration tests: one real Kafka broker for the whole run, on free
// ports, with its data in a temp folder and its jars cached in the project's .trackhouse/.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { LOCAL_KAFKA_VERSION } from '../../src/config/index.js';
import { startLocalBroker, type LocalBroker } from '../../src/localkafka/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
  }
}

let broker: LocalBroker | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-test-kafka-'));
  broker = await startLocalBroker({
    dataDir: dir,
    cacheDir: path.resolve('.trackhouse'),
    version: LOCAL_KAFKA_VERSION,
    port: 0,
    controllerPort: 0,
    instance: 'test',
    heapMb: 512,
  });
  project.provide('kafkaBrokers', broker.brokers);
}

export async function teardown(): Promise<void> {
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
