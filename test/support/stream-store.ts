// Stream stores (real lmdb) in temp folders, for the stream's unit tests.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { openStore, type OpenStore } from '../../src/stream/store.js';

/** Opens a store in a new temp folder per call; each is closed and removed after its test. */
export function tempStreamStores(prefix: string): () => OpenStore {
  const opened: { store: OpenStore; dir: string }[] = [];
  afterEach(async () => {
    for (const { store, dir } of opened.splice(0)) {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    const store = openStore(dir);
    opened.push({ store, dir });
    return store;
  };
}
