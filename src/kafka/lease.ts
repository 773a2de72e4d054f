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
import type { Consumer, Kafka } from 'kafkajs';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export interface LeaseOptions {
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  log: Logger;
  /** Told every change: true when this member holds the lease, false when it lost it. */
  onChange(leader: boolean): void;
}

export interface Lease {
  start(): Promise<void>;
  readonly leader: boolean;
  /** Leaves the group, so another member takes the lease at once. */
  stop(): Promise<void>;
}

export function createLease(kafka: Kafka, opts: LeaseOptions): Lease {
  const consumer: Consumer = kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs,
    rebalanceTimeout: opts.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(opts.sessionTimeoutMs / 5)),
    // Nothing is read: the fetch loop only keeps the heartbeat going.
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
  });
  let leader = false;
  let stopped = false;
  const set = (value: boolean) => {
    if (value === leader) return;
    leader = value;
    opts.log.info({ groupId: opts.groupId }, value ? 'holding the alerts lease: this replica sends notifications' : 'lost the alerts lease');
    opts.onChange(value);
  };
  consumer.on(consumer.events.GROUP_JOIN, (e) => set(!stopped && (e.payload.memberAssignment[opts.topic] ?? []).includes(0)));
  // Until the next join says otherwise, a rebalancing member may be about to lose the lease.
  consumer.on(consumer.events.REBALANCING, () => set(false));
  consumer.on(consumer.events.CRASH, (e) => {
    opts.log.warn({ err: errorMessage(e.payload.error) }, 'alerts lease consumer crashed; rejoining');
    set(false);
  });
  consumer.on(consumer.events.STOP, () => set(false));
  return {
    get leader() {
      return leader;
    },
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
