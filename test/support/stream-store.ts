// Stream stores (real lmdb) in temp folders, for the stream's unit tests.
import { afterEach } from 'vitest';
import { openStore, type OpenStore } from '../../src/stream/store.js';
import { tempDir } from './env.js';

/** Opens a store in a new temp folder per call; each is closed and removed after its test. */
export function tempStreamStores(prefix: string): () => OpenStore {
  const opened: { store: OpenStore; dir: ReturnType<typeof tempDir> }[] = [];
  afterEach(async () => {
    for (const { store, dir } of opened.splice(0)) {
      await store.close();
      dir.remove();
    }
  });
  return () => {
    const dir = tempDir(prefix);
    const store = openStore(dir.path);
    opened.push({ store, dir });
    return store;
  };
}
