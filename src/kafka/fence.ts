// The rebalance fence for work a member keeps in flight between kafkajs batch handlers.
//
// kafkajs re-joins the group (and leaves it) through ConsumerGroup#joinAndSync and #leave, as
// soon as a heartbeat, fetch or commit reports a rebalance and the current fetch's handlers have
// returned. A sink that inserts round n while kafkajs fetches round n+1 has an insert in flight
// with no handler pending; if this member re-joined then, another member could be given the
// partition and read its floor from ClickHouse before the insert lands, and insert the same
// records again. So both methods are wrapped once, for every consumer of the process: before
// either runs, the member's hold (registered under its member id) is awaited. A member without a
// hold (replay, a consumer before its first join) is not delayed.
//
// It relies on kafkajs internals, like ./fastpath.ts: it is installed only into the kafkajs
// version it was written against, and installFence() says whether it is in, so the sink can fall
// back to rounds that do not overlap.
import { createRequire } from 'node:module';
import { PATCHED_KAFKAJS_VERSION } from './fastpath.js';

const require = createRequire(import.meta.url);

type Hold = () => Promise<void>;

interface ConsumerGroupLike {
  memberId: string | null;
  joinAndSync(): Promise<void>;
  leave(): Promise<void>;
}

/** Member id -> its hold; registered on each join, so a re-join finds the hold of the member it was. */
const byMember = new Map<string, Hold>();
/** A consumer group instance keeps the hold it had once joined (its member id can be reset to null). */
const byInstance = new WeakMap<object, Hold>();

let installed: boolean | null = null;

/** Wraps kafkajs's joinAndSync and leave (once per process); false when kafkajs is not the known version. */
export function installFence(): boolean {
  if (installed !== null) return installed;
  try {
    const version = (require('kafkajs/package.json') as { version: string }).version;
    const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupLike };
    const proto = ConsumerGroup.prototype;
    if (version !== PATCHED_KAFKAJS_VERSION || typeof proto.joinAndSync !== 'function' || typeof proto.leave !== 'function') {
      return (installed = false);
    }
    const join = proto.joinAndSync;
    const leave = proto.leave;
    proto.joinAndSync = async function (this: ConsumerGroupLike) {
      await holdOf(this)?.();
      await join.call(this);
      // The GROUP_JOIN listener registered this member's hold during the join.
      const hold = this.memberId ? byMember.get(this.memberId) : undefined;
      if (hold) byInstance.set(this, hold);
    };
    proto.leave = async function (this: ConsumerGroupLike) {
      await holdOf(this)?.();
      await leave.call(this);
    };
    return (installed = true);
  } catch {
    return (installed = false);
  }
}

function holdOf(group: ConsumerGroupLike): Hold | undefined {
  return byInstance.get(group) ?? (group.memberId ? byMember.get(group.memberId) : undefined);
}

/** Call on every join (kafkajs's GROUP_JOIN): the member's re-join and leave wait for `hold` first. */
export function registerHold(memberId: string, previous: string | null, hold: Hold): void {
  if (previous !== null && previous !== memberId) byMember.delete(previous);
  byMember.set(memberId, hold);
}

export function unregisterHold(memberId: string | null): void {
  if (memberId !== null) byMember.delete(memberId);
}
