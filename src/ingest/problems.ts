// The reasons an event of a request can be invalid. Event problems are plain values, not thrown
// errors: a 500 KB batch of bad events must not build 10,000 stack traces. Whole-request refusals
// are HttpErrors with codes from the one registry, src/common/errors.ts (HTTP_ERRORS).

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
