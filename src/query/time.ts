// Times of the query API: `from` and `to` are read by the strict ISO reader shared with
// `trackhouse replay` (src/common/time.ts); replies write ISO 8601 with milliseconds in UTC.
export { MAX_TIME_MS, MIN_TIME_MS, parseIsoTime } from '../common/time.js';

export const DAY_MS = 86_400_000;

/** ISO 8601 with milliseconds in UTC, as every reply writes times. */
export function formatIsoMs(ms: number): string {
  return new Date(ms).toISOString();
}

/** YYYY-MM-DD of the UTC day that contains `ms`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The first UTC midnight at or after `ms`. */
export function ceilToDay(ms: number): number {
  return Math.ceil(ms / DAY_MS) * DAY_MS;
}
