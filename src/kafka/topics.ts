// Creates the project's topics when they are missing, with their retention (and, on a cluster
// of three or more replicas, min.insync.replicas=2); leaves existing ones as they are, saying so
// when an existing topic keeps records for another time than configured.
//
// Why min.insync.replicas: ingest answers 200 only after acks=all, but acks=all waits for the
// replicas *in sync*, and with the broker's default of 1 that can be the leader alone, so one
// lost disk loses acknowledged events. With 3 or more replicas, 2 keeps writes going while one
// broker is down and every acknowledged record on two brokers. With 1 or 2 replicas it is left
// at the broker's value (2 of 2 would stop every write while one broker restarts).
import type { Kafka } from 'kafkajs';
import { DependencyError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { KafkaConfig } from '../config/index.js';
import { kafkajs } from './kafkajs.js';

/** Cluster-wide defaults that decide a new topic's settings; null when the broker would not say. */
export interface BrokerDefaults {
  replicationFactor: number | null;
  minInsyncReplicas: number | null;
}

export interface TopicSpec {
  topic: string;
  /** The variable that sets its retention, for messages. */
  retentionVariable: string;
  numPartitions: number;
  /** -1: the cluster's default.replication.factor. */
  replicationFactor: number;
  configEntries: { name: string; value: string }[];
}

/** What trackhouse creates for each of its topics, given the cluster's defaults. */
export function topicSpecs(cfg: KafkaConfig, broker: BrokerDefaults): TopicSpec[] {
  const replicas = cfg.replicationFactor > 0 ? cfg.replicationFactor : broker.replicationFactor;
  const raiseMinIsr = replicas !== null && replicas >= 3 && !(broker.minInsyncReplicas !== null && broker.minInsyncReplicas >= 2);
  const spec = (topic: string, retentionMs: number, retentionVariable: string, numPartitions: number): TopicSpec => ({
    topic,
    retentionVariable,
    numPartitions,
    replicationFactor: cfg.replicationFactor,
    configEntries: [
      { name: 'retention.ms', value: String(retentionMs) },
      ...(raiseMinIsr ? [{ name: 'min.insync.replicas', value: '2' }] : []),
    ],
  });
  // The erasure list: one partition (one order for every change), compacted (the latest state of
  // each user and regulation is kept forever, older versions go). The audit trail: one partition,
  // append-only, kept forever.
  const regulations = spec(cfg.topics.regulations, -1, 'none: kept forever', 1);
  regulations.configEntries.push({ name: 'cleanup.policy', value: 'compact' });
  return [
    spec(cfg.topics.events, cfg.retentionMs.events, 'KAFKA_EVENTS_RETENTION_MS', cfg.partitions),
    spec(cfg.topics.rejected, cfg.retentionMs.rejected, 'KAFKA_REJECTED_RETENTION_MS', Math.min(cfg.partitions, 3)),
    spec(cfg.topics.dlq, cfg.retentionMs.dlq, 'KAFKA_DLQ_RETENTION_MS', Math.min(cfg.partitions, 3)),
    regulations,
    spec(cfg.topics.audit, -1, 'none: kept forever', 1),
  ];
}

/** Returns the topics it created. `log` hears what was created and what differs on existing ones. */
export async function ensureTopics(kafka: Kafka, cfg: KafkaConfig, log?: Logger): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const needsBroker = cfg.replicationFactor === -1 || cfg.replicationFactor >= 3;
    const all = topicSpecs(cfg, { replicationFactor: null, minInsyncReplicas: null });
    const missing = all.filter((s) => !existing.has(s.topic));
    if (log) {
      await reportRetentionDrift(admin, all.filter((s) => existing.has(s.topic)), log);
      if (existing.has(cfg.topics.events)) await reportPartitionDrift(admin, cfg.topics.events, cfg.partitions, log);
    }
    if (missing.length === 0) return [];
    const broker = needsBroker ? await brokerDefaults(admin, log) : { replicationFactor: null, minInsyncReplicas: null };
    const wanted = topicSpecs(cfg, broker).filter((s) => !existing.has(s.topic));
    await admin.createTopics({
      // Waited for below: kafkajs's own wait retries only LEADER_NOT_AVAILABLE.
      waitForLeaders: false,
      topics: wanted.map(({ topic, numPartitions, replicationFactor, configEntries }) => ({ topic, numPartitions, replicationFactor, configEntries })),
    });
    await waitForLeaders(admin, wanted.map((s) => s.topic));
    log?.info(
      { topics: wanted.map((s) => ({ topic: s.topic, partitions: s.numPartitions, ...Object.fromEntries(s.configEntries.map((c) => [c.name, c.value])) })) },
      'created Kafka topics',
    );
    return wanted.map((s) => s.topic);
  } finally {
    await admin.disconnect();
  }
}

type Admin = ReturnType<Kafka['admin']>;

/**
 * The two topics of the alerts leader election and notification log (src/stream/), created when
 * missing; an existing topic is left as it is, like the pipeline's own.
 *   <alerts>        one partition, compacted: per rule and group, the last notification sent or
 *                   given up, so a new leader knows what receivers were told.
 *   <alerts>.lease  one partition, never written: its consumer group is the leader lease.
 */
