import { z } from 'zod';
import { int } from './parse.js';

/** Limits from Segment's HTTP Tracking API, kept so its SDKs behave the same against trackhouse. */
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_EVENT_BYTES = 32 * 1024;

export const ingestSchema = z
  .object({
    INGEST_THREADS: int(1, 1, 64),
    /** How long a request may wait for Kafka's acknowledgement before it gets 503 + Retry-After. */
    INGEST_ACK_TIMEOUT_MS: int(10_000, 100, 120_000),
    /** Bytes of encoded events waiting for Kafka, per thread; beyond it new requests get 503. */
    INGEST_MAX_PENDING_BYTES: int(64 * 1024 * 1024, 1024 * 1024, 2 * 1024 * 1024 * 1024),
  })
  .transform((e) => ({
    threads: e.INGEST_THREADS,
    ackTimeoutMs: e.INGEST_ACK_TIMEOUT_MS,
    maxPendingBytes: e.INGEST_MAX_PENDING_BYTES,
    maxBatchBytes: MAX_BATCH_BYTES,
    maxEventBytes: MAX_EVENT_BYTES,
  }));

export type IngestConfig = z.output<typeof ingestSchema>;
