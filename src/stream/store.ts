// The stream processor's state on disk: one LMDB environment (npm lmdb, prebuilt) holding the
// consumed offsets, the watermark, the volume buckets, each rule's groups and windows, the alert
// notifications and what receivers were last told. Everything a processed batch changes is
// written in ONE transaction (see processor.ts), so after a kill -9 at any point the store is
// as of the last commit, offsets included: the records after it are read again and counted
// once.
//
// Durability: lmdb-js's default on Linux (overlappingSync) commits atomically and flushes to disk
// right after; a kill -9 loses nothing committed (the OS holds it), a power loss may lose the
// last commits but never mixes state with offsets of another commit.
//
// Databases (keys in lmdb's ordered-binary form, values msgpack):
//   meta     'instance' | 'watermark' | 'backfill' | 'seq' | 'rule:<name>'  -> small values
//   offsets  [topic, partition]                              -> next offset to read
//   volume   [granularity, dimension, start, ...key parts]   -> VolumeCell
//   rejected [granularity, start, source, reason]            -> count
//   groups   [rule, group]                                   -> StoredGroup
//   notes    seq                                             -> Note (pending and the last sent)
//   told     [rule, group]                                   -> Told (from the notification log)
//   windows  [topic, partition]                              -> SavedWindow (./resendstate.ts): a
//            partition's resend window and the offset it reflects
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { ConfigError } from '../common/errors.js';
import { processRunning } from '../common/process.js';
import { makeOwnPrivateDir, makePrivateDir } from '../common/privatedir.js';
import { LMDB_FORMAT } from '../state/statestore.js';

export type Key = string | number | (string | number)[];

/** lmdb refuses a key over 1978 bytes ("String does not fit in target buffer"). */
const KEY_PART_MAX_BYTES = 1024;
const KEY_PART_HEAD = 256;

/**
 * A string as a key part: itself, or when over KEY_PART_MAX_BYTES in UTF-8 (an event name or user
 * id may have 8192 characters) its first 256 characters, `…` and a hash of the whole, so distinct
 * strings stay distinct keys.
 */
