// Leader election on Kafka: every replica joins one consumer group on a topic with a single
// partition; the member the group assigns partition 0 to is the leader. When it leaves (a
// graceful stop) the partition moves at once; when it dies (kill -9, a lost node) it moves after
// the session timeout. Nothing is ever read from or written to the topic: the group's
// membership is the lease.
//
// A leader that is cut off from the broker learns it only when its next heartbeat fails, so for
// up to a session timeout two members may both believe they lead; callers make the work it
// guards idempotent (the notifier: deterministic ids, a log of what was sent, an idempotency
// header). kafkajs stays behind this file.
//
// Sticky (`sticky: true`): kafkajs's default assignor hands partition 0 to the first member by id,
// so the lease may move whenever a member joins. Work that must never run twice at once (the
// ClickHouse migrations, src/cli/migrations.ts) asks instead that the holder keep it through a
// rebalance: every member says in its join metadata whether it holds the lease, and the group's
// leader (whichever member the broker picks runs this assignor) gives partition 0 to that member.
// Such work also asks `fresh()` before each step: held, and confirmed by the broker (a heartbeat
// or a join) within half a session timeout, so a holder cut off from the broker stops starting
// steps before the broker can give the lease to another member.
import type { Assigner, Consumer, Kafka, PartitionAssigner } from 'kafkajs';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { kafkajs } from './kafkajs.js';

export interface LeaseOptions {
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  log: Logger;
  /** Named in its log lines: `holding the <name> lease: <holderDoes>`. */
  name: string;
  holderDoes: string;
  /** The holder keeps the lease through rebalances (see above); default false. */
  sticky?: boolean;
  /** Told after every join of the group, whether this member holds the lease or not. */
  onJoin?(leader: boolean): void;
  /** Told every change: true when this member holds the lease, false when it lost it. */
  onChange(leader: boolean): void;
}

export interface Lease {
  start(): Promise<void>;
  readonly leader: boolean;
  /** Held, and confirmed by the broker within half a session timeout. */
  fresh(): boolean;
  /** Leaves the group, so another member takes the lease at once. */
  stop(): Promise<void>;
}

const STICKY = 'TrackhouseStickyLease';

/** The member that gets partition 0: the one that says it holds it, else the first by id. */
export function leaseHolder(members: readonly { memberId: string; holds: boolean }[]): string | null {
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  return (sorted.find((m) => m.holds) ?? sorted[0])?.memberId ?? null;
}

function stickyAssigner(topic: string, holds: () => boolean): PartitionAssigner {
  return (): Assigner => {
    const { AssignerProtocol } = kafkajs();
    return {
      name: STICKY,
      version: 1,
      async assign({ members }) {
        const holder = leaseHolder(
          members.map((m) => ({ memberId: m.memberId, holds: AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData.toString() === 'holds' })),
        );
        return members.map((m) => ({
          memberId: m.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: { [topic]: m.memberId === holder ? [0] : [] }, userData: Buffer.alloc(0) }),
        }));
      },
      protocol({ topics }) {
        return { name: STICKY, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from(holds() ? 'holds' : '') }) };
      },
    };
  };
}

export function createLease(kafka: Kafka, opts: LeaseOptions): Lease {
  let leader = false;
  let stopped = false;
  /** When the broker last confirmed this member (a heartbeat or a join answered). */
  let confirmedAt = 0;
  // A member the broker dropped (cut off longer than a session) no longer claims it when it rejoins.
  const fresh = () => leader && !stopped && Date.now() - confirmedAt < opts.sessionTimeoutMs / 2;
  const consumer: Consumer = kafka.consumer({
    groupId: opts.groupId,
    ...(opts.sticky === true ? { partitionAssigners: [stickyAssigner(opts.topic, fresh)] } : {}),
    sessionTimeout: opts.sessionTimeoutMs,
    rebalanceTimeout: opts.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(opts.sessionTimeoutMs / 5)),
    // Nothing is read: the fetch loop only keeps the heartbeat going.
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
  });
  const set = (value: boolean) => {
    if (value === leader) return;
    leader = value;
    opts.log.info({ groupId: opts.groupId }, value ? `holding the ${opts.name} lease: ${opts.holderDoes}` : `lost the ${opts.name} lease`);
    opts.onChange(value);
  };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    confirmedAt = Date.now();
    const holds = !stopped && (e.payload.memberAssignment[opts.topic] ?? []).includes(0);
    set(holds);
    opts.onJoin?.(holds);
  });
  consumer.on(consumer.events.HEARTBEAT, () => {
    confirmedAt = Date.now();
  });
  // Until the next join says otherwise, a rebalancing member may be about to lose the lease
  // (sticky: it keeps it, unless it was cut off, which fresh() tells).
  if (opts.sticky !== true) consumer.on(consumer.events.REBALANCING, () => set(false));
  consumer.on(consumer.events.CRASH, (e) => {
    opts.log.warn({ err: errorMessage(e.payload.error) }, `${opts.name} lease consumer crashed; rejoining`);
    set(false);
  });
  consumer.on(consumer.events.STOP, () => set(false));
  return {
    get leader() {
      return leader;
    },
    fresh,
    async start() {
      await consumer.connect();
      await consumer.subscribe({ topic: opts.topic, fromBeginning: false });
      await consumer.run({ autoCommit: false, eachMessage: async () => {} });
    },
    async stop() {
      stopped = true;
      set(false);
      await consumer.disconnect().catch(() => {});
    },
  };
}