export async function ensureStreamTopics(kafka: Kafka, topics: { alerts: string; lease: string }, replicationFactor: number, log?: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [
      { topic: topics.alerts, numPartitions: 1, replicationFactor, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      { topic: topics.lease, numPartitions: 1, replicationFactor, configEntries: [{ name: 'retention.ms', value: String(3_600_000) }] },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length === 0) return;
    try {
      await admin.createTopics({ waitForLeaders: false, topics: wanted });
    } catch (err) {
      // Another replica created it in between.
      if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
    }
    await waitForLeaders(admin, wanted.map((t) => t.topic));
    log?.info({ topics: wanted.map((t) => t.topic) }, 'created the alerts topics');
  } finally {
    await admin.disconnect();
  }
}

/**
 * The topic of the migrations lock (KAFKA_TOPIC_MIGRATIONS_LEASE, src/cli/migrations.ts), created
 * when missing: one partition, never written, its consumer group is the lease. Several runners
 * start together on a new cluster, so another one creating it in between is expected.
 */
export async function ensureLeaseTopic(kafka: Kafka, topic: string, replicationFactor: number, log?: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if ((await admin.listTopics()).includes(topic)) return;
    // false: another runner created it in between (kafkajs answers so rather than throwing).
    let created: boolean;
    try {
      created = await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: 1, replicationFactor, configEntries: [{ name: 'retention.ms', value: String(3_600_000) }] }] });
    } catch (err) {
      if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
      created = false;
    }
    await waitForLeaders(admin, [topic]);
    if (created) log?.info({ topic }, 'created the migrations lease topic');
  } finally {
    await admin.disconnect();
  }
}

/** Metadata errors a just-created topic answers with until the brokers know it. */
const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Until every partition of `topics` has a leader. On KRaft a broker can answer a metadata request
 * right after CreateTopics with UNKNOWN_TOPIC_OR_PARTITION (its metadata image is applied a moment
 * later; KAFKA-15780), which kafkajs's waitForLeaders does not retry: it failed start-ups on a
 * busy broker. The metadata of all topics is asked for, not of these: a topic the broker does not
 * know yet is then only absent, where naming it made kafkajs log an ERROR line on every first start.
 */
export async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const known = new Map((await admin.fetchTopicMetadata()).topics.map((t) => [t.name, t.partitions]));
      const led = (t: string) => {
        const partitions = known.get(t);
        return partitions !== undefined && partitions.length > 0 && partitions.every((p) => p.leader >= 0);
      };
      if (topics.every(led)) return;
    } catch (err) {
      if (!NOT_YET.has((err as { type?: string }).type ?? '') || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) {
      throw new DependencyError('KAFKA_TOPICS_NOT_READY', `the new topics ${topics.join(', ')} have no leader after ${timeoutMs} ms`, { retriable: true });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function brokerDefaults(admin: Admin, log: Logger | undefined): Promise<BrokerDefaults> {
  try {
    const cluster = await admin.describeCluster();
    const node = cluster.brokers[0]?.nodeId ?? cluster.controller;
    if (node === null || node === undefined) return { replicationFactor: null, minInsyncReplicas: null };
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: kafkajs().ConfigResourceTypes.BROKER, name: String(node), configNames: ['default.replication.factor', 'min.insync.replicas'] }],
    });
    const entries = res.resources[0]?.configEntries ?? [];
    const num = (name: string) => {
      const v = Number(entries.find((e) => e.configName === name)?.configValue);
      return Number.isInteger(v) ? v : null;
    };
    return { replicationFactor: num('default.replication.factor'), minInsyncReplicas: num('min.insync.replicas') };
  } catch (err) {
    // Without DescribeConfigs rights on the cluster the topics are created with the broker's values.
    log?.warn({ err: (err as Error).message }, 'could not read the brokers\' default replication settings; min.insync.replicas is left to the broker');
    return { replicationFactor: null, minInsyncReplicas: null };
  }
}

/**
 * The events topic's partitions are the unit of per-user order, of the sink's and the view's
 * parallelism and of QUERY_SHARDS: a KAFKA_PARTITIONS that differs from an existing topic changes
 * nothing, so say so, and what adding partitions by hand would cost.
 */
async function reportPartitionDrift(admin: Admin, topic: string, configured: number, log: Logger): Promise<void> {
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const actual = meta.topics[0]?.partitions.length;
    if (actual === undefined || actual === configured) return;
    log.warn(
      { topic, partitions: actual, configured, variable: 'KAFKA_PARTITIONS' },
      `topic ${topic} exists with ${actual} partitions, not the configured ${configured} (KAFKA_PARTITIONS); ` +
        'trackhouse never changes an existing topic. Adding partitions (kafka-topics.sh --alter) sends many users to ' +
        "another partition from then on: their events before and after are no longer in one partition's order, and " +
        'query shards (QUERY_SHARDS) must be rebuilt',
    );
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'could not read the partitions of the events topic');
  }
}

async function reportRetentionDrift(admin: Admin, specs: readonly TopicSpec[], log: Logger): Promise<void> {
  if (specs.length === 0) return;
  try {
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: specs.map((s) => ({ type: kafkajs().ConfigResourceTypes.TOPIC, name: s.topic, configNames: ['retention.ms'] })),
    });
    for (const s of specs) {
      const actual = res.resources.find((r) => r.resourceName === s.topic)?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
      const wanted = s.configEntries.find((e) => e.name === 'retention.ms')!.value;
      if (actual === undefined || actual === wanted) continue;
      log.warn(
        { topic: s.topic, retentionMs: Number(actual), configured: Number(wanted), variable: s.retentionVariable },
        `topic ${s.topic} exists with retention.ms=${actual}, not the configured ${wanted} (${s.retentionVariable}); ` +
          'trackhouse never changes an existing topic: change it with kafka-configs.sh --alter if that is wanted',
      );
    }
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'could not read the retention of existing topics');
  }
}
