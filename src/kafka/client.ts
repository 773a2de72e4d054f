// Builds the kafkajs client from config, with kafkajs's logs routed into our pino logger.
// kafkajs stays behind this folder: ingest and sink see the project's own producer/consumer
// interfaces, so a faster client can be measured against it later.
import type { KafkaConfig as KafkajsConfig, logCreator, RetryOptions, SASLOptions } from 'kafkajs';
import type { Kafka } from 'kafkajs';
import { fastPathStatus, kafkajs, protocolErrorMessages } from './kafkajs.js';
import { childLogger, type Logger } from '../common/log.js';
import type { KafkaConfig } from '../config/index.js';
import { registerCompression } from './compression.js';

/** Broker answers that kafkajs (or our reader, restarting) retries by itself: routine while a broker starts or a leader moves. */
export const TRANSIENT =
  /coordinator is loading|coordinator is not available|not the correct coordinator|not the leader|no leader|leadership election|rebalance in progress/i;

/**
 * kafkajs warns of every idempotent producer whose retries are bounded. The audit and erasure
 * producers bound them on purpose: in a broker outage their caller gets an error (a 503) instead
 * of waiting without end. A record the caller sends again is the same keyed state (the erasure
 * topic is compacted) or carries its id (audit), so the warning says nothing an operator can act on.
 */
const BOUNDED_IDEMPOTENT = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/**
 * Broker answers that send a member of a consumer group back to (re)join it: how the group
 * protocol runs a rebalance (a member joined, left or timed out), which kafkajs answers by
 * re-joining. Operators alert on ERROR; these are no error.
 */
