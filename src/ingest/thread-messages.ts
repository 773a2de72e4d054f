// Messages between the ingest supervisor (main thread) and its edge threads, in one place.
import type { Config } from '../config/index.js';

export interface WorkerInit {
  config: Config;
  brokers: string[];
  port: number;
  /** INGEST_TLS_PORT made concrete, or null. */
  tlsPort: number | null;
  thread: number;
}

/** Supervisor -> edge thread. */
export type ToWorker =
  /** First phase of a stop: refuse new requests (503), /readyz 503, keep the port open. */
  | { type: 'drain' }
  | { type: 'stop' }
  /** Load the TLS certificate files again (SIGHUP); answered by 'tls-reloaded'. */
  | { type: 'reload-tls'; id: number }
  /** Send this thread's metrics as JSON (getMetricsAsJSON) for aggregation. */
  | { type: 'metrics-json'; id: number }
  /** The aggregated Prometheus text a thread asked for. */
  | { type: 'metrics-text'; id: number; text: string };

/** Edge thread -> supervisor. */
export type FromWorker =
  | { type: 'listening'; port: number; tlsPort: number | null }
  /** `code`: the TrackhouseError code when it was one (a ConfigError for a port in use, ...). */
  | { type: 'failed'; message: string; code?: string }
  /** clean: false when the thread gave up on requests Kafka had not acknowledged (it logged them). */
  | { type: 'stopped'; clean: boolean }
  /** `error`: why the files did not load (the thread keeps its certificate). */
  | { type: 'tls-reloaded'; id: number; error?: string; code?: string }
  | { type: 'metrics-json'; id: number; json: unknown[] }
  /** This thread serves /metrics and needs the text for all threads. */
  | { type: 'metrics-text'; id: number };
