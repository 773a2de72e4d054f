import { z } from 'zod';
import { int, optionalStr } from './parse.js';

/** The shortest INGEST_COOKIELESS_SECRET taken: 32 characters (e.g. `openssl rand -hex 16`, 128 bits). */
export const MIN_COOKIELESS_SECRET = 32;

/** Limits from Segment's HTTP Tracking API, kept so its SDKs behave the same against trackhouse. */
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_EVENT_BYTES = 32 * 1024;

/**
 * The producer's linger, chosen by measurement (docs/architecture/ingest.md, "Producer"): 5 ms
 * (Kafka 4's linger.ms) and 16 KB (~35 events, Kafka's batch.size). A free lane also waits (at
 * most the 5 ms) for as many records as its last request carried (src/kafka/producer.ts).
 */
const LINGER_MS = 5;
const LINGER_BYTES = 16 * 1024;

export const ingestSchema = z
  .object({
    INGEST_THREADS: int(1, 1, 64),
    /** How long a request may wait for Kafka's acknowledgement before it gets 503 + Retry-After. */
    INGEST_ACK_TIMEOUT_MS: int(10_000, 100, 120_000),
    /** Bytes of encoded events waiting for Kafka, per thread; beyond it new requests get 503. */
    INGEST_MAX_PENDING_BYTES: int(64 * 1024 * 1024, 1024 * 1024, 2 * 1024 * 1024 * 1024),
    /**
     * Upper bound of one Kafka produce request, in record bytes before compression. Kept under the
     * broker's default message.max.bytes (1 MB), which applies to each partition's record batch.
     */
    INGEST_PRODUCE_MAX_BYTES: int(1_000_000, 64 * 1024, 64 * 1024 * 1024),
    /**
     * kafkajs producers per edge thread, each with one produce request in flight; a user's events
     * always use the same one, so their order holds. Worth raising when Kafka is far away (long
     * round trips); with a local broker 1 and 2 measured the same.
     */
    INGEST_PRODUCER_LANES: int(1, 1, 16),
    /**
     * Longest a record waits for others to share its produce request while the producer is free
     * (Kafka's linger.ms); 0 sends at once. Fewer, fuller produce requests cost the broker and
     * kafkajs less CPU per event (docs/architecture/ingest.md, "Producer").
     */
    INGEST_PRODUCE_LINGER_MS: int(LINGER_MS, 0, 1_000),
    /** Queued record bytes at which a lingering producer sends at once (with as many records as its last request carried). */
    INGEST_PRODUCE_LINGER_BYTES: int(LINGER_BYTES, 1024, 64 * 1024 * 1024),
    /** Seconds a 503 tells clients to wait (Retry-After). */
    INGEST_RETRY_AFTER_S: int(5, 1, 3600),
    /**
     * Where `context.ip` comes from when an event has none, as Segment fills it: `socket` (the
     * connection's peer), `forwarded` (the first X-Forwarded-For address, for an edge behind a
     * proxy or load balancer that sets it; the peer when absent), or `off` (not recorded).
     */
    INGEST_CLIENT_IP: z.enum(['socket', 'forwarded', 'off']).default('socket'),
    /**
     * The secret each UTC day's salt of PostHog's cookieless ids is derived from (HMAC): the same
     * on every ingest process that should give one visitor one id. Unset: a random one per process
     * start (`trackhouse start` keeps one in its data dir). Never the write key, which is public.
     */
    INGEST_COOKIELESS_SECRET: optionalStr().pipe(
      z
        .string()
        .min(MIN_COOKIELESS_SECRET, { error: `expected at least ${MIN_COOKIELESS_SECRET} characters of a random secret (e.g. openssl rand -hex 32)` })
        .optional(),
    ),
  })
  .transform((e) => ({
    threads: e.INGEST_THREADS,
    ackTimeoutMs: e.INGEST_ACK_TIMEOUT_MS,
    maxPendingBytes: e.INGEST_MAX_PENDING_BYTES,
    produceMaxBytes: e.INGEST_PRODUCE_MAX_BYTES,
    producerLanes: e.INGEST_PRODUCER_LANES,
    lingerMs: e.INGEST_PRODUCE_LINGER_MS,
    lingerBytes: e.INGEST_PRODUCE_LINGER_BYTES,
    retryAfterS: e.INGEST_RETRY_AFTER_S,
    clientIp: e.INGEST_CLIENT_IP,
    /** null: none configured; startIngest then makes one for the process (all its threads). */
    cookielessSecret: e.INGEST_COOKIELESS_SECRET ?? null,
    maxBatchBytes: MAX_BATCH_BYTES,
    maxEventBytes: MAX_EVENT_BYTES,
  }));

export type IngestConfig = z.output<typeof ingestSchema>;
