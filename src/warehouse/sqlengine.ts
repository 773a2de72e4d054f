// The chDB engine as the BI ports share it (ClickHouse's HTTP interface, ./sqlport.ts, and its
// native TCP protocol, ./nativeport.ts): what runs (./readonly.ts), how many statements wait for
// it at once, and their count and time on the query API's /metrics. chDB runs one statement at a
// time, for these ports, the sink and the query API alike, so the bound is the engine's, not a
// port's: at most MAX_IN_FLIGHT wait. The ports run on the client whose calls go after every
// waiting call of the pipeline's (./client.ts engineTurns), so a sink insert waits for at most the
// one statement running. Nothing is lost meanwhile: Kafka holds the events (chaos case bi-heavy).
import type { ClickHouseClient, DataFormat } from '@clickhouse/client';
import type { Logger } from '../common/log.js';
import { Counter, Histogram, type Registry } from '../common/metrics.js';
import type { TlsFiles } from '../common/tls.js';
import { ClickHouseException, engineError, type EngineError } from './http-interface.js';
import { StatementNotRun } from './client.js';
import { DEFAULT_READ_ONLY_LIMITS, readOnlyStatement, resultText, type ReadOnlyLimits } from './readonly.js';

/**
 * Statements waiting for or holding the engine at once; the rest are told to come back. A
 * dashboard sends its cards' statements together, each usually milliseconds on the rollups; the
 * bound keeps a pile of slow ones from waiting without end.
 */
export const MAX_IN_FLIGHT = 8;

/** What a statement past the bound is told, by either port. */
export const BUSY: EngineError = {
  code: 202,
  type: 'TOO_MANY_SIMULTANEOUS_QUERIES',
  message: `${MAX_IN_FLIGHT} statements are already running or waiting here (chDB runs one at a time)`,
};

/** Refused by the ports: READONLY, or over a limit (TIMEOUT_EXCEEDED, TOO_MANY_ROWS_OR_BYTES, MEMORY_LIMIT_EXCEEDED). */
const REFUSED_CODES: ReadonlySet<number> = new Set([164, 159, 396, 241]);

/** What each BI port (HTTP, native protocol) is served with. */
export interface BiPortOptions {
  /** The engine, its limits and its metrics, shared by the ports. */
  engine: SqlEngine;
  host: string;
  port: number;
  /** The setting `port` came from (BI_PORT, BI_NATIVE_PORT), for errors. */
  portVariable: string;
  readKeys: ReadonlySet<string>;
  log: Logger;
  /** TLS_CERT_FILE / TLS_KEY_FILE: the port speaks HTTPS or TLS with them (the read key travels on it). */
  tls?: TlsFiles | null;
}

/** A BI port, served. */
export interface BiPort {
  readonly port: number;
  /** True when it speaks HTTPS or TLS. */
  readonly secure: boolean;
  /** Loads the certificate files again (SIGHUP); open connections keep theirs. */
  reloadTls(): Promise<void>;
  /** Stops taking connections and closes the open ones. */
  close(): void;
}

export interface SqlStatement {
  sql: string;
  params: Record<string, string>;
  /** The client's settings (URL parameters, or the native protocol's), applied as ./readonly.ts allows. */
  settings: Record<string, string>;
  /** The format when the statement names none. */
  defaultFormat: string;
  queryId: string;
  /** Aborted when the client has gone: a statement still waiting for the engine is then not run. */
  signal?: AbortSignal;
}

export interface SqlResult {
  /** The format the body is in: the statement's FORMAT clause, else the default. */
  format: string;
  body: Buffer;
  summary: unknown;
}

export interface SqlEngine {
  readonly client: ClickHouseClient;
  /** The engine's version(), for error texts and the native protocol's hello. */
  readonly version: string;
  /** A place among MAX_IN_FLIGHT (give it back once, with the function returned), or null: counted busy. */
  admit(): (() => void) | null;
  /** Runs a statement that ./readonly.ts lets through; counted and timed. Throws the engine's or the port's refusal. */
  run(s: SqlStatement): Promise<SqlResult>;
  /** Counts a request refused for its key. */
  unauthorized(): void;
}

export async function createSqlEngine(client: ClickHouseClient, opts: { limits?: ReadOnlyLimits; registry?: Registry } = {}): Promise<SqlEngine> {
  const limits = opts.limits ?? DEFAULT_READ_ONLY_LIMITS;
  const version = (await resultText(client, 'SELECT version()', {}, 'RawBLOB')).trim();
  const registers = opts.registry ? [opts.registry] : [];
  // Time on the engine is time the sink's inserts wait: what to look at when the rollups lag.
  const statements = new Counter({
    name: 'trackhouse_sql_statements_total',
    help: 'Statements sent to the read-only SQL ports, by outcome: ok, refused (not read-only, or over a limit), failed (the engine said no), busy (503), unauthorized, abandoned (the client left before the answer; on chDB a statement still waiting is then not run)',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of ['ok', 'refused', 'failed', 'busy', 'unauthorized', 'abandoned']) statements.inc({ outcome }, 0);
  const engineSeconds = new Histogram({
    name: 'trackhouse_sql_statement_seconds',
    help: 'Time from a statement being taken to its answer, waiting for the engine included (the sink waits while one runs)',
    buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 30, 60],
    registers,
  });
  let inFlight = 0;
  return {
    client,
    version,
    admit() {
      if (inFlight >= MAX_IN_FLIGHT) {
        statements.inc({ outcome: 'busy' });
        return null;
      }
      inFlight++;
      let held = true;
      return () => {
        if (held) inFlight--;
        held = false;
      };
    },
    async run(s) {
      const stopTimer = engineSeconds.startTimer();
      try {
        const ran = await readOnlyStatement(client, s.sql, s.params, s.settings, limits, s.signal);
        const result = await client.exec({
          query: ran.statement,
          query_params: s.params,
          query_id: s.queryId,
          clickhouse_settings: { default_format: s.defaultFormat as DataFormat },
          abort_signal: s.signal,
        });
        const chunks: Buffer[] = [];
        for await (const chunk of result.stream) chunks.push(chunk as Buffer);
        statements.inc({ outcome: 'ok' });
        return { format: ran.format ?? s.defaultFormat, body: Buffer.concat(chunks), summary: result.summary ?? {} };
      } catch (err) {
        const e = engineError(err);
        // Not run on chDB (StatementNotRun); on a server, the request cancelled before any answer.
        if (err instanceof StatementNotRun || (s.signal?.aborted === true && !e.stated)) {
          statements.inc({ outcome: 'abandoned' });
          throw err;
        }
        statements.inc({ outcome: REFUSED_CODES.has(e.code) ? 'refused' : 'failed' });
        throw new ClickHouseException(e.code, e.type, e.message);
      } finally {
        stopTimer();
      }
    },
    unauthorized() {
      statements.inc({ outcome: 'unauthorized' });
    },
  };
}
