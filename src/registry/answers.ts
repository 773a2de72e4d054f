// The Confluent Schema Registry's REST API, read-only, over the event schemas trackhouse writes
// with: each src/schema/avsc/event.vN.avsc is schema id N and version N of each subject. So Kafka
// tools that read the Confluent wire format (kcat -s avro, Kafka Connect's AvroConverter, the
// Confluent and kafkajs deserializers) decode trackhouse.events with this as their registry URL.
//
// Subjects: the topic's value subject (TopicNameStrategy, `<topic>-value`), the record's full name
// (RecordNameStrategy) and `<topic>-<full name>` (TopicRecordNameStrategy). Registering a schema
// that is already one of these versions (the same Avro parsing canonical form: docs and defaults
// aside, the same bytes on the wire) answers its id, as Confluent's registry does; anything that
// would change the registry answers 42205, as a registry in READONLY mode does.
//
// Pure: paths, query and body in, status and body out (src/registry/routes.ts serves it).
import avro from 'avsc';
import type { SchemaVersion } from '../schema/index.js';

export interface RegistryAnswer {
  readonly status: number;
  /** JSON text. */
  readonly body: string;
}

/** Confluent's error codes (io.confluent.kafka.schemaregistry.rest.exceptions.Errors). */
const SUBJECT_NOT_FOUND = 40401;
const VERSION_NOT_FOUND = 40402;
const SCHEMA_NOT_FOUND = 40403;
const SUBJECT_CONFIG_NOT_FOUND = 40408;
const INVALID_SCHEMA = 42201;
const INVALID_VERSION = 42202;
const OPERATION_NOT_PERMITTED = 42205;

export function registryError(status: number, code: number, message: string): RegistryAnswer {
  return { status, body: JSON.stringify({ error_code: code, message }) };
}

const ok = (value: unknown): RegistryAnswer => ({ status: 200, body: JSON.stringify(value) });
const READ_ONLY = (what: string) =>
  registryError(422, OPERATION_NOT_PERMITTED, `${what}: this registry is read-only; its schemas are trackhouse's own (src/schema/avsc/event.vN.avsc is id N)`);
const NOT_FOUND = registryError(404, 404, 'HTTP 404 Not Found');

interface Registered {
  readonly id: number;
  readonly version: number;
  readonly text: string;
  readonly type: avro.Type;
}

const READS = 'GET, HEAD, OPTIONS';

/**
 * The methods Confluent's registry takes on the path `segments` (after the registry's prefix), as
 * an Allow header lists them (HEAD with every GET), or null for a path it does not have. Its
 * writes (PUT, DELETE, a registering POST) are taken and refused as a read-only registry refuses
 * them (42205); any other method is a 405.
 */
export function registryMethods(segments: readonly string[]): string | null {
  const [first, second, third, fourth] = segments;
  const n = segments.length;
  switch (first) {
    case undefined:
      return READS;
    case 'subjects':
      if (n <= 2) return n === 1 ? READS : 'POST, DELETE, OPTIONS';
      if (third !== 'versions' || n > 5) return null;
      if (n === 5) return segments[4] === 'schema' || segments[4] === 'referencedby' ? READS : null;
      return n === 3 ? 'GET, HEAD, POST, OPTIONS' : 'GET, HEAD, DELETE, OPTIONS';
    case 'schemas':
      if (n === 1 || (n === 2 && second === 'types')) return READS;
      if (second !== 'ids' || n < 3 || n > 4) return null;
      return n === 3 || fourth === 'schema' || fourth === 'subjects' || fourth === 'versions' ? READS : null;
    case 'config':
    case 'mode':
      return n === 1 ? 'GET, HEAD, PUT, OPTIONS' : n === 2 ? 'GET, HEAD, PUT, DELETE, OPTIONS' : null;
    case 'compatibility':
      return second === 'subjects' && fourth === 'versions' && (n === 4 || n === 5) ? 'POST, OPTIONS' : null;
    default:
      return null;
  }
}

