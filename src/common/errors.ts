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

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
