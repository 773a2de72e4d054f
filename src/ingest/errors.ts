// Every way the edge can refuse a request, each with its HTTP status, in one table (so the
// mapping from problem to status lives in one place), and the reasons an event in a batch can
// be invalid. Event problems are plain values, not thrown errors: a 500 KB batch of bad events
// must not build 10,000 stack traces.
import { TrackhouseError } from '../common/errors.js';

export const REQUEST_ERRORS = {
  malformed_json: 400,
  not_utf8: 400,
  invalid_body: 400,
  corrupt_body: 400,
  invalid_event: 400,
  missing_write_key: 401,
  unknown_write_key: 401,
  not_found: 404,
  method_not_allowed: 405,
  body_too_large: 413,
  unsupported_media_type: 415,
  unsupported_encoding: 415,
  overloaded: 503,
  kafka_unavailable: 503,
  draining: 503,
  internal_error: 500,
} as const;

export type RequestErrorCode = keyof typeof REQUEST_ERRORS;

/** A request the edge refuses as a whole. */
export class IngestError extends TrackhouseError {
  declare readonly code: RequestErrorCode;
  readonly status: number;

  constructor(code: RequestErrorCode, message: string, cause?: unknown) {
    super(code, message, { retriable: REQUEST_ERRORS[code] === 503, cause });
    this.status = REQUEST_ERRORS[code];
  }
}

/** Why one event is invalid; also the `error_code` header of its record in the rejected topic. */
export type EventProblemCode =
  | 'not_an_object'
  | 'unknown_type'
  | 'missing_id'
  | 'missing_field'
  | 'invalid_field'
  | 'invalid_timestamp'
  | 'event_too_large';

export interface EventProblem {
  code: EventProblemCode;
  message: string;
}

export function problem(code: EventProblemCode, message: string): EventProblem {
  return { code, message };
}
