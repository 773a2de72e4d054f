// Local state derived from a Kafka topic, kept in LMDB with the topic offsets it reflects: what a
// Kafka Streams state store is, for trackhouse's processors (the query API's per-user view; the
// same shape suits any processor that keeps state from a topic).
//
// The contract: a processor's writes and the next offset of each partition they came from go into
// LMDB in one transaction (write()), so after any crash the state and its offsets agree, and the
// processor resumes from the stored offsets with nothing lost or applied twice. The consumer never
// commits offsets to Kafka; the state is the only record of progress.
//
// Durability: the state can always be rebuilt from Kafka, so commits are not fsync'ed (LMDB's
// noSync: commits write their pages into the page cache, and the kernel writes them back). A
// killed process loses nothing (the page cache outlives it); a machine that crashes may tear the
// last writes, so the state records the kernel's boot id while it is open, and a state left open
// under another boot id is wiped and rebuilt. Where no boot id is known (not Linux), commits are
// synced instead. Measured (docs/architecture/view.md): noSync writes ~5x faster than synced
// commits for random keys.
//
// No write map (LMDB's own default): a transaction's dirty pages are copied in memory and written
// with pwrite() at commit, so the page cache marks dirty only the blocks written. Through a write
// map, every page LMDB touched dirtied the whole large folio behind it (ext4 on Linux 6.x caches
// files in readahead-sized folios), and the kernel wrote back ~20x the data from ~2 M view events
// on: a 10 M-event view built in 136.8 s without the write map against 175.6 s with it (same lock
// hold; docs/architecture/view.md, "Large builds"), for up to LMDB's dirty-page limit (512 MiB) of
// anonymous memory per transaction.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Logger } from '../common/log.js';
import { makePrivateDir } from '../common/privatedir.js';

export type { Database } from 'lmdb';

export interface StateOptions {
  /** Directory of the LMDB environment; created if missing. */
  path: string;
  /** Named key spaces, binary keys and values. */
  databases: readonly string[];
  /**
   * What the state was built for (layout version, topic, partitions held...). A state found with
   * another identity is wiped: its contents mean something else now.
   */
  identity: Readonly<Record<string, string | number>>;
  /**
   * A reason to wipe a state whose identity matches (or that `keeps` keeps), read from it before anything else is (its
   * contents are right but no longer what its owner needs: a window it cannot widen in place), or
   * null to keep it.
   */
  wipeIf?: (state: Pick<StateStore, 'db' | 'getMeta'>) => string | null;
  /**
   * Whether a state found with another identity (`stored`) is still good for `identity` (the view:
   * built before its topic gained partitions); it is then kept and its identity rewritten. Absent:
   * any other identity is wiped. The store format must match whatever this says.
   */
  keeps?(stored: Readonly<Record<string, unknown>>, identity: Readonly<Record<string, string | number>>): boolean;
  /** Initial map size (virtual; LMDB grows it when full). */
  mapSizeBytes?: number;
  /**
   * Extra lmdb-js options per database, for this thread only (e.g. a decoder that copies values
   * straight into a reader's buffer). Keys and values stay binary on disk.
   */
  dbOptions?: Readonly<Record<string, Record<string, unknown>>>;
  log: Logger;
}

export type Bytes = Database<Buffer, Buffer>;

export interface StateStore {
  readonly path: string;
  /** Why the state was wiped at open, or null if it was kept (or new). */
  readonly wiped: string | null;
  /** The identity it was built for, when that differed and `keeps` kept it; else null. */
  readonly keptFrom: Readonly<Record<string, unknown>> | null;
  db(name: string): Bytes;
  /** Next offset to read per partition of `topic`, as last written. */
  offsets(topic: string): Map<number, number>;
  /** Removes every stored offset of `topic` (in the transaction it is queued in). */
  removeOffsets(topic: string): void;
  /**
   * Runs `fn` (which queues puts and removes on this state's databases, synchronously) and writes
   * `offsets` of `topic` with it, in one LMDB transaction. Resolves once committed.
   */
  write(fn: () => void, topic?: string, offsets?: Iterable<readonly [number, number]>): Promise<void>;
  /**
   * Runs `fn` in one LMDB transaction on the calling thread and commits it before returning: its
   * puts are applied as they are made (none is queued for the write thread), so nothing they were
   * given is held until a commit. For a writer that does nothing else meanwhile (the bulk merge).
   */
  writeSync(fn: () => void): void;
  /**
   * Makes this thread's next read see every transaction committed so far, in any thread (lmdb-js
   * keeps a read snapshot until the end of the event-loop turn).
   */
  renewReads(): void;
  /** A small JSON value kept beside the data (written in the transaction it is queued in). */
  getMeta<T>(key: string): T | undefined;
  putMeta(key: string, value: unknown): void;
  /** Removes a meta value (in the transaction it is queued in). */
  removeMeta(key: string): void;
  /** Bytes in use by the data (pages of every database, free pages excluded). */
  usedBytes(): number;
  /** Bytes the file takes on disk (blocks allocated). */
  diskBytes(): number;
  close(): Promise<void>;
}

