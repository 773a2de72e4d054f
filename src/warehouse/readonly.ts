// What a BI tool may run on the all-in-one's read-only SQL port (./sqlport.ts), and the statement
// that is run for it. chDB is this process's own engine, shared with the sink and the query API,
// and it has no users or grants of its own, so the port decides:
//
// 1. The text is parsed by the engine itself, as a value (`formatQuerySingleLine` of a bound
//    parameter: nothing in it runs), which refuses a second statement and gives its canonical
//    single-line form. Only that form is looked at and run afterwards.
// 2. Its syntax tree (`EXPLAIN AST`, which parses and runs nothing) must be a SELECT, SHOW,
//    DESCRIBE, EXISTS or EXPLAIN of a SELECT, with no SETTINGS clause anywhere (a subquery's
//    `SETTINGS readonly = 0` would undo step 3 for its part), no INTO OUTFILE (readonly lets it
//    write files), no `file()` (the scalar function reads any file, readonly or not), and table
//    functions only from a list that reads nothing outside the engine.
// 3. It runs with `SETTINGS readonly = 1` (no writes, DDL or other table functions), and time,
//    result-size and memory limits that a URL setting can lower but not lift: chDB runs one query
//    at a time, holds the whole result in memory, and shares the process with the pipeline.
//    Settings that name a file, directory or address of the server are refused (settingRefusal).
//
// Settings passed with a query are kept by chDB for the queries after it (./client.ts), so all of
// these go in the statement's own SETTINGS clause, which applies to it alone.
import type { ClickHouseClient, DataFormat } from '@clickhouse/client';
import { ClickHouseException, engineError, type EngineError } from './http-interface.js';

/** Table functions that read only the engine's own tables or make rows up (names are case-insensitive). */
const TABLE_FUNCTION_NAMES = ['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generate_series', 'generateSeries', 'generateRandom', 'values', 'view', 'merge'];
const TABLE_FUNCTIONS: ReadonlySet<string> = new Set(TABLE_FUNCTION_NAMES.map((n) => n.toLowerCase()));

/** Statement kinds served: the root node of their syntax tree. */
const ROOTS: ReadonlySet<string> = new Set([
  'SelectWithUnionQuery',
  'ShowTables',
  'ShowColumns',
  'ShowCreateTableQuery',
  'DescribeQuery',
  'ExistsTableQuery',
  'Explain',
]);

/** Limits every statement runs under: a URL setting may lower them, not lift them. */
export interface ReadOnlyLimits {
  /** max_execution_time, in seconds. */
  maxSeconds: number;
  /** max_result_bytes (result_overflow_mode = 'throw'). */
  maxResultBytes: number;
  /** max_memory_usage: what one statement may hold while it runs (a groupArray of everything would take the all-in-one down). */
  maxMemoryBytes: number;
}

export const DEFAULT_READ_ONLY_LIMITS: ReadOnlyLimits = { maxSeconds: 30, maxResultBytes: 256 * 1024 * 1024, maxMemoryBytes: 1024 * 1024 * 1024 };

/** A statement this port does not run, with ClickHouse's error code for it (READONLY). */
export class RefusedStatement extends ClickHouseException {
  constructor(message: string) {
    super(164, 'READONLY', message);
  }
}

const SERVED = 'this port is read-only: it serves SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN SELECT';
const INTO_OUTFILE = "INTO OUTFILE writes the server's files and is not served here";

/** `text` with what is inside quotes ('strings', `names`, "names") blanked, so a keyword found in it is SQL's own. */
export function unquoted(text: string): string {
  let out = '';
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === '') {
      if (c === "'" || c === '`' || c === '"') quote = c;
      out += c;
    } else if (c === '\\') {
      i++;
      out += '  ';
    } else if (c === quote) {
      quote = '';
      out += c;
    } else out += ' ';
  }
  return out;
}

