// One error hierarchy for the whole project. Every error has a stable `code` (for logs, metrics
// and API bodies), says whether retrying can help, and keeps the error that caused it.

export interface TrackhouseErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Extra facts a person needs to act on the error (variable names, offsets, indices). */
  details?: Record<string, unknown>;
}

export class TrackhouseError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: TrackhouseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }
}

/** A setting is missing or invalid; the message names the variable. Never retriable. */
export class ConfigError extends TrackhouseError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CONFIG_INVALID', message, { details });
  }
}

/** Something the project needs on this machine is missing (java, mvn, a native module). */
export class PrerequisiteError extends TrackhouseError {
  constructor(message: string, options: TrackhouseErrorOptions = {}) {
    super('PREREQUISITE_MISSING', message, options);
  }
}

/** A step was cut short by a signal (Ctrl-C reaches the whole process group, child tools too). */
export class InterruptedError extends TrackhouseError {
  constructor(message: string, options: TrackhouseErrorOptions = {}) {
    super('INTERRUPTED', message, options);
  }
}

/** A Kafka or ClickHouse call failed; `retriable` says whether backing off and retrying can help. */
export class DependencyError extends TrackhouseError {
  constructor(code: string, message: string, options: TrackhouseErrorOptions = {}) {
    super(code, message, options);
  }
}

/** What to do when ClickHouse lacks trackhouse's tables: said the same way wherever it shows. */
export const NOT_MIGRATED = 'its migrations have not run; run `trackhouse migrate` (`trackhouse sink` also applies them at start)';

/**
 * ClickHouse answered that a table does not exist (UNKNOWN_TABLE, code 60): on a server nobody has
 * migrated yet, which the process that asked can only report, naming what to run.
 */
export function missingTable(err: unknown): boolean {
  const e = err as { type?: unknown; code?: unknown } | null;
  return typeof e === 'object' && e !== null && (e.type === 'UNKNOWN_TABLE' || e.code === '60');
}

/**
 * A ClickHouse statement run under `deadline` (AbortSignal.timeout(timeoutMs), QUERY_TIMEOUT_MS)
 * failed: retriable, saying whether the deadline passed, which on the in-process engine includes
 * the wait for its turn. `what` names the read ("the events query").
 */
export function statementFailed(err: unknown, what: string, deadline: AbortSignal, timeoutMs: number): DependencyError {
  if (!deadline.aborted && missingTable(err)) {
    return new DependencyError('CLICKHOUSE_NOT_MIGRATED', `ClickHouse has no table for ${what}: ${NOT_MIGRATED}`, { retriable: true, cause: err });
  }
  const why = deadline.aborted
    ? `ClickHouse did not answer ${what} within QUERY_TIMEOUT_MS (${timeoutMs} ms); on the in-process engine a statement waits while another runs (a BI tool's, say)`
    : `ClickHouse failed ${what}: ${errorMessage(err)}`;
  return new DependencyError('CLICKHOUSE_QUERY_FAILED', why, { retriable: true, cause: err });
}

/**
 * Every code an HTTP answer of trackhouse carries, with its status: the one mapping from a problem
 * to a status, for ingest and query alike (as fastify's lib/errors.js registers its codes). The
 * codes are the wire's: lowercase, in each API's JSON error body (`code` on the Segment-compatible
 * ingest, `error` on the query API). A 503 is retriable; nothing else is.
 */
export const HTTP_ERRORS = {
  malformed_json: 400,
  not_utf8: 400,
  invalid_body: 400,
  corrupt_body: 400,
  invalid_event: 400,
  invalid_parameter: 400,
  missing_write_key: 401,
  unknown_write_key: 401,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  body_too_large: 413,
  unsupported_encoding: 415,
  internal_error: 500,
  metrics_failed: 500,
  misrouted: 500,
  overloaded: 503,
  draining: 503,
  kafka_unavailable: 503,
  clickhouse_unavailable: 503,
  shard_unavailable: 503,
  stream_unavailable: 503,
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** A request refused with one of HTTP_ERRORS; `status` comes from the registry. */
export class HttpError extends TrackhouseError {
  declare readonly code: HttpErrorCode;
  readonly status: number;

  constructor(code: HttpErrorCode, message: string, options: Omit<TrackhouseErrorOptions, 'retriable'> = {}) {
    super(code, message, { ...options, retriable: HTTP_ERRORS[code] === 503 });
    this.status = HTTP_ERRORS[code];
  }
}

/** A request parameter is missing, unknown, repeated or has a bad value (400, the parameter named in the body). */
export class InvalidParameterError extends HttpError {
  readonly parameter: string;
  constructor(parameter: string, message: string) {
    super('invalid_parameter', message, { details: { parameter } });
    this.parameter = parameter;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
