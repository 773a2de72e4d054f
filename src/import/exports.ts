// The vendors' EXPORT files, as people bring them to `trackhouse import`, where their shape
// differs from what the vendor's SDKs send live (which src/ingest/formats/<vendor>.ts reads).
//
// - Amplitude's Export API (and its S3 export) writes one event per line with `event_time`
//   ("2024-01-01 12:00:00.123000", UTC, already corrected for the device's clock), `$insert_id`,
//   `uuid`, `ip_address`, `device_carrier`, `version_name`, and no `time` (Unix ms), the only time
//   the HTTP API's translator reads. Such a line is told apart by `event_time` without `time`
//   (the HTTP API has no `event_time`) and reshaped into an HTTP API event before translation.
// - Mixpanel's raw export (`{"event", "properties": {"time": <s or ms>, "$insert_id", ...}}`),
//   PostHog's batch exports (JSON lines: `uuid`, `event`, `distinct_id`, ISO `timestamp`,
//   `properties`) and Segment's own (`timestamp` beside `originalTimestamp`, `sentAt`,
//   `receivedAt`) are what the live translators and the Segment path read already.
// - Mixpanel's profile export (the Engage query API's `results` entries:
//   `{"$distinct_id", "$properties": {"$email", "$last_seen": "2024-01-01T12:00:00", ...}}`) is a
//   profile's state, not an update: read by `--format mixpanel-engage` as the update that sets it
//   (`$set` = `$properties`). It says when nothing happened: `$last_seen` is the last activity, in a
//   zone Mixpanel's docs do not name, and a profile set without events has none; so the identify
//   is timed at the import's run (normalizeEvent's receivedAt), `$last_seen` kept as a trait.
//   `$properties` is read as the edge reads `$set` (readMixpanelJson keeps it as text), so a
//   64-bit integer in it is stored as exported, not rounded.
// - Mixpanel's GROUP profile export (the same API with `data_group_id`, the group key's numeric
//   id in Mixpanel) has the same entries, `$distinct_id` being the group's id: the group key is
//   not in them (tools that add it write `$group_key`, and `$group_id` beside `$distinct_id`).
//   `--format mixpanel-groups` reads such an entry as the /groups update that sets it: group key
//   = the entry's `$group_key`, else `--group-key`; group id = `$group_id`, else `$distinct_id`.
//   Without either key the import stops and says to pass `--group-key` (each entry would be
//   refused alike); under mixpanel-engage an entry with `$group_key` stops it the same way, as a
//   group's profile is not a user's.
// - Snowplow's enriched events (TSV, or their JSON form from the Analytics SDKs) are not
//   supported: `snowplowEnriched` names them so the import stops with a clear message.
import { EVENT_TIME, parseIsoTime } from '../common/isotime.js';
import { amplitudeEvent, amplitudeEvents } from '../ingest/formats/amplitude.js';
import { mixpanelEngage, mixpanelGroup, Refused, type SegmentCall, type Translation } from '../ingest/formats/index.js';

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An Amplitude Export API event: `event_time` and no HTTP API `time`. */
export function isAmplitudeExport(e: unknown): e is Json {
  return isObj(e) && e.event_time !== undefined && e.event_time !== null && e.time === undefined;
}

/**
 * translateAmplitude for an item that holds Export API events (a line, an array element, or a
 * list of them); null when it holds none, so the HTTP API's translation reads it as before.
 */
export function translateAmplitudeExport(value: unknown): Translation | null {
  if (!isAmplitudeExport(value)) {
    // A list (a JSON array line, or a body) with an export event in it; else not ours.
    const list = Array.isArray(value) ? value : isObj(value) && Array.isArray(value.events) ? value.events : null;
    if (list === null || !list.some(isAmplitudeExport)) return null;
  }
  const events = amplitudeEvents(value) ?? [];
  const calls: (SegmentCall | Refused)[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (!isAmplitudeExport(e)) {
      calls[i] = amplitudeEvent(e, undefined);
      continue;
    }
    const http = httpApiEvent(e);
    calls[i] = http instanceof Refused ? http : amplitudeEvent(http, undefined);
  }
  return { key: undefined, calls, raw: events };
}

/** An Export API event as the HTTP API event the translator reads (its names, `time` in ms). */
export function httpApiEvent(e: Json): Json | Refused {
  // event_time is Amplitude's time of the event: client_event_time moved by the difference
  // between the server's and the client's upload times (the device's clock skew), in UTC.
  const at = typeof e.event_time === 'string' ? e.event_time : typeof e.client_event_time === 'string' ? e.client_event_time : undefined;
  const time = at === undefined ? NaN : parseIsoTime(at, EVENT_TIME);
  if (Number.isNaN(time)) return new Refused('invalid_timestamp', 'event_time must be a UTC time ("2024-01-01 12:00:00.123000")', 'event_time', e);
  const out: Json = { ...e, time };
  delete out.event_time;
  // Amplitude's dedup key as the SDK sent it (so an event also sent live is the same event),
  // else Amplitude's own id of the event: re-importing an export never doubles it.
  const insertId = e.$insert_id ?? e.uuid;
  if (insertId !== undefined && insertId !== null) out.insert_id = insertId;
  if (out.ip === undefined && typeof e.ip_address === 'string') out.ip = e.ip_address;
  if (out.carrier === undefined && e.device_carrier !== undefined && e.device_carrier !== null) out.carrier = e.device_carrier;
  if (out.app_version === undefined && e.version_name !== undefined && e.version_name !== null) out.app_version = e.version_name;
  // -1 is Amplitude's "no session".
  if (e.session_id === -1 || e.session_id === null) delete out.session_id;
  // null members (the export writes every column) are absent ones for the translator.
  for (const k in out) if (out[k] === null) delete out[k];
  return out;
}