interface Node {
  depth: number;
  /** The node's kind (`Function`, `Literal`, `SelectQuery`, ...). */
  kind: string;
  /** The word after the kind: a function's or identifier's name. */
  name: string;
}

function node(line: string): Node {
  const depth = line.length - line.trimStart().length;
  const words = line.trimStart().split(' ');
  return { depth, kind: words[0] ?? '', name: words[1] ?? '' };
}

/**
 * Why the statement whose `EXPLAIN AST` lines these are is not served, or null when it is. Pure:
 * the lines are the engine's own dump, one node per line, indented one space per level.
 */
export function refusal(astLines: readonly string[]): string | null {
  const nodes = astLines.filter((l) => l.trim() !== '').map(node);
  const root = nodes[0];
  if (root === undefined) return 'the statement is empty';
  if (!ROOTS.has(root.kind)) return `${SERVED}, not ${root.kind.replace(/Query$/, '')}`;
  if (root.kind === 'Explain' && nodes[1]?.kind !== 'SelectWithUnionQuery') return `${SERVED}; EXPLAIN only of a SELECT`;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n.kind === 'Set') return 'SETTINGS in the statement are not served here; pass settings as URL parameters (they apply to this query only)';
    if (n.kind === 'Function' && n.name.toLowerCase() === 'file') return 'file() reads the server\'s files and is not served here';
    if (n.kind === 'TableExpression') {
      const child = nodes[i + 1];
      if (child !== undefined && child.depth === n.depth + 1 && child.kind === 'Function' && !TABLE_FUNCTIONS.has(child.name.toLowerCase())) {
        return `table function ${child.name}() is not served here (only ${TABLE_FUNCTION_NAMES.join(', ')})`;
      }
    }
    // The root's own clauses. INTO OUTFILE's file name is the one literal among them, whatever the
    // statement (SHOW, DESCRIBE, EXISTS and EXPLAIN take it too); a SELECT's others are its
    // statements and FORMAT's identifier.
    if (n.depth === 1 && n.kind === 'Literal') return INTO_OUTFILE;
    if (n.depth === 1 && root.kind === 'SelectWithUnionQuery' && n.kind !== 'ExpressionList' && n.kind !== 'Identifier') return `${SERVED}; ${n.kind} is not`;
  }
  return null;
}

/**
 * A ClickHouse server's defaults where chDB's differ in what a client sees: a server quotes 64-bit
 * integers in JSON formats (JavaScript clients count on it), chDB does not.
 */
const SERVER_DEFAULTS: Readonly<Record<string, string>> = { output_format_json_quote_64bit_integers: '1' };

/**
 * Words of the settings that name a file, directory or address of the server: a format's schema or
 * template (`format_schema`, `format_template_resultset`, `format_template_row`), where a schema is
 * written (`output_format_schema`), where errors go, a URL. chDB is clickhouse-local, which takes
 * any path in them, so as URL settings they read the machine's files into an error message (a
 * template's text is quoted back) or write a file. Refused by a word of the name, whatever the
 * value, so a setting of that kind added by a later engine is refused too.
 */
const SERVER_RESOURCE_WORDS: ReadonlySet<string> = new Set(['schema', 'template', 'file', 'files', 'path', 'paths', 'dir', 'directory', 'url', 'uri', 'credentials']);

/** Why a setting named so is not served, or null. */
export function settingRefusal(name: string): string | null {
  return name
    .toLowerCase()
    .split('_')
    .some((w) => SERVER_RESOURCE_WORDS.has(w))
    ? `the setting ${name} names a file, directory or address of the server and is not served here`
    : null;
}

