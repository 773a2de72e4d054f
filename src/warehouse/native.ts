// ClickHouse's Native format in the layout a client protocol revision reads. chDB writes revision
// 0's layout only (the one ClickHouse writes when no client_protocol_version is sent); a client
// that sends one, such as clickhouse-go over HTTP (Grafana's plugin), reads what a server writes
// for that revision instead:
//   revision > 0:      each block starts with its BlockInfo (field 1 is_overflows = 0,
//                      field 2 bucket_num = -1, field 0 ends it);
//   revision >= 54454: after each column's type, one byte saying whether the column has a custom
//                      (sparse) serialization, always 0 here.
// The column data is the same in both, but finding where one column ends and the next begins
// means reading its data as its type lays it out: the types below are those a SELECT over
// trackhouse's tables and ClickHouse's functions commonly returns. A column of another type
// (JSON, Dynamic, Variant, AggregateFunction, ...) is refused, naming it, rather than guessed.
import { ClickHouseException } from './http-interface.js';

/** The first revision whose blocks carry a byte per column after its type. */
export const CUSTOM_SERIALIZATION_REVISION = 54454;
/** The first revision that reads LowCardinality columns as they are (older ones get the full type from a server). */
const LOW_CARDINALITY_REVISION = 54405;

/** field 1 (is_overflows) false, field 2 (bucket_num) -1, field 0: the end. */
const BLOCK_INFO = Buffer.from([0x01, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00]);
const NOT_CUSTOM = Buffer.from([0x00]);

/** Reads one column's data of `rows` rows from `at`; returns where it ends. */
type Skip = (b: Reader, at: number, rows: number) => number;

interface Layout {
  /** The state prefix written before the data (LowCardinality's keys version, nested ones first). */
  prefix: (b: Reader, at: number) => number;
  data: Skip;
  lowCardinality: boolean;
}

class Unsupported extends Error {}
class Truncated extends Error {}

class Reader {
  constructor(readonly buf: Buffer) {}

  need(at: number, bytes: number): void {
    if (at + bytes > this.buf.length) throw new Truncated();
  }

  /** A LEB128 count and where it ends. */
  varuint(at: number): [number, number] {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 9; i++) {
      this.need(at, 1);
      const byte = this.buf[at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return [value, at];
      scale *= 128;
    }
    throw new Truncated();
  }

  u64(at: number): number {
    this.need(at, 8);
    const high = this.buf.readUInt32LE(at + 4);
    if (high >= 0x200000) throw new Truncated();
    return high * 0x1_0000_0000 + this.buf.readUInt32LE(at);
  }

  /** A length-prefixed string, decoded. */
  str(at: number): [string, number] {
    const [length, from] = this.varuint(at);
    this.need(from, length);
    return [this.buf.toString('utf8', from, from + length), from + length];
  }
}

const NONE = (_b: Reader, at: number) => at;

function fixed(width: number): Layout {
  return {
    prefix: NONE,
    data: (b, at, rows) => {
      b.need(at, width * rows);
      return at + width * rows;
    },
    lowCardinality: false,
  };
}

const STRING: Layout = {
  prefix: NONE,
  data: (b, at, rows) => {
    let pos = at;
    for (let i = 0; i < rows; i++) {
      const [length, from] = b.varuint(pos);
      pos = from + length;
    }
    b.need(pos, 0);
    return pos;
  },
  lowCardinality: false,
};

const WIDTHS: Readonly<Record<string, number>> = {
  UInt8: 1, Int8: 1, Bool: 1, Enum8: 1, Nothing: 1,
  UInt16: 2, Int16: 2, Date: 2, Enum16: 2, BFloat16: 2,
  UInt32: 4, Int32: 4, Float32: 4, Date32: 4, DateTime: 4, IPv4: 4, Decimal32: 4, Time: 4,
  UInt64: 8, Int64: 8, Float64: 8, DateTime64: 8, Decimal64: 8, Time64: 8,
  UInt128: 16, Int128: 16, UUID: 16, IPv6: 16, Decimal128: 16,
  UInt256: 32, Int256: 32, Decimal256: 32,
};

/** Geometry types are aliases of tuples and arrays. */
const ALIASES: Readonly<Record<string, string>> = {
  Point: 'Tuple(Float64, Float64)',
  Ring: 'Array(Point)',
  LineString: 'Array(Point)',
  Polygon: 'Array(Ring)',
  MultiLineString: 'Array(LineString)',
  MultiPolygon: 'Array(Polygon)',
};

