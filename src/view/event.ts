// Facts about an event record the view shares with the sink, so both keep the same events.
import type { EventRecord } from '../schema/index.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../common/time.js';

/** The user key rule, as events.user_key computes it (user_id, else anonymous_id). */
export function userKeyOf(r: EventRecord): string {
  return r.user_id !== null && r.user_id !== '' ? r.user_id : (r.anonymous_id ?? '');
}

/** The sink's rule (src/sink/rows.ts): every time written must fit DateTime64(3), or the record is dead-lettered. */
export function timesFit(r: EventRecord): boolean {
  const fits = (ms: number) => Number.isInteger(ms) && ms >= MIN_TIME_MS && ms < MAX_TIME_MS;
  return fits(r.timestamp) && fits(r.received_at) && (r.sent_at === null || fits(r.sent_at));
}