function literal(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The SETTINGS clause a served statement runs with: a server's defaults, the caller's settings,
 * the limits (a caller's lower time, result or memory limit is kept), readonly last. The engine refuses a
 * setting named again once readonly is on, and applies them in order, so none may follow it.
 */
export function settingsClause(settings: Readonly<Record<string, string>>, limits: ReadOnlyLimits): string {
  const lower = (name: string, limit: number) => {
    const asked = Number(settings[name]);
    return Number.isInteger(asked) && asked > 0 && asked < limit ? asked : limit;
  };
  const own: Record<string, string> = {
    max_execution_time: String(lower('max_execution_time', limits.maxSeconds)),
    max_result_bytes: String(lower('max_result_bytes', limits.maxResultBytes)),
    result_overflow_mode: 'throw',
    max_memory_usage: String(lower('max_memory_usage', limits.maxMemoryBytes)),
  };
  const parts: string[] = [];
  for (const [name, value] of Object.entries({ ...SERVER_DEFAULTS, ...settings })) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BadSetting(`${JSON.stringify(name.slice(0, 100))} is not a setting name`);
    if (name in own || name === 'readonly') continue;
    const refused = settingRefusal(name);
    if (refused !== null) throw new RefusedStatement(refused);
    parts.push(`${name} = ${literal(value)}`);
  }
  for (const [name, value] of Object.entries(own)) parts.push(`${name} = ${literal(value)}`);
  parts.push('readonly = 1');
  return ` SETTINGS ${parts.join(', ')}`;
}

/** A statement the engine could not parse (a syntax error, a second statement), in its words. */
export class UnparsedStatement extends ClickHouseException {
  constructor(e: EngineError) {
    super(e.code, e.type, e.message.replace(/[.:\s]*In scope SELECT formatQuerySingleLine\([\s\S]*$/, ''));
  }
}

/** A URL parameter that cannot be a setting (ClickHouse's UNKNOWN_SETTING). */
export class BadSetting extends ClickHouseException {
  constructor(message: string) {
    super(115, 'UNKNOWN_SETTING', message);
  }
}

const FORMAT_QUERY = 'SELECT formatQuerySingleLine({trackhouse_statement:String})';

/** A statement's whole result as text. */
export async function resultText(client: ClickHouseClient, query: string, params: Record<string, unknown>, format: string, signal?: AbortSignal): Promise<string> {
  const result = await client.exec({ query, query_params: params, clickhouse_settings: { default_format: format as DataFormat }, abort_signal: signal });
  let out = '';
  for await (const chunk of result.stream) out += (chunk as Buffer).toString('utf8');
  return out;
}

/** A statement as this port runs it. */
export interface ReadOnlyStatement {
  /** The canonical text with its SETTINGS clause. */
  statement: string;
  /** Its FORMAT clause's format, or null when it names none. */
  format: string | null;
}

/**
 * The statement to run for `sql` (with its `{name:Type}` parameters), or a RefusedStatement; a
 * syntax error or a second statement is the engine's own error.
 */
export async function readOnlyStatement(
  client: ClickHouseClient,
  sql: string,
  params: Record<string, unknown>,
  settings: Readonly<Record<string, string>>,
  limits: ReadOnlyLimits,
  signal?: AbortSignal,
): Promise<ReadOnlyStatement> {
  let canonical: string;
  try {
    canonical = (await resultText(client, FORMAT_QUERY, { trackhouse_statement: sql }, 'RawBLOB', signal)).trim();
  } catch (err) {
    if (signal?.aborted) throw err;
    // The engine names the statement it ran, ours: the caller's text is what it could not parse.
    throw new UnparsedStatement(engineError(err));
  }
  const lines = (await resultText(client, `EXPLAIN AST ${canonical}`, params, 'JSONCompactEachRow', signal))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as [string])[0]);
  const sqlOnly = unquoted(canonical);
  // Belt and braces for the one clause readonly lets write: the canonical text must not name it either.
  const why = refusal(lines) ?? (/\bINTO\s+OUTFILE\b/i.test(sqlOnly) ? INTO_OUTFILE : null);
  if (why !== null) throw new RefusedStatement(why);
  // SETTINGS and INTO OUTFILE are refused above, so a FORMAT clause is the last one.
  return { statement: canonical + settingsClause(settings, limits), format: / FORMAT (\w+)$/.exec(sqlOnly)?.[1] ?? null };
}