/** `Name(arg, arg)` -> ['Name', args split at top-level commas]; quotes and backquotes respected. */
export function splitType(type: string): { name: string; args: string[] } {
  const open = type.indexOf('(');
  if (open < 0) return { name: type.trim(), args: [] };
  if (!type.endsWith(')')) throw new Unsupported();
  const args: string[] = [];
  let depth = 0;
  let quote = '';
  let start = open + 1;
  for (let i = start; i < type.length - 1; i++) {
    const c = type[i]!;
    if (quote !== '') {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === "'" || c === '`' || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      args.push(type.slice(start, i).trim());
      start = i + 1;
    }
  }
  args.push(type.slice(start, type.length - 1).trim());
  return { name: type.slice(0, open).trim(), args };
}

/** A named tuple element `name Type` (the name maybe backquoted) -> `Type`. */
function elementType(arg: string): string {
  if (arg.startsWith('`')) {
    for (let i = 1; i < arg.length; i++) {
      if (arg[i] === '\\') i++;
      else if (arg[i] === '`') return arg.slice(i + 1).trim();
    }
    throw new Unsupported();
  }
  const space = /^[A-Za-z_][A-Za-z0-9_]*\s+(?=\S)/.exec(arg);
  return space === null ? arg : arg.slice(space[0].length);
}

function decimalWidth(precision: number): number {
  return precision <= 9 ? 4 : precision <= 18 ? 8 : precision <= 38 ? 16 : 32;
}

function tupleOf(elements: Layout[]): Layout {
  return {
    prefix: (b, at) => elements.reduce((pos, e) => e.prefix(b, pos), at),
    data: (b, at, rows) => elements.reduce((pos, e) => e.data(b, pos, rows), at),
    lowCardinality: elements.some((e) => e.lowCardinality),
  };
}

function arrayOf(element: Layout): Layout {
  return {
    prefix: element.prefix,
    data: (b, at, rows) => {
      b.need(at, 8 * rows);
      // Offsets are cumulative: the last is the number of nested rows.
      const nested = rows === 0 ? 0 : b.u64(at + 8 * (rows - 1));
      return element.data(b, at + 8 * rows, nested);
    },
    lowCardinality: element.lowCardinality,
  };
}

/** Index width by the low byte of a granule's serialization type; the flags above it. */
const INDEX_WIDTHS = [1, 2, 4, 8];
const NEED_GLOBAL_DICTIONARY = 1 << 8;
const HAS_ADDITIONAL_KEYS = 1 << 9;

function lowCardinalityOf(keys: Layout): Layout {
  return {
    // The keys' serialization version (1: shared dictionaries with additional keys).
    prefix: (b, at) => {
      b.need(at, 8);
      return at + 8;
    },
    data: (b, at, rows) => {
      let pos = at;
      let read = 0;
      // One granule per block as Native writes it, but a granule holds its own row count.
      while (read < rows) {
        const kind = b.u64(pos);
        pos += 8;
        const width = INDEX_WIDTHS[kind & 0xff];
        if (width === undefined || (kind & NEED_GLOBAL_DICTIONARY) !== 0) throw new Unsupported();
        if ((kind & HAS_ADDITIONAL_KEYS) !== 0) {
          const count = b.u64(pos);
          pos = keys.data(b, pos + 8, count);
        }
        const granule = b.u64(pos);
        if (granule === 0) throw new Truncated();
        b.need(pos + 8, width * granule);
        pos += 8 + width * granule;
        read += granule;
      }
      return pos;
    },
    lowCardinality: true,
  };
}

/** How a column of `type` lays out its data, or Unsupported. */
export function layoutOf(type: string): Layout {
  const alias = ALIASES[type];
  if (alias !== undefined) return layoutOf(alias);
  const { name, args } = splitType(type);
  const width = WIDTHS[name];
  if (width !== undefined) return fixed(width);
  switch (name) {
    case 'String':
      return STRING;
    case 'FixedString': {
      const n = Number(args[0]);
      if (!Number.isInteger(n) || n <= 0) throw new Unsupported();
      return fixed(n);
    }
    case 'Decimal':
      return fixed(decimalWidth(Number(args[0])));
    case 'Nullable': {
      const inner = layoutOf(args[0]!);
      return {
        prefix: inner.prefix,
        data: (b, at, rows) => {
          b.need(at, rows);
          return inner.data(b, at + rows, rows);
        },
        lowCardinality: inner.lowCardinality,
      };
    }
    case 'Array':
      return arrayOf(layoutOf(args[0]!));
    case 'Tuple':
      return tupleOf(args.map((a) => layoutOf(elementType(a))));
    case 'Map':
      return arrayOf(tupleOf([layoutOf(args[0]!), layoutOf(args[1]!)]));
    case 'LowCardinality': {
      // The dictionary holds the inner type without Nullable (a null is one of its keys).
      const inner = splitType(args[0]!);
      return lowCardinalityOf(layoutOf(inner.name === 'Nullable' ? inner.args[0]! : args[0]!));
    }
    case 'SimpleAggregateFunction':
      return layoutOf(args[args.length - 1]!);
    default:
      if (name.startsWith('Interval')) return fixed(8);
      throw new Unsupported();
  }
}

