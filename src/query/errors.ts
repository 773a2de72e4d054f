// The query API's errors and their one mapping to an HTTP reply. Codes and statuses come from the
// project's registry (HTTP_ERRORS in src/common/errors.ts); bodies are JSON with the code as
// `error`, a `message` a person can act on and, for a bad parameter, the parameter's name (written by
// httpErrorReply, src/common/http.ts, which the stream's /v1/volume and /v1/alerts share).
import { DependencyError, HttpError } from '../common/errors.js';
import { httpErrorReply, type HttpErrorReply } from '../common/http.js';

export { InvalidParameterError } from '../common/errors.js';

/** No bearer read key, or one that is not configured. */
export class UnauthorizedError extends HttpError {
  constructor(readonly reason: 'missing' | 'invalid') {
    super('unauthorized', reason === 'missing' ? 'a read key is required: Authorization: Bearer <key>' : 'unknown read key', { details: { reason } });
  }
}

/** Too many requests already wait for ClickHouse; the client should retry shortly. */
export class OverloadedError extends HttpError {
  constructor(queued: number) {
    super('overloaded', `too many queries waiting for ClickHouse (${queued}); retry shortly`, { details: { queued } });
  }
}

/** The server is stopping and takes no new work. */
export class DrainingError extends HttpError {
  constructor() {
    super('draining', 'the server is shutting down; retry on another instance');
  }
}

/** The shard that holds a user's partition did not answer a forwarded request. */
export class ShardUnavailableError extends HttpError {
  constructor(shard: number, cause: unknown) {
    super('shard_unavailable', `shard ${shard}, which holds this user's events, did not answer; retry shortly`, { cause, details: { shard } });
  }
}

/**
 * A request forwarded to this replica for a user it does not hold: the replicas disagree on
 * QUERY_SHARDS or the partition count. Not forwarded again (that could loop).
 */
export class MisroutedError extends HttpError {
  constructor(shard: number, self: number) {
    super('misrouted', `a request for a user of shard ${shard} was forwarded to shard ${self}: check QUERY_SHARDS and QUERY_SHARD_URL on every replica`, {
      details: { shard, self },
    });
  }
}

export type HttpReply = HttpErrorReply;

/** What a client is told of a ClickHouse failure (REST's 503 and GraphQL's error alike). */
export function dependencyMessage(err: DependencyError): string {
  return err.code === 'CLICKHOUSE_NOT_MIGRATED'
    ? "ClickHouse does not hold trackhouse's tables yet: its migrations have not run (trackhouse migrate); retry once they have"
    : 'ClickHouse did not answer the query; retry shortly';
}

/** The one place that turns an error into status, headers and a JSON body. */
export function toHttpError(err: unknown): HttpReply {
  if (err instanceof HttpError) return httpErrorReply(err);
  if (err instanceof DependencyError) return httpErrorReply(new HttpError('clickhouse_unavailable', dependencyMessage(err), { cause: err }));
  return httpErrorReply(new HttpError('internal_error', 'internal error'));
}
