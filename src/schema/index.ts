export { DecodeError, EventCodec, HEADER_BYTES, MAGIC_BYTE } from './codec.js';
export { loadSchemaVersions, SCHEMAS_DIR, type SchemaVersion } from './registry.js';
export { EVENT_TYPES, MAX_ID_LENGTH, type EventRecord, type EventType } from './types.js';
export { emptyProjection, EventProjector, propertiesText, type EventProjection } from './projection.js';
export { Interner, utf8 } from './intern.js';
export {
  encodeTsvRow,
  END_TIME_MS,
  escapeTsv,
  EVENTS_INSERT_COLUMNS,
  InvalidEventError,
  isStorableTime,
  isUnixSecondsTime,
  MIN_TIME_MS,
  INT64_MIN_DIGITS,
  jsonTooDeep,
  MAX_JSON_DEPTH,
  UINT64_MAX_DIGITS,
  recordTimesStorable,
  ROLLUP_DAYS_TEXT,
  ROLLUP_END_MS,
  ROLLUP_FIRST_MS,
  ROLLUP_TIME_SQL,
  STORABLE_TIMES,
  TIME_RANGE_TEXT,
  USER_KEY_SQL,
  userKeyOf,
  type StoredRow,
} from './row.js';
export type { EventReply } from './reply.js';
export { rebuildRollups } from './rollups.js';