const REJOIN_ERRORS = ['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'MEMBER_ID_REQUIRED'] as const;

/**
 * kafkajs's lines about a group's membership, at the level they deserve, each with its groupId:
 * a rebalance is normal (info); a member the coordinator forgot (its session expired: a long
 * pause, a lost connection) re-joins by itself, worth a look (warn; kafkajs says ERROR).
 */
const GROUP_LINES: Record<string, 'info' | 'warn'> = {
  'The group is rebalancing, re-joining': 'info',
  'The coordinator is not aware of this member, re-joining the group': 'warn',
};

type Level = 'error' | 'warn' | 'info' | 'debug';

/**
 * The level of one kafkajs line in our log. kafkajs logs the protocol errors it retries by itself
 * (a coordinator still loading after a broker start, a leader moving) at ERROR, in its error field
 * or, for a consumer's crash, in the message ("Crash: KafkaJSProtocolError: The coordinator is
 * loading ..."); they are routine: debug. So is its "Restarting the consumer in N ms": our reader
 * logs each crash and whether it restarts (src/kafka/reader.ts). Every error answer is logged by
 * the connection ("Response Heartbeat(key: 12, version: 3)", ERROR, no group named) before its
 * caller handles it; a rejoin answer's caller logs what it does with the group (GROUP_LINES), or
 * handles it in our code (the consumer's rebalance fence): the connection's line goes to debug.
 */
function kafkajsLevel(level: Level, message: string, error: unknown, rejoin: ReadonlySet<string>, topicExists: string | undefined): Level {
  const group = GROUP_LINES[message];
  if (group !== undefined) return group;
  if (message === BOUNDED_IDEMPOTENT || message.startsWith('Restarting the consumer in ')) return 'debug';
  if (level !== 'error') return level;
  const text = typeof error === 'string' ? error : '';
  if (TRANSIENT.test(message) || TRANSIENT.test(text)) return 'debug';
  if (message.startsWith('Response ') && rejoin.has(text)) return 'debug';
  // Replicas starting together all create a missing topic; the callers take "already exists" as done.
  if (message.startsWith('Response CreateTopics') && text === topicExists) return 'debug';
  return level;
}

/**
 * Whether a stack kafkajs logs has a frame outside kafkajs and Node, that is in trackhouse (a batch
 * handler's crash). A refused connection's or a consumer's "No broker available" stack shows only
 * Node's socket and kafkajs's own frames: nothing the message does not say, on every attempt (two
 * a second per client while a broker is down), so such a line goes without it.
 */
function reachesOurCode(stack: string): boolean {
  return stack.split('\n').some((line) => {
    const frame = line.trim();
    return frame.startsWith('at ') && !frame.includes('/node_modules/kafkajs/') && !/\(node:|^at node:|\(<anonymous>\)$/.test(frame);
  });
}

function pinoLogCreator(log: Logger): logCreator {
  const { logLevel } = kafkajs();
  const levels: Record<number, Level> = {
    [logLevel.ERROR]: 'error',
    [logLevel.WARN]: 'warn',
    [logLevel.INFO]: 'info',
    [logLevel.DEBUG]: 'debug',
  };
  const rejoin = new Set(protocolErrorMessages(REJOIN_ERRORS));
  const [topicExists] = protocolErrorMessages(['TOPIC_ALREADY_EXISTS']);
  return () =>
    ({ level, label, log: entry }) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry as { message: string; [k: string]: unknown };
      if (typeof rest.stack === 'string' && !reachesOurCode(rest.stack)) delete rest.stack;
      log[kafkajsLevel(levels[level] ?? 'info', message, rest.error, rejoin, topicExists)]({ kafkajs: label, ...rest }, message);
    };
}

/** What every client gets: ~16 s of connection attempts before kafkajs gives up on a broker. */
const DEFAULT_RETRY: RetryOptions = { initialRetryTime: 100, retries: 8, maxRetryTime: 5_000 };

/**
 * For the edge's producer: about as long before giving up, but never more than 500 ms between two
 * attempts. With 5 s the next attempt after a broker outage came up to 5 s after the broker was
 * back, and ingest answered 503 all that time (chaos kill-broker: the last 2 of 11.6 s; with 1 s
 * still ~2 s, a connect and a send retry each waiting up to one step). An attempt costs a refused
 * connection; two a second per lane is nothing.
 */
export const PRODUCER_RETRY: RetryOptions = { initialRetryTime: 100, retries: 36, maxRetryTime: 500 };

/**
 * `brokers` overrides config (the local broker's address is only known once it runs); `retry`
 * the connection and request retries of every client made from it.
 */
export function createKafka(cfg: KafkaConfig, log: Logger, brokers: string[] = cfg.brokers, retry: RetryOptions = DEFAULT_RETRY): Kafka {
  const { Kafka, logLevel } = kafkajs(cfg.fastPath);
  registerCompression();
  const fast = fastPathStatus();
  if (fast.installed !== cfg.fastPath) {
    log.warn({ reason: fast.reason }, fast.installed ? 'kafkajs fast path in use although KAFKA_FASTPATH=off (kafkajs was loaded with it first)' : 'kafkajs fast path not installed: Kafka clients run at kafkajs speed');
  }
  const options: KafkajsConfig = {
    clientId: cfg.clientId,
    brokers,
    ssl: cfg.ssl,
    // kafkajs logs every retry at ERROR; WARN and above is what an operator needs.
    logLevel: logLevel.WARN,
    // The line keeps the owner's `component` (ingest, sink, start); `module` says it is kafkajs's.
    logCreator: pinoLogCreator(childLogger(log, { module: 'kafkajs' })),
    retry,
  };
  if (cfg.sasl) {
    options.sasl = { mechanism: cfg.sasl.mechanism, username: cfg.sasl.username, password: cfg.sasl.password } as SASLOptions;
  }
  const kafka = new Kafka(options);
  // Every producer and consumer made from this client refreshes its cluster metadata at least this
  // often (kafkajs's default is 5 minutes): that is how soon partitions added to a topic while
  // trackhouse runs are written to (the partitioner takes the count from it) and read (a consumer
  // group's member re-joins when its topics' partitions changed, and is assigned the new ones).
  const producer = kafka.producer.bind(kafka);
  const consumer = kafka.consumer.bind(kafka);
  kafka.producer = (c) => producer({ metadataMaxAge: cfg.metadataMaxAgeMs, ...c });
  kafka.consumer = (c) => consumer({ metadataMaxAge: cfg.metadataMaxAgeMs, ...c });
  return kafka;
}
