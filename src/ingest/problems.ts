// The reasons an event of a request can be invalid. Event problems are plain values, not thrown
// errors: a 500 KB batch of bad events must not build 10,000 stack traces. Whole-request refusals
// are HttpErrors with codes from the one registry, src/common/errors.ts (HTTP_ERRORS).

/**
 * The JSON body of a refused request: `error` is this API's field; `message` carries the same text
 * for Segment's clients, which read `code` and `message` from an error answer
 * (segment-analytics-python logs them).
 */
export function errorBody(code: string, message: string): string {
  return JSON.stringify({ success: false, code, error: message, message });
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
