// The erasure list: which users' events are erased (and up to when), which are suppressed, and
// the regulation requests that put them there. Kept in a compacted Kafka topic (./topic.ts) so
// every process that stores or accepts events (edge, sink, replay, import, the query API's view)
// holds the same list in memory and applies it before anything reaches storage.
//
// Record keys of the topic: `u/<user key>` (a user's state, merged over every regulation naming
// it) and `r/<regulation id>` (one regulation request, its status and counts). Values are JSON;
// a null value (tombstone) removes the entry.
//
// The user key is the events topic's record key: user_id, else anonymous_id (src/schema/row.ts).
// Matching on it lets the sink, replay and the view decide per record from the Kafka key alone,
// before decoding anything.
import { createHash } from 'node:crypto';

export const REGULATION_TYPES = ['delete', 'suppress', 'suppress_with_delete'] as const;
export type RegulationType = (typeof REGULATION_TYPES)[number];

export interface UserErasure {
  userKey: string;
  /** The edge and import refuse new events of this user. */
  suppressed: boolean;
  /**
   * Events of this user with a Kafka record time at or before this (Unix ms) are erased: nothing
   * stores them again (sink, replay, view). Null: none erased. Events sent after a plain `delete`
   * are the user's new data and are kept, as Segment does.
   */
  erasedUpTo: number | null;
  /** suppress_with_delete: every event of the user is skipped, whatever its time. */
  erasedAll: boolean;
  /** Ids of the regulations that made this state, oldest first. */
  regulations: string[];
  updatedAt: number;
}

export type RegulationStatus = 'running' | 'finished' | 'failed';

export interface RegulationCounts {
  /** Rows removed from `events`. */
  events: number;
  /** Days whose rollups were rebuilt. */
  days: number;
  /** Rows removed from this process's view (the query API's copy; other replicas drop theirs too). */
  viewEvents: number;
}

export interface Regulation {
  id: string;
  type: RegulationType;
  status: RegulationStatus;
  /** Admin key name that asked for it. */
  actor: string;
  /** The user keys (kept here so an interrupted run can be resumed). */
  userKeys: string[];
  createdAt: number;
  finishedAt: number | null;
  counts: RegulationCounts | null;
  error: string | null;
  /**
   * The days (YYYY-MM-DD) whose rollups the deletion must rebuild, written before the rows are
   * deleted: once they are gone, `events` no longer says which days held them, and a run that
   * failed or stopped after the delete must still rebuild those days when it runs again.
   * Absent in records written before it existed.
   */
  rollupDays?: string[];
}

export const userRecordKey = (userKey: string) => `u/${userKey}`;
export const regulationRecordKey = (id: string) => `r/${id}`;

/**
 * What a regulation does to a user's state (merged: a later delete never lifts a suppression).
 * `marginMs`: a delete covers records stamped up to this long after `at` (producers' clocks).
 */
export function applyRegulation(before: UserErasure | undefined, userKey: string, type: RegulationType, id: string, at: number, marginMs = 0): UserErasure {
  const s: UserErasure = before
    ? { ...before, regulations: [...before.regulations] }
    : { userKey, suppressed: false, erasedUpTo: null, erasedAll: false, regulations: [], updatedAt: at };
  if (type === 'suppress' || type === 'suppress_with_delete') s.suppressed = true;
  if (type === 'delete' || type === 'suppress_with_delete') s.erasedUpTo = Math.max(s.erasedUpTo ?? 0, at + marginMs);
  if (type === 'suppress_with_delete') s.erasedAll = true;
  if (!s.regulations.includes(id)) s.regulations.push(id);
  s.updatedAt = at;
  return s;
}

/** sha256 of a user key, hex: how the audit trail names users (it must not hold the ids). */
export function userHash(userKey: string): string {
  return createHash('sha256').update(userKey).digest('hex');
}

export type ErasureListener = (state: UserErasure) => void;

export class ErasureList {
  private readonly users = new Map<string, UserErasure>();
  /** Users whose events are skipped (erased), apart from the suppressed ones, for the hot checks. */
  private readonly erased = new Map<string, UserErasure>();
  private readonly suppressedKeys = new Set<string>();
  readonly regulations = new Map<string, Regulation>();
  private readonly listeners: ErasureListener[] = [];

  /** Applies one record of the topic (key as text, value as bytes or null). */
  applyRecord(key: string, value: Buffer | null): void {
    if (key.startsWith('u/')) {
      const userKey = key.slice(2);
      if (value === null) this.setUser(userKey, null);
      else this.setUser(userKey, parseUser(value, userKey));
    } else if (key.startsWith('r/')) {
      const id = key.slice(2);
      if (value === null) this.regulations.delete(id);
      else this.regulations.set(id, JSON.parse(value.toString('utf8')) as Regulation);
    }
  }

  setUser(userKey: string, state: UserErasure | null): void {
    if (state === null) {
      this.users.delete(userKey);
      this.erased.delete(userKey);
      this.suppressedKeys.delete(userKey);
      return;
    }
    this.users.set(userKey, state);
    if (state.erasedAll || state.erasedUpTo !== null) this.erased.set(userKey, state);
    else this.erased.delete(userKey);
    if (state.suppressed) this.suppressedKeys.add(userKey);
    else this.suppressedKeys.delete(userKey);
    for (const l of this.listeners) l(state);
  }

  user(userKey: string): UserErasure | undefined {
    return this.users.get(userKey);
  }

  /** Every user's state (for the view's builder thread, which keeps its own copy). */
  allUsers(): UserErasure[] {
    return [...this.users.values()];
  }

  get size(): number {
    return this.users.size;
  }

  /** Called for every user state applied from now on (the view drops the user's rows). */
  onUser(listener: ErasureListener): void {
    this.listeners.push(listener);
  }

  /**
   * Whether a record of the events topic must not be stored: its key (the user key) is erased up
   * to a time at or after the record's. Hot path of the sink and the view: with nobody erased it
   * is one size check; else one Map lookup and a key-to-text conversion.
   */
  skipsRecord(key: Buffer | null, timestamp: string | number): boolean {
    if (this.erased.size === 0 || key === null) return false;
    return this.skips(key.toString('utf8'), Number(timestamp));
  }

  /** Whether an event of `userKey` stored (or produced) at `time` (Unix ms) is erased. */
  skips(userKey: string, time: number): boolean {
    const s = this.erased.get(userKey);
    if (s === undefined) return false;
    return s.erasedAll || (s.erasedUpTo !== null && time <= s.erasedUpTo);
  }

  /** The edge's check: one Set lookup. */
  suppressed(userKey: string): boolean {
    return this.suppressedKeys.has(userKey);
  }

  /** Import brings history back: it refuses a user who is suppressed or has any events erased. */
  refusesImport(userKey: string): 'user_suppressed' | 'user_erased' | null {
    const s = this.users.get(userKey);
    if (s === undefined) return null;
    if (s.suppressed) return 'user_suppressed';
    return s.erasedAll || s.erasedUpTo !== null ? 'user_erased' : null;
  }
}

function parseUser(value: Buffer, userKey: string): UserErasure {
  const v = JSON.parse(value.toString('utf8')) as Partial<UserErasure>;
  return {
    userKey,
    suppressed: v.suppressed === true,
    erasedUpTo: typeof v.erasedUpTo === 'number' ? v.erasedUpTo : null,
    erasedAll: v.erasedAll === true,
    regulations: Array.isArray(v.regulations) ? v.regulations.map(String) : [],
    updatedAt: typeof v.updatedAt === 'number' ? v.updatedAt : 0,
  };
}