/**
 * `body` (chDB's Native, revision 0) in the layout `revision` reads. Throws a ClickHouseException
 * (48, NOT_IMPLEMENTED) naming the first column whose type it cannot lay out.
 */
export function nativeForRevision(body: Buffer, revision: number): Buffer {
  // One copy of the whole answer (it may be 256 MiB): the blocks' parts are views of `body`.
  return revision <= 0 ? body : Buffer.concat(relaid(body, revision).blocks.flat());
}

/** A column's name and type, as a block's header gives them. */
export interface NativeColumn {
  name: string;
  type: string;
}

/**
 * `body`'s blocks one by one in the layout `revision` reads (the native protocol sends each in a
 * packet of its own), and the columns of the first (none for an empty body: chDB writes no block).
 */
export function nativeBlocks(body: Buffer, revision: number): { blocks: Buffer[]; columns: NativeColumn[] } {
  const { blocks, columns } = relaid(body, revision);
  return { blocks: blocks.map((parts) => (parts.length === 1 ? parts[0]! : Buffer.concat(parts))), columns };
}

/** Each block of `body` as the parts that make it in `revision`'s layout: views of `body` and the bytes put between them. */
function relaid(body: Buffer, revision: number): { blocks: Buffer[][]; columns: NativeColumn[] } {
  const custom = revision >= CUSTOM_SERIALIZATION_REVISION;
  const b = new Reader(body);
  const blocks: Buffer[][] = [];
  let columnsOfFirst: NativeColumn[] | null = null;
  let at = 0;
  const layouts = new Map<string, Layout>();
  try {
    while (at < body.length) {
      // The block is its input cut after each column's type, with BlockInfo in front.
      const parts: Buffer[] = revision > 0 ? [BLOCK_INFO] : [];
      let copied = at;
      const [columns, afterColumns] = b.varuint(at);
      const [rows, afterRows] = b.varuint(afterColumns);
      at = afterRows;
      const first: NativeColumn[] | null = columnsOfFirst === null ? [] : null;
      for (let c = 0; c < columns; c++) {
        const [column, afterName] = b.str(at);
        const [type, afterType] = b.str(afterName);
        first?.push({ name: column, type });
        at = afterType;
        let layout = layouts.get(type);
        if (layout === undefined) {
          try {
            layout = layoutOf(type);
          } catch (err) {
            if (!(err instanceof Unsupported)) throw err;
            throw unsupported(revision, column, type);
          }
          layouts.set(type, layout);
        }
        if (layout.lowCardinality && revision < LOW_CARDINALITY_REVISION) throw unsupported(revision, column, type);
        if (custom) {
          parts.push(body.subarray(copied, at), NOT_CUSTOM);
          copied = at;
        }
        // Zero rows are written as zero bytes, prefix included.
        if (rows > 0) at = layout.data(b, layout.prefix(b, at), rows);
      }
      parts.push(body.subarray(copied, at));
      blocks.push(parts);
      columnsOfFirst ??= first;
    }
  } catch (err) {
    if (!(err instanceof Truncated)) throw err;
    throw new ClickHouseException(1001, 'STD_EXCEPTION', `the engine's Native answer could not be read at byte ${at} of ${body.length}`);
  }
  return { blocks, columns: columnsOfFirst ?? [] };
}

/** A block of no rows with these columns, in the layout `revision` reads: a result's header. */
export function headerBlock(columns: readonly NativeColumn[], revision: number): Buffer {
  const parts: Buffer[] = revision > 0 ? [BLOCK_INFO] : [];
  parts.push(varuintBytes(columns.length), varuintBytes(0));
  for (const c of columns) {
    parts.push(stringBytes(c.name), stringBytes(c.type));
    if (revision >= CUSTOM_SERIALIZATION_REVISION) parts.push(NOT_CUSTOM);
  }
  return Buffer.concat(parts);
}

export function varuintBytes(n: number): Buffer {
  const out: number[] = [];
  let rest = n;
  while (rest >= 0x80) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

export function stringBytes(s: string): Buffer {
  const text = Buffer.from(s, 'utf8');
  return Buffer.concat([varuintBytes(text.length), text]);
}

function unsupported(revision: number, column: string, type: string): ClickHouseException {
  return new ClickHouseException(
    48,
    'NOT_IMPLEMENTED',
    `the Native format of client protocol ${revision} is not served here for column ${column.slice(0, 100)} of type ${type.slice(0, 200)}; ` +
      'cast it to a plainer type (String, a number, an Array or Tuple of them), or use another format, such as RowBinaryWithNamesAndTypes or JSON',
  );
}
