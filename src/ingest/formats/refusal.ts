// A vendor event refused by normalizeEvent, in the vendor's terms. The translators map the
// vendor's fields to a Segment call and normalizeEvent checks that call, so its reasons name
// Segment's fields ("userId is longer than 8192 characters"), which a PostHog, Amplitude,
// Mixpanel or Snowplow client never sent. Renamed here, at refusal time only: the accepted path
// pays nothing (no field map is built or carried per event).
//
// Which vendor field a call's field came from depends on the event (PostHog's userId is its
// distinct_id, or properties.alias for $create_alias; Mixpanel's is $identified_id, $user_id or
// distinct_id), so the candidates are tried in the translator's order and the one whose value
// the call holds is named; else the first one the event has.
import { Refused } from './types.js';
import type { EventProblem } from '../problems.js';
import { PickedText } from '../jsontext.js';

type CallField = 'userId' | 'anonymousId' | 'previousId' | 'messageId' | 'event' | 'name' | 'groupId' | 'timestamp' | 'sentAt';

type Candidates = Partial<Record<CallField, readonly string[]>>;

const POSTHOG: Candidates = {
  userId: ['distinct_id', 'properties.distinct_id', '$distinct_id', 'properties.alias'],
  anonymousId: ['properties.$device_id', 'properties.$anon_distinct_id', 'distinct_id', 'properties.distinct_id', '$distinct_id'],
  previousId: ['distinct_id', 'properties.distinct_id', '$distinct_id'],
  messageId: ['uuid'],
  event: ['event'],
  name: ['properties.title', 'properties.$title', 'properties.$screen_name'],
  groupId: ['properties.$group_key'],
  // A finite `offset` is the time the translator takes first.
  timestamp: ['offset', 'timestamp'],
  sentAt: ['sent_at'],
};

const AMPLITUDE: Candidates = {
  userId: ['user_id'],
  anonymousId: ['device_id'],
  messageId: ['insert_id', '$insert_id', 'uuid'],
  event: ['event_type'],
  groupId: ['groups'],
  // `event_time`: the Export API's lines (src/import/exports.ts).
  timestamp: ['time', 'event_time'],
  sentAt: ['client_upload_time'],
};

const MIXPANEL: Candidates = {
  // Events carry their ids in properties; engage updates and exported profiles at the top.
  userId: ['properties.$identified_id', 'properties.$user_id', 'properties.distinct_id', 'properties.alias', '$user_id', '$distinct_id'],
  anonymousId: ['properties.$anon_id', 'properties.$device_id', 'properties.distinct_id', '$device_id', '$distinct_id'],
  previousId: ['properties.distinct_id'],
  messageId: ['properties.$insert_id'],
  event: ['event'],
  name: ['properties.current_page_title'],
  timestamp: ['properties.time', 'properties.$time', 'time'],
};

const SNOWPLOW: Candidates = {
  userId: ['uid'],
  anonymousId: ['duid', 'nuid', 'tnuid', 'sid'],
  messageId: ['eid'],
  event: ['se_ac', 'ue_pr', 'ue_px'],
  timestamp: ['ttm', 'dtm'],
  sentAt: ['stm'],
};

const BY_VENDOR: Record<string, Candidates | undefined> = {
  posthog: POSTHOG,
  amplitude: AMPLITUDE,
  mixpanel: MIXPANEL,
  'mixpanel-engage': MIXPANEL,
  'mixpanel-groups': MIXPANEL,
  snowplow: SNOWPLOW,
};

/** Mixpanel's device distinct ids: `$device:<id>`, whose id the call holds. */
const DEVICE = '$device:';

/** The call field a normalizeEvent reason is about: its first word ("userId is longer ...", "timestamp (after ...) must ..."). */
const SUBJECT = /^(userId|anonymousId|previousId|messageId|event|name|groupId|timestamp|sentAt)(?= is | must | \()/;

/**
 * `p` (normalizeEvent's reason for `call`, the translation of `raw`, an event of `vendor`) with
 * the vendor's field in its message and as its `field`; null when it names no field of a call
 * or the vendor has none for it (then `p` stands as it is).
 */
export function vendorRefusal(vendor: string, p: EventProblem, call: unknown, raw: unknown): Refused | null {
  const candidates = BY_VENDOR[vendor];
  if (candidates === undefined) return null;
  const m = SUBJECT.exec(p.message);
  if (m === null) return null;
  const subject = m[1] as CallField;
  const paths = candidates[subject];
  if (paths === undefined) return null;
  const value = isObj(call) ? call[subject] : undefined;
  let named: string | undefined;
  for (const path of paths) {
    const v = at(raw, path);
    if (v === undefined || v === null) continue;
    named ??= path;
    if (value !== undefined && (idText(v) === idText(value) || idText(v) === `${DEVICE}${idText(value)}`)) {
      named = path;
      break;
    }
  }
  if (named === undefined) return null;
  return new Refused(p.code, named + p.message.slice(subject.length), named, raw);
}

function at(raw: unknown, path: string): unknown {
  const dot = path.indexOf('.');
  if (dot < 0) return isObj(raw) ? raw[path] : undefined;
  const outer = isObj(raw) ? raw[path.slice(0, dot)] : undefined;
  // Properties read by the edge's readers are kept as text, with the members they need picked.
  const inner = outer instanceof PickedText ? outer.picked : outer;
  return isObj(inner) ? inner[path.slice(dot + 1)] : undefined;
}

function idText(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