const META = '_meta';
/**
 * The LMDB file format trackhouse's stores are written in (this state's identity includes it; the
 * stream's store marks it in a file). 2: lmdb-js 2.9 (whose commits cost well under a millisecond;
 * lmdb-js 3.x spent tens of milliseconds per commit saving and re-checking its free-space list, the
 * floor of the view's freshness). A store written by lmdb-js 3.x keeps free space in another
 * layout, so it is wiped and rebuilt, never reused.
 */
export const LMDB_FORMAT = 2;
const OFFSETS = '_offsets';
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

function bootId(): string | null {
  try {
    return readFileSync(BOOT_ID_FILE, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

interface Opened {
  env: RootDatabase;
  dbs: Map<string, Bytes>;
  meta: Database<unknown, string>;
  offsets: Bytes;
}

/**
 * The page size of a new state, whatever the OS page size (64 KiB on some arm64 kernels). Larger
 * pages were measured for the view (docs/architecture/view.md, "Page size"): 16 KiB took 20 % more
 * CPU and 1.5 GB more anonymous memory for a 4 M-event build, and a fifth more disk, for no faster
 * build. An existing file keeps the page size it was created with (LMDB reads it from the file).
 */
export const PAGE_SIZE = 4096;

function openEnv(
  dir: string,
  names: readonly string[],
  noSync: boolean,
  mapSizeBytes: number | undefined,
  dbOptions: StateOptions['dbOptions'] = {},
): Opened {
  makePrivateDir(dir);
  const env = open({
    path: dir,
    maxDbs: names.length + 2,
    noSync,
    useWritemap: false,
    // lmdb-js syncs after commit by default on Linux; with noSync there is nothing to sync.
    overlappingSync: false,
    noMemInit: true,
    // Always given, so a new file's pages do not follow the OS page size; an existing file keeps
    // its own (mdb_env_open reads it from the meta page), and works as it is.
    pageSize: PAGE_SIZE,
    ...(mapSizeBytes ? { mapSize: mapSizeBytes } : {}),
  });
  const dbs = new Map<string, Bytes>();
  for (const name of names) dbs.set(name, env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary', ...dbOptions[name] }));
  const meta = env.openDB<unknown, string>({ name: META, encoding: 'json' });
  const offsets = env.openDB<Buffer, Buffer>({ name: OFFSETS, keyEncoding: 'binary', encoding: 'binary' });
  return { env, dbs, meta, offsets };
}

function offsetKey(topic: string, partition: number): Buffer {
  const t = Buffer.from(topic, 'utf8');
  const k = Buffer.allocUnsafe(t.length + 5);
  t.copy(k, 0);
  k[t.length] = 0;
  k.writeUInt32BE(partition, t.length + 1);
  return k;
}

function offsetValue(next: number): Buffer {
  const v = Buffer.allocUnsafe(8);
  v.writeDoubleLE(next, 0);
  return v;
}

/**
 * Opens (or creates) a state for its owner; wipes it when its identity differs or a crash may have
 * torn it. Other threads of the process that write or read it use attachState() afterwards.
 */
export async function openState(opts: StateOptions): Promise<StateStore> {
  const boot = bootId();
  const noSync = boot !== null;
  const names = opts.databases;
  let o = openEnv(opts.path, names, noSync, opts.mapSizeBytes, opts.dbOptions);
  let wiped: string | null = null;
  const stored = o.meta.get('identity') as Record<string, unknown> | undefined;
  const openMark = o.meta.get('open') as { boot: string | null } | undefined;
  const identity = { ...opts.identity, store: LMDB_FORMAT };
  const other = stored !== undefined && JSON.stringify(stored) !== JSON.stringify(identity) ? stored : null;
  if (other !== null && !(other.store === identity.store && opts.keeps?.(other, opts.identity) === true)) {
    wiped = identityChange(other, identity);
  } else if (openMark !== undefined && openMark.boot !== boot) {
    wiped = 'the machine restarted while it was open, so its last unsynced writes may be torn';
  } else if (stored !== undefined && opts.wipeIf !== undefined) {
    wiped = opts.wipeIf(wrap(o, opts.path, null, noSync, false));
  }
  if (wiped !== null) {
    opts.log.warn({ path: opts.path, reason: wiped }, 'local state wiped; it will be rebuilt');
    await o.env.close();
    rmSync(opts.path, { recursive: true, force: true });
    o = openEnv(opts.path, names, noSync, opts.mapSizeBytes, opts.dbOptions);
  }
  o.meta.putSync('identity', identity);
  o.meta.putSync('open', { boot });
  return wrap(o, opts.path, wiped, noSync, true, wiped === null ? other : null);
}

/**
 * Why a state built for `stored` is no good for `wanted`, for the log: the fields that differ, each
 * as before -> now (a store format missing from `stored`: lmdb-js 3.x files, before 2026-12-03).
 */
export function identityChange(stored: Readonly<Record<string, unknown>>, wanted: Readonly<Record<string, unknown>>): string {
  const show = (v: unknown) => (v === undefined ? 'none' : JSON.stringify(v));
  const keys = [...new Set([...Object.keys(stored), ...Object.keys(wanted)])].filter((k) => JSON.stringify(stored[k]) !== JSON.stringify(wanted[k]));
  const changes = keys.map((k) => `${k} ${show(stored[k])} -> ${show(wanted[k])}`).join(', ');
  const format = keys.includes('store') ? '; a file of another LMDB store format (lmdb-js 3.x wrote none) is never reused' : '';
  return `it was written for another ${keys.join(' and ')} than this build needs (${changes})${format}`;
}

/**
 * The same state, from another thread of the process that opened it with openState() (LMDB shares
 * the environment between threads). Its close() leaves the state open for the owner.
 */
export function attachState(opts: Pick<StateOptions, 'path' | 'databases' | 'mapSizeBytes' | 'dbOptions'>): StateStore {
  const noSync = bootId() !== null;
  return wrap(openEnv(opts.path, opts.databases, noSync, opts.mapSizeBytes, opts.dbOptions), opts.path, null, noSync, false);
}

function wrap(o: Opened, dir: string, wiped: string | null, noSync: boolean, owner: boolean, keptFrom: Readonly<Record<string, unknown>> | null = null): StateStore {
  const { env, dbs, meta } = o;
  const offsetsDb = o.offsets;
  const dataFile = path.join(dir, 'data.mdb');
  let closed: Promise<void> | null = null;
  const offsets = (topic: string): Map<number, number> => {
    const prefix = Buffer.from(`${topic}\0`, 'utf8');
    const end = Buffer.concat([prefix.subarray(0, prefix.length - 1), Buffer.from([1])]);
    const out = new Map<number, number>();
    for (const { key, value } of offsetsDb.getRange({ start: prefix, end })) {
      out.set(key.readUInt32BE(prefix.length), value.readDoubleLE(0));
    }
    return out;
  };

  return {
    path: dir,
    wiped,
    keptFrom,
    db(name) {
      const db = dbs.get(name);
      if (!db) throw new Error(`state database ${name} was not declared`);
      return db;
    },
    offsets,
    removeOffsets(topic) {
      for (const p of offsets(topic).keys()) void offsetsDb.remove(offsetKey(topic, p));
    },
    write(fn, topic, offsets) {
      // batch(): everything queued in the callback commits in one transaction (lmdb-js runs the
      // puts on its write thread).
      return env
        .batch(() => {
          fn();
          if (topic !== undefined && offsets !== undefined) {
            for (const [p, next] of offsets) offsetsDb.put(offsetKey(topic, p), offsetValue(next));
          }
        })
        .then(() => undefined);
    },
    writeSync(fn) {
      env.transactionSync(fn);
    },
    renewReads() {
      env.resetReadTxn();
    },
    getMeta<T>(key: string) {
      return meta.get(key) as T | undefined;
    },
    putMeta(key, value) {
      void meta.put(key, value);
    },
    removeMeta(key) {
      void meta.remove(key);
    },
    usedBytes() {
      let pages = 0;
      for (const db of [...dbs.values(), meta, offsetsDb]) {
        const s = db.getStats() as { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
        pages += s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
      }
      return pages * (env.getStats() as { pageSize: number }).pageSize;
    },
    diskBytes() {
      try {
        return existsSync(dataFile) ? diskUsage(dataFile) : 0;
      } catch {
        return 0;
      }
    },
    close() {
      closed ??= (async () => {
        await env.committed;
        if (!owner) {
          await env.close();
          return;
        }
        await meta.remove('open');
        await env.close();
        // Make a clean close durable, so a later machine crash cannot tear it.
        if (noSync && existsSync(dataFile)) {
          const fd = openSync(dataFile, 'r+');
          try {
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
        }
      })();
      return closed;
    },
  };
}

/** Blocks actually allocated (a file written through a write map was sparse, its length the map size). */
function diskUsage(file: string): number {
  return statSync(file).blocks * 512;
}

// lmdb-js 2.9 honours `exclusiveStart` and `inclusiveEnd` in range reads (read.js), and put()'s
// options (write.js: `append` is MDB_APPEND), but its types leave them out.
declare module 'lmdb' {
  interface RangeOptions {
    exclusiveStart?: boolean;
    inclusiveEnd?: boolean;
  }
  interface Database<V, K> {
    put(id: K, value: V, options: PutOptions): Promise<boolean>;
  }
}
