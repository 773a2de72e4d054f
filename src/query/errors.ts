// The query API's errors and their one mapping to an HTTP reply. Bodies are JSON with a stable
// `error` code, a `message` a person can act on and, for a bad parameter, the parameter's name.
import { DependencyError, TrackhouseError } from '../common/errors.js';

/** A request parameter is missing, unknown, repeated or has a bad value. */
export class InvalidParameterError extends TrackhouseError {
  readonly parameter: string;
  constructor(parameter: string, message: string) {
    super('INVALID_PARAMETER', message, { details: { parameter } });
    this.parameter = parameter;
  }
}

/** No bearer read key, or one that is not configured. */
export class UnauthorizedError extends TrackhouseError {
  constructor(readonly reason: 'missing' | 'invalid') {
    super('UNAUTHORIZED', reason === 'missing' ? 'a read key is required: Authorization: Bearer <key>' : 'unknown read key');
  }
}

/** Too many requests already wait for ClickHouse; the client should retry shortly. */
export class OverloadedError extends TrackhouseError {
  constructor(queued: number) {
    super('OVERLOADED', `too many queries waiting for ClickHouse (${queued}); retry shortly`, { retriable: true, details: { queued } });
  }
}

/** The server is stopping and takes no new work. */
export class DrainingError extends TrackhouseError {
  constructor() {
    super('DRAINING', 'the server is shutting down; retry on another instance', { retriable: true });
  }
}

/** The shard that holds a user's partition did not answer a forwarded request. */
export class ShardUnavailableError extends TrackhouseError {
  constructor(shard: number, cause: unknown) {
    super('SHARD_UNAVAILABLE', `shard ${shard}, which holds this user's events, did not answer; retry shortly`, {
      retriable: true,
      cause,
      details: { shard },
    });
  }
}

/**
 * A request forwarded to this replica for a user it does not hold: the replicas disagree on
 * QUERY_SHARDS or the partition count. Not forwarded again (that could loop).
 */
export class MisroutedError extends TrackhouseError {
  constructor(shard: number, self: number) {
    super('MISROUTED', `a request for a user of shard ${shard} was forwarded to shard ${self}: check QUERY_SHARDS and QUERY_SHARD_URL on every replica`, {
      details: { shard, self },
    });
  }
}

export interface HttpError {
  status: number;
  body: string;
  headers: [string, string][];
}

const RETRY_AFTER: [string, string] = ['Retry-After', '1'];

/** The one place that turns an error into status, headers and a JSON body. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof InvalidParameterError) {
    return {
      status: 400,
      body: JSON.stringify({ error: 'invalid_parameter', parameter: err.parameter, message: err.message }),
      headers: [],
    };
  }
  if (err instanceof UnauthorizedError) {
    // RFC 6750: a request without credentials gets the bare challenge; a wrong token says so.
    const challenge = err.reason === 'missing' ? 'Bearer realm="trackhouse"' : 'Bearer realm="trackhouse", error="invalid_token"';
    return { status: 401, body: JSON.stringify({ error: 'unauthorized', message: err.message }), headers: [['WWW-Authenticate', challenge]] };
  }
  if (err instanceof OverloadedError || err instanceof DrainingError) {
    return { status: 503, body: JSON.stringify({ error: err.code.toLowerCase(), message: err.message }), headers: [RETRY_AFTER] };
  }
  if (err instanceof ShardUnavailableError) {
    return { status: 503, body: JSON.stringify({ error: 'shard_unavailable', message: err.message }), headers: [RETRY_AFTER] };
  }
  if (err instanceof MisroutedError) {
    return { status: 500, body: JSON.stringify({ error: 'misrouted', message: err.message }), headers: [] };
  }
  if (err instanceof DependencyError) {
    return {
      status: 503,
      body: JSON.stringify({ error: 'clickhouse_unavailable', message: 'ClickHouse did not answer the query; retry shortly' }),
      headers: [RETRY_AFTER],
    };
  }
  return { status: 500, body: JSON.stringify({ error: 'internal', message: 'internal error' }), headers: [] };
}