export function keyPart(s: string): string {
  if (s.length * 3 <= KEY_PART_MAX_BYTES || Buffer.byteLength(s) <= KEY_PART_MAX_BYTES) return s;
  const cut = KEY_PART_HEAD - (/[\uD800-\uDBFF]/.test(s[KEY_PART_HEAD - 1]!) ? 1 : 0);
  return `${s.slice(0, cut)}…${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;
}

export interface StreamDbs {
  readonly root: RootDatabase;
  readonly meta: Database<unknown, string>;
  readonly offsets: Database<number, Key>;
  readonly volume: Database<VolumeCellData, Key>;
  readonly rejected: Database<number, Key>;
  readonly groups: Database<StoredGroup, Key>;
  readonly notes: Database<Note, number>;
  readonly told: Database<Told, Key>;
  readonly windows: Database<unknown, Key>;
}

export interface VolumeCellData {
  /** events counted in their own bucket */
  n: number;
  /** events that arrived after the allowed lateness, counted in the bucket of their arrival */
  l: number;
  /** sums of VOLUME_SUM_PROPERTIES, by name */
  s: Record<string, number>;
  /** the users sketch (Hll bytes) */
  h: Uint8Array;
}

export interface StoredGroup {
  /** [bucket start, events, sum, rejected, users sketch or null] */
  b: [number, number, number, number, Uint8Array | null][];
  alert: boolean;
  te: number | null;
  de: number | null;
  ls: number | null;
  v: number;
}

export type NoteStatus = 'pending' | 'delivered' | 'dropped' | 'superseded' | 'suppressed';

/** One notification: a group entering or leaving the alert state. */
export interface Note {
  seq: number;
  /** Deterministic: the same rule, group, transition and window give the same id on every replica. */
  id: string;
  rule: string;
  group: string;
  kind: 'alert' | 'recovered';
  windowStart: number;
  windowEnd: number;
  value: number;
  early: boolean;
  /** Processing time when the transition was decided. */
  createdAt: number;
  status: NoteStatus;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  doneAt: number | null;
  /** Who delivered it: this replica, or the leader of another one (learned from the log). */
  by: 'self' | 'log' | null;
}

/** What a group's receiver was last told (the notification log's latest record for it). */
export interface Told {
  id: string;
  kind: 'alert' | 'recovered';
  windowEnd: number;
  status: 'delivered' | 'dropped';
  /** The state the receiver believes the group is in. */
  receiver: 'alert' | 'ok';
  at: number;
}

export interface OpenStore {
  readonly dbs: StreamDbs;
  /** This store's id, stable across restarts: names the replica's private reader group. */
  readonly instance: string;
  /** Why an existing store was wiped at open (it is then built again from Kafka), or null. */
  readonly wiped: string | null;
  close(): Promise<void>;
}

/**
 * Opens (or creates, 0700) the store in `dir`; `own`: it is trackhouse's `<data dir>/stream`, made
 * 0700 even if an earlier version made it 0755 (a STREAM_DIR that exists keeps its mode). A second
 * live process on the same folder is refused: both would read every partition and write the same
 * offsets.
 */
export function openStore(dir: string, own = false): OpenStore {
  if (own) makeOwnPrivateDir(dir);
  else makePrivateDir(dir);
  const lock = path.join(dir, 'trackhouse-stream.pid');
  try {
    const pid = Number(readFileSync(lock, 'utf8'));
    if (Number.isInteger(pid) && pid !== process.pid && processRunning(pid)) {
      throw new ConfigError(`STREAM_DIR ${dir} is in use by process ${pid}; give each stream process its own STREAM_DIR`, { variable: 'STREAM_DIR' });
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
  }
  writeFileSync(lock, String(process.pid));
  const wiped = wipeOtherFormat(dir);
  const root = open({ path: dir, maxDbs: 16, mapSize: 64 * 1024 ** 3 });
  writeFileSync(path.join(dir, FORMAT_FILE), STORE_FORMAT);
  const dbs: StreamDbs = {
    root,
    meta: root.openDB({ name: 'meta' }),
    offsets: root.openDB({ name: 'offsets' }),
    volume: root.openDB({ name: 'volume' }),
    rejected: root.openDB({ name: 'rejected' }),
    groups: root.openDB({ name: 'groups' }),
    notes: root.openDB({ name: 'notes' }),
    told: root.openDB({ name: 'told' }),
    windows: root.openDB({ name: 'windows' }),
  };
  let instance = dbs.meta.get('instance') as string | undefined;
  if (instance === undefined) {
    instance = randomUUID();
    dbs.meta.putSync('instance', instance);
  }
  return {
    dbs,
    instance,
    wiped,
    async close() {
      await root.close();
      rmSync(lock, { force: true });
    },
  };
}

/**
 * The LMDB file layout the store is written in (LMDB_FORMAT: src/state/statestore.ts says why).
 * A store without this mark (written by lmdb-js 3.x) or with another is never opened: its files are
 * removed and the store is built again from Kafka, as a new replica's is (a new instance, so a new
 * private reader group).
 */
const STORE_FORMAT = String(LMDB_FORMAT);
const FORMAT_FILE = 'trackhouse-stream.format';

function wipeOtherFormat(dir: string): string | null {
  const data = path.join(dir, 'data.mdb');
  if (!existsSync(data)) return null;
  let mark: string | null = null;
  try {
    mark = readFileSync(path.join(dir, FORMAT_FILE), 'utf8').trim();
  } catch {
    // No mark: written by lmdb-js 3.x.
  }
  if (mark === STORE_FORMAT) return null;
  rmSync(data, { force: true });
  rmSync(path.join(dir, 'lock.mdb'), { force: true });
  return mark === null ? 'it was written by lmdb-js 3 (no format mark)' : `its format is ${mark}, this build writes ${STORE_FORMAT}`;
}
