// Versioned Avro schemas. Each src/schema/avsc/<name>.v<N>.avsc file is one version; its Confluent schema
// id is N (no schema registry needed: the query port serves these ids, src/registry/). Readers always
// decode into the newest version, resolving older writers' records through Avro schema resolution.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

/**
 * The .avsc files are data read at run time, kept beside the code that reads them. Resolved from
 * the project root (two levels above both src/schema and dist/schema), since tsc copies no data
 * into dist/: the package and the image ship src/schema/avsc/ as it is.
 */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../src/schema/avsc/', import.meta.url));

export interface SchemaVersion {
  readonly version: number;
  readonly file: string;
  readonly type: avro.Type;
  /** The schema as compact JSON text (what a schema registry serves for its id). */
  readonly text: string;
}

export function loadSchemaVersions(name: string, dir: string = SCHEMAS_DIR): SchemaVersion[] {
  const pattern = new RegExp(`^${name.replace(/[.]/g, '\\.')}\\.v(\\d+)\\.avsc$`);
  const versions: SchemaVersion[] = [];
  for (const file of readdirSync(dir)) {
    const m = pattern.exec(file);
    if (!m) continue;
    const schema = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as avro.Schema;
    versions.push({ version: Number(m[1]), file, type: avro.Type.forSchema(schema), text: JSON.stringify(schema) });
  }
  versions.sort((a, b) => a.version - b.version);
  if (versions.length === 0) throw new Error(`no ${name}.v<N>.avsc schema in ${dir}`);
  return versions;
}
