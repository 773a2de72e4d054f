// A CSV record -> a Segment call, by a column mapping given on the command line:
//   --map userId=user,event=action,timestamp=ts,properties.plan=plan
// Targets: the Segment fields below, or `properties.<name>` / `traits.<name>` / `context.<name>`.
// Columns not mapped go into properties under their own name (traits for identify calls).
// Times: ISO 8601 text, or digits as Unix seconds (up to 11 digits) or milliseconds.
import { ImportArgumentError } from './errors.js';

const FIELDS = new Set(['type', 'userId', 'anonymousId', 'messageId', 'event', 'name', 'category', 'groupId', 'previousId', 'timestamp', 'sentAt']);
const NESTED = new Set(['properties', 'traits', 'context']);
const TYPES = new Set(['track', 'identify', 'page', 'screen', 'group', 'alias']);

export interface CsvMapping {
  /** [target path, column] */
  readonly pairs: readonly (readonly [string[], string])[];
  readonly mapped: ReadonlySet<string>;
  /** The call type when no column gives it. */
  readonly type: string;
}

export function parseCsvMapping(text: string | undefined, type: string): CsvMapping {
  if (!TYPES.has(type)) throw new ImportArgumentError(`--csv-type "${type}": expected one of ${[...TYPES].join(', ')}`);
  const pairs: [string[], string][] = [];
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) throw new ImportArgumentError(`--map "${part}": expected field=column, e.g. userId=user_id`);
    const target = part.slice(0, eq).trim();
    const column = part.slice(eq + 1).trim();
    const path = target.split('.');
    const ok = (path.length === 1 && FIELDS.has(target)) || (path.length === 2 && NESTED.has(path[0]!) && path[1]!.length > 0);
    if (!ok) {
      throw new ImportArgumentError(`--map "${part}": "${target}" is not a field; use ${[...FIELDS].join(', ')}, or properties.<name>, traits.<name>, context.<name>`);
    }
    pairs.push([path, column]);
  }
  return { pairs, mapped: new Set(pairs.map((p) => p[1])), type };
}

/** A record's call (times may be Unix ms: normalize with msTimes). */
export function csvCall(m: CsvMapping, rec: Record<string, string>): Record<string, unknown> {
  const call: Record<string, unknown> = { type: m.type };
  const properties: Record<string, unknown> = {};
  const traits: Record<string, unknown> = {};
  const context: Record<string, unknown> = {};
  const nested: Record<string, Record<string, unknown>> = { properties, traits, context };
  for (const [path, column] of m.pairs) {
    const v = rec[column];
    if (v === undefined || v === '') continue;
    if (path.length === 2) nested[path[0]!]![path[1]!] = v;
    else if (path[0] === 'timestamp' || path[0] === 'sentAt') call[path[0]] = timeOf(v);
    else call[path[0]!] = v;
  }
  const rest = call.type === 'identify' ? traits : properties;
  for (const column in rec) if (!m.mapped.has(column) && rec[column] !== '') rest[column] = rec[column];
  if (Object.keys(properties).length > 0) call.properties = properties;
  if (Object.keys(traits).length > 0) call.traits = traits;
  if (Object.keys(context).length > 0) call.context = context;
  return call;
}

function timeOf(v: string): string | number {
  if (!/^\d{1,16}$/.test(v)) return v;
  const n = Number(v);
  return v.length <= 11 ? n * 1000 : n;
}