export class SchemaRegistryAnswers {
  /** Oldest first; id = version. */
  private readonly versions: readonly Registered[];
  readonly subjects: readonly string[];

  constructor(versions: readonly SchemaVersion[], topic: string) {
    this.versions = versions.map((v) => ({ id: v.version, version: v.version, text: v.text, type: v.type }));
    const name = versions[versions.length - 1]?.type.name;
    this.subjects = [`${topic}-value`, ...(name ? [name, `${topic}-${name}`] : [])];
  }

  /** GET (and HEAD) of `segments` (the path after the registry's prefix, percent-decoded). */
  get(segments: readonly string[], query: URLSearchParams): RegistryAnswer {
    const [first, second, third, fourth, fifth, sixth] = segments;
    const n = segments.length;
    if (n === 0) return ok({});
    if (first === 'subjects') {
      if (n === 1) return ok(this.subjectsWith(query.get('subjectPrefix')));
      const subject = second!;
      if (!this.subjects.includes(subject)) return subjectNotFound(subject);
      if (third !== 'versions') return NOT_FOUND;
      if (n === 3) return ok(this.versions.map((v) => v.version));
      const found = this.version(subject, fourth!);
      if ('status' in found) return found;
      if (n === 4) return ok({ subject, version: found.version, id: found.id, schema: found.text });
      if (n === 5 && fifth === 'schema') return { status: 200, body: found.text };
      if (n === 5 && fifth === 'referencedby') return ok([]);
      return NOT_FOUND;
    }
    if (first === 'schemas') {
      if (n === 1) return ok(this.all(query));
      if (second === 'types' && n === 2) return ok(['AVRO']);
      if (second !== 'ids' || n < 3) return NOT_FOUND;
      const found = this.byId(third!);
      if (found === null) return registryError(404, SCHEMA_NOT_FOUND, `Schema ${third!.slice(0, 40)} not found`);
      if (n === 3) return ok(query.get('fetchMaxId') === 'true' ? { schema: found.text, maxId: this.newest().id } : { schema: found.text });
      if (n === 4 && fourth === 'schema') return { status: 200, body: found.text };
      if (n === 4 && fourth === 'subjects') return ok(this.subjects);
      if (n === 4 && fourth === 'versions') return ok(this.subjects.map((subject) => ({ subject, version: found.version })));
      return NOT_FOUND;
    }
    if (first === 'config' || first === 'mode') {
      if (n > 2) return NOT_FOUND;
      if (n === 2 && !this.subjects.includes(second!) && query.get('defaultToGlobal') !== 'true') {
        return first === 'config'
          ? registryError(404, SUBJECT_CONFIG_NOT_FOUND, `Subject '${second!.slice(0, 200)}' does not have subject-level compatibility configured`)
          : subjectNotFound(second!);
      }
      return ok(first === 'config' ? { compatibilityLevel: 'BACKWARD' } : { mode: 'READONLY' });
    }
    return NOT_FOUND;
  }

  /**
   * POST of `segments` with the JSON `body`: a lookup (`subjects/<s>`), a registration
   * (`subjects/<s>/versions`: only of a schema already here) or a compatibility check
   * (`compatibility/subjects/<s>/versions/<v>`); any other path that exists for POST is a write.
   */
  post(segments: readonly string[], body: string): RegistryAnswer {
    const [first, second, third, fourth, fifth] = segments;
    const n = segments.length;
    if (first === 'subjects' && n >= 2 && n <= 3 && (n === 2 || third === 'versions')) {
      const subject = second!;
      const schema = readSchema(body);
      if ('status' in schema) return schema;
      const found = this.matching(schema);
      if (n === 2) {
        if (!this.subjects.includes(subject)) return subjectNotFound(subject);
        return found === null ? registryError(404, SCHEMA_NOT_FOUND, 'Schema not found') : ok({ subject, version: found.version, id: found.id, schema: found.text });
      }
      if (found === null || !this.subjects.includes(subject)) return READ_ONLY(`Subject ${subject.slice(0, 200)} is in read-only mode`);
      return ok({ id: found.id });
    }
    if (first === 'compatibility' && second === 'subjects' && fourth === 'versions' && n >= 4 && n <= 5) {
      const subject = third!;
      if (!this.subjects.includes(subject)) return subjectNotFound(subject);
      const schema = readSchema(body);
      if ('status' in schema) return schema;
      // BACKWARD: the new schema reads what the version (or every version, with none given) wrote.
      const version = n === 5 ? this.version(subject, fifth!) : null;
      if (version !== null && 'status' in version) return version;
      return ok({ is_compatible: (version === null ? this.versions : [version]).every((w) => reads(schema, w.type)) });
    }
    return this.change();
  }

