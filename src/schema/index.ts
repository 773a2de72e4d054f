export { DecodeError, EventCodec, HEADER_BYTES, MAGIC_BYTE } from './codec.js';
export { loadSchemaVersions, SCHEMAS_DIR, type SchemaVersion } from './registry.js';
export { EVENT_TYPES, type EventRecord, type EventType } from './types.js';