/** The operations of an engage update: a line with one is an update, not an exported profile. */
const ENGAGE_OPS = ['$set', '$set_once', '$add', '$append', '$union', '$remove', '$unset', '$delete'] as const;

/** A Mixpanel profile export entry: `$properties` (an object) and no engage operation. */
export function isMixpanelProfile(e: unknown): e is Json {
  if (!isObj(e) || !isObj(e.$properties)) return false;
  for (const op of ENGAGE_OPS) if (e[op] !== undefined) return false;
  return true;
}

/**
 * translateMixpanel(value, 'engage') for the entries of an item that holds exported profiles
 * (mixpanelProfiles: a line, an array element, a list of them, or a saved Engage API answer
 * `{"results": [...]}`). A profile is an identify whose traits are its `$properties`, untimed (see
 * the top of this file).
 */
export function translateMixpanelProfiles(list: unknown[]): Translation {
  const calls: (SegmentCall | Refused)[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    calls[i] = mixpanelEngage(isMixpanelProfile(e) ? { $distinct_id: e.$distinct_id, $set: e.$properties } : e);
  }
  return { key: undefined, calls, raw: list };
}

/**
 * translateMixpanel(value, 'groups') for the entries of an item that holds exported GROUP profiles
 * (mixpanelProfiles). Each is the group update that sets it:
 * key = its `$group_key`, else `groupKey` (`--group-key`); id = its `$group_id`, else its
 * `$distinct_id`. Call groupKeyMissing first: here an entry without a key is refused as an update is.
 */
export function translateMixpanelGroupProfiles(list: unknown[], groupKey: string | null): Translation {
  const calls: (SegmentCall | Refused)[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    if (!isMixpanelProfile(e)) {
      calls[i] = mixpanelGroup(e);
      continue;
    }
    const idField = e.$group_id !== undefined && e.$group_id !== null ? '$group_id' : '$distinct_id';
    const call = mixpanelGroup({ $group_key: e.$group_key ?? groupKey ?? undefined, $group_id: e[idField], $set: e.$properties });
    // A refusal names the entry's own field: its id is its $distinct_id when it has no $group_id.
    calls[i] = call instanceof Refused && idField !== '$group_id' ? renamed(call, '$group_id', idField, e) : call;
  }
  return { key: undefined, calls, raw: list };
}

function renamed(r: Refused, from: string, to: string, raw: unknown): Refused {
  return new Refused(r.code, r.message.split(from).join(to), r.field === from ? to : r.field, raw);
}

/** Whether profile entries (mixpanelProfiles) hold one without `$group_key` (then `--group-key` is needed). */
export function groupKeyMissing(list: readonly unknown[]): boolean {
  return list.some((e) => isMixpanelProfile(e) && (e.$group_key === undefined || e.$group_key === null));
}

/** Whether profile entries (mixpanelProfiles) hold one that names its group key: a group's, not a user's. */
export function holdsGroupProfile(list: readonly unknown[]): boolean {
  return list.some((e) => isMixpanelProfile(e) && e.$group_key !== undefined && e.$group_key !== null);
}

export const GROUP_KEY_HELP =
  'a Mixpanel group profile export (Engage query API with data_group_id) does not name the group key: pass --group-key <key>, ' +
  'the group key\'s name as your events carry it (e.g. company), not Mixpanel\'s numeric data_group_id';

/**
 * The profile entries of an item (one, a list, or a saved answer's `results`) with at least one
 * exported profile; else null (updates, read as before). Found once per item and handed to the
 * checks and translations below.
 */
export function mixpanelProfiles(value: unknown): unknown[] | null {
  if (isMixpanelProfile(value)) return [value];
  const l = Array.isArray(value) ? value : isObj(value) && Array.isArray(value.results) ? value.results : null;
  return l !== null && l.some(isMixpanelProfile) ? l : null;
}

/** Fewest tab-separated fields taken as an enriched event (Snowplow's TSV has 131). */
const ENRICHED_TSV_FIELDS = 100;

/**
 * Why an item is a Snowplow enriched event, which the import does not read (their shape is
 * enrich's output, not the tracker protocol the snowplow format reads); null when it is not one.
 * Called only for items that did not read as events, so it costs nothing on good input.
 */
export function snowplowEnriched(text: string | undefined, value: unknown): string | null {
  if (text !== undefined && value === undefined) {
    let tabs = 0;
    for (let i = text.indexOf('\t'); i >= 0 && tabs < ENRICHED_TSV_FIELDS; i = text.indexOf('\t', i + 1)) tabs++;
    if (tabs + 1 >= ENRICHED_TSV_FIELDS) return 'a Snowplow enriched event (TSV)';
    return null;
  }
  if (isObj(value) && value.e === undefined && value.collector_tstamp !== undefined && value.event_id !== undefined) {
    return 'a Snowplow enriched event (the Analytics SDKs\' JSON)';
  }
  return null;
}

export const SNOWPLOW_ENRICHED_HELP =
  'enriched events are not supported: --format snowplow reads the trackers\' events (tp2 payloads, as the collector receives them); ' +
  'load enriched data from your warehouse with --format csv and --map (README, "Importing history")';