  /** Any other write (PUT, DELETE, another POST) on a path that takes it (registryMethods): refused, read-only. */
  change(): RegistryAnswer {
    return READ_ONLY('Not permitted');
  }

  private newest(): Registered {
    return this.versions[this.versions.length - 1]!;
  }

  private subjectsWith(prefix: string | null): string[] {
    return prefix === null ? [...this.subjects] : this.subjects.filter((s) => s.startsWith(prefix));
  }

  private all(query: URLSearchParams): unknown[] {
    const latestOnly = query.get('latestOnly') === 'true';
    const out: unknown[] = [];
    for (const subject of this.subjectsWith(query.get('subjectPrefix'))) {
      for (const v of latestOnly ? [this.newest()] : this.versions) out.push({ subject, version: v.version, id: v.id, schema: v.text });
    }
    return out;
  }

  private byId(text: string): Registered | null {
    if (!/^\d{1,9}$/.test(text)) return null;
    const id = Number(text);
    return this.versions.find((v) => v.id === id) ?? null;
  }

  /** `latest`, -1 (latest), or a version number (1 and up); else the registry's error. */
  private version(subject: string, text: string): Registered | RegistryAnswer {
    if (text === 'latest' || text === '-1') return this.newest();
    if (!/^\d{1,9}$/.test(text) || Number(text) < 1) {
      return registryError(422, INVALID_VERSION, `The specified version '${text.slice(0, 40)}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`);
    }
    const number = Number(text);
    return this.versions.find((v) => v.version === number) ?? registryError(404, VERSION_NOT_FOUND, `Version ${number} not found for subject ${subject.slice(0, 200)}`);
  }

  /** The newest version with the same parsing canonical form, or null. */
  private matching(type: avro.Type): Registered | null {
    for (let i = this.versions.length - 1; i >= 0; i--) if (this.versions[i]!.type.equals(type)) return this.versions[i]!;
    return null;
  }
}

function subjectNotFound(subject: string): RegistryAnswer {
  return registryError(404, SUBJECT_NOT_FOUND, `Subject '${subject.slice(0, 200)}' not found.`);
}

/** Whether `reader` reads what `writer` wrote (Avro schema resolution). */
function reads(reader: avro.Type, writer: avro.Type): boolean {
  try {
    reader.createResolver(writer);
    return true;
  } catch {
    return false;
  }
}

/** The Avro schema of a request body `{"schema": "<text>", "schemaType"?: "AVRO"}`, or the registry's error. */
function readSchema(body: string): avro.Type | RegistryAnswer {
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    return registryError(400, 400, 'the body is not JSON: send {"schema": "<Avro schema as text>"}');
  }
  if (request === null || typeof request !== 'object' || typeof (request as { schema?: unknown }).schema !== 'string') {
    return registryError(422, INVALID_SCHEMA, 'the body must be a JSON object with the schema as a string in "schema"');
  }
  const { schema, schemaType } = request as { schema: string; schemaType?: unknown };
  if (schemaType !== undefined && schemaType !== null && schemaType !== 'AVRO') return registryError(422, INVALID_SCHEMA, `this registry holds Avro schemas only, not ${String(schemaType).slice(0, 40)}`);
  try {
    return avro.Type.forSchema(JSON.parse(schema) as avro.Schema);
  } catch (err) {
    return registryError(422, INVALID_SCHEMA, `Invalid schema: ${(err as Error).message.slice(0, 300)}`);
  }
}
