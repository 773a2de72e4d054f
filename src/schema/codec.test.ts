import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { DecodeError, EventCodec } from './codec.js';
import { loadSchemaVersions, SCHEMAS_DIR, type SchemaVersion } from './registry.js';
import type { EventRecord } from './types.js';

/**
 * One per released schema version, written once by the encoder of the day the version was
 * released and never edited since: records with exactly these bytes sit in Kafka.
 */
interface Golden {
  schema: string;
  /** sha256 of src/schema/avsc/event.vN.avsc (schemas/ until the move; LF line ends) as released. */
  schemaSha256: string;
  /** What was written, with that version's fields. */
  record: Record<string, unknown>;
  /** Confluent-framed Avro bytes of `record`. */
  framedHex: string;
}

const GOLDEN_DIR = fileURLToPath(new URL('./golden/', import.meta.url));
const goldenPath = (v: SchemaVersion) => `src/schema/golden/event.v${v.version}.json`;
const schemaSha256 = (v: SchemaVersion) => createHash('sha256').update(readFileSync(`${SCHEMAS_DIR}/${v.file}`, 'utf8').replace(/\r\n/g, '\n')).digest('hex');
const framed = (v: SchemaVersion, record: unknown) => Buffer.concat([Buffer.from([0, 0, 0, 0, v.version]), v.type.toBuffer(record)]);

/** The version's fixture; a version without one fails, printing the fixture to commit on its release. */
function readGolden(v: SchemaVersion, sample: EventRecord): Golden {
  const file = `${GOLDEN_DIR}/event.v${v.version}.json`;
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Golden;
  const fields = (v.type.schema() as { fields: { name: string }[] }).fields.map((f) => f.name);
  const record = Object.fromEntries(fields.map((f) => [f, sample[f as keyof EventRecord] ?? null]));
  const fixture: Golden = { schema: `src/schema/avsc/${v.file}`, schemaSha256: schemaSha256(v), record, framedHex: framed(v, record).toString('hex') };
  return expect.fail(
    `src/schema/avsc/${v.file} has no golden fixture. Once version ${v.version} is final, commit ${goldenPath(v)} ` +
      `(written now by this encoder; never edit it afterwards):\n${JSON.stringify(fixture, null, 2)}\n`,
  );
}

const sample: EventRecord = {
  event_id: 'msg-1',
  type: 'track',
  event: 'Order Completed',
  user_id: 'u-1',
  anonymous_id: null,
  timestamp: 1_763_700_000_123,
  sent_at: 1_763_700_000_200,
  received_at: 1_763_700_000_300,
  source: 'web',
  category: 'shoes',
  group_id: 'g-1',
  name: null,
  previous_id: null,
  properties: '{"category":"shoes","price":12.5}',
  traits: '{}',
  context: '{"groupId":"g-1"}',
};

describe('event codec', () => {
  const codec = new EventCodec();

  it('frames records in the Confluent wire format with the newest schema id', () => {
    const buf = codec.encode(sample);
    expect(buf[0]).toBe(0);
    expect(buf.readUInt32BE(1)).toBe(codec.writerId);
    expect(codec.writerId).toBe(codec.versions[codec.versions.length - 1]!.version);
    expect(codec.decode(buf)).toEqual(sample);
  });

  it('encodeInto writes the same bytes as encode and reports a too-small buffer', () => {
    const expected = codec.encode(sample);
    const slab = Buffer.alloc(4096);
    const end = codec.encodeInto(sample, slab, 100);
    expect(end - 100).toBe(expected.length);
    expect(slab.subarray(100, end).equals(expected)).toBe(true);
    expect(codec.encodeInto(sample, Buffer.alloc(20), 0)).toBeLessThan(0);
  });

  it('decodes records written with every earlier schema version into the newest shape', () => {
    const versions = loadSchemaVersions('event');
    expect(versions.length).toBeGreaterThan(1);
    for (const v of versions) {
      // Write with that version's own schema, keeping only the fields it knows.
      const fields = (v.type.schema() as { fields: { name: string }[] }).fields.map((f) => f.name);
      const old = Object.fromEntries(fields.map((f) => [f, sample[f as keyof EventRecord]]));
      const body = v.type.toBuffer(old);
      const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, v.version]), body]);
      const decoded = codec.decode(framed);
      for (const f of fields) expect(decoded[f as keyof EventRecord]).toEqual(sample[f as keyof EventRecord]);
      for (const f of Object.keys(sample).filter((k) => !fields.includes(k))) {
        expect(decoded[f as keyof EventRecord]).toBeNull();
      }
    }
  });

  it('every schema version can be read by the newest one (backward compatible)', () => {
    const versions = loadSchemaVersions('event');
    const latest = versions[versions.length - 1]!.type;
    for (const v of versions) expect(() => latest.createResolver(v.type)).not.toThrow();
  });

  it('rejects bad frames with a DecodeError that says what is wrong', () => {
    const good = codec.encode(sample);
    const cases: [Buffer, RegExp][] = [
      [Buffer.from([0, 0]), /shorter than the 5-byte header/],
      [Buffer.concat([Buffer.from([1]), good.subarray(1)]), /not the magic byte/],
      [Buffer.concat([Buffer.from([0, 0, 0, 0, 99]), good.subarray(5)]), /unknown schema id 99/],
      [good.subarray(0, good.length - 3), /truncated|not valid Avro/],
      [Buffer.concat([good, Buffer.from([1, 2])]), /trailing bytes/],
    ];
    for (const [buf, re] of cases) {
      expect(() => codec.decode(buf)).toThrow(DecodeError);
      expect(() => codec.decode(buf)).toThrow(re);
    }
  });

  describe('golden bytes of every released schema version', () => {
    const versions = loadSchemaVersions('event');

    it.each(versions.map((v) => [v.version, v] as const))('src/schema/avsc/event.v%i.avsc is unchanged since its release', (_, v) => {
      const golden = readGolden(v, sample);
      const now = schemaSha256(v);
      if (now !== golden.schemaSha256) {
        expect.fail(
          `src/schema/avsc/${v.file} changed after version ${v.version} was released (sha256 ${now}, pinned ${golden.schemaSha256} in ${goldenPath(v)}). ` +
            `Records written with it are in Kafka and must stay readable: revert the edit and add the change as a new version, ` +
            `src/schema/avsc/event.v${versions[versions.length - 1]!.version + 1}.avsc.`,
        );
      }
    });

    it.each(versions.map((v) => [v.version, v] as const))('bytes written with v%i still decode with the latest reader, and that writer still writes them', (_, v) => {
      const golden = readGolden(v, sample);
      const bytes = Buffer.from(golden.framedHex, 'hex');
      expect(bytes.readUInt32BE(1)).toBe(v.version);
      // Every field that version wrote comes back as written; fields added later take their defaults.
      const latest = (versions[versions.length - 1]!.type.schema() as { fields: { name: string; default?: unknown }[] }).fields;
      const expected = Object.fromEntries(latest.map((f) => [f.name, f.name in golden.record ? golden.record[f.name] : (f.default ?? null)]));
      expect(codec.decode(bytes)).toEqual(expected);
      expect(framed(v, golden.record).equals(bytes)).toBe(true);
      if (v.version === codec.writerId) expect(codec.encode(expected as unknown as EventRecord).equals(bytes)).toBe(true);
    });
  });

  it('the schemas declare one record name so resolution between versions works', () => {
    for (const v of loadSchemaVersions('event')) expect((v.type as avro.types.RecordType).name).toBe('trackhouse.Event');
  });
});
