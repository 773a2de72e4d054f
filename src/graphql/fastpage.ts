// A page of `user(id) { events(...) { ... } }` written from the view's row bytes, for the
// operations whose answer is only that page: no JSON.parse of the page, no execution over objects,
// no JSON.stringify of the result. REST answers a page by copying the view's rows; this copies the
// selected values out of the same rows, so a GraphQL page costs little more than REST's (1.1-1.4x
// its CPU per request in the bench, docs/architecture/graphql.md).
//
// planFastPage() decides once per validated document and operation whether it qualifies: a query
// whose root selects `user` once (and maybe __typename), `user` selects `events` once (and maybe
// id, __typename), and below that only connection, edge, page-info and Event fields, with aliases
// and fragments (collected as graphql-js collects them), and no directive anywhere. It compiles
// the answer into a template: fixed bytes (keys with their aliases, in the selection's order,
// __typename values, braces) and slots (a row's field value, an edge's cursor, page info).
//
// writeFastPage() answers one request with it, or returns null, and the caller executes the
// operation as before (graphql-jit), when anything could make the answer differ from what
// execution gives: variables or arguments that do not coerce, a request REST refuses, a page the
// view does not answer alone (another shard, ClickHouse), a row stored without field offsets (a
// reply JSON of 64 KiB or more), a `type` that is not an EventType value. A JSON text (properties,
// traits, context) the view found non-canonical is parsed and serialized as execution would
// (integers past 2^53 kept, ./exactjson.ts); the
// others are copied as they are (the view checked they are what JSON.stringify(JSON.parse())
// gives). src/graphql/fastpage.test.ts and test/integration/graphql-fastpage.test.ts compare its
// bytes with graphql-jit's.
import { hash } from 'node:crypto';
import {
  getArgumentValues,
  getVariableValues,
  GraphQLObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { EVENT_FIELDS, eventsRequest, FIRST_TEXT_FIELD, ROW_CANONICAL, ROW_HEADER, ROW_NO_LAYOUT, scopeText, type EventsRequest, type QueryReader, type ViewPage } from '../query/index.js';
import { EVENT_TYPES } from '../schema/index.js';
import { exactStringify } from './exactjson.js';
import { compileArgs, readArgs, type FastArgs } from './fastargs.js';

/** GraphQL's name of each field of EVENT_FIELDS (the Event type's fields). */
export const GRAPHQL_NAMES: readonly string[] = EVENT_FIELDS.map((f) => f.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
const FIELD_OF = new Map(GRAPHQL_NAMES.map((n, k) => [n, k]));
/** Length of `,"<name>":` before each field's value in a row (the end of the value before it). */
const KEY_BYTES = EVENT_FIELDS.map((f) => f.length + 4);
const TYPE_FIELD = 1;
/** The EventType values, quoted as a row has them (a `type` outside them: execution's error, so no fast page). */
const QUOTED_TYPES = EVENT_TYPES.map((t) => Buffer.from(JSON.stringify(t)));
/** Each of QUOTED_TYPES as 32-bit little-endian words at 0, 4, .. and at its last 4 bytes (each is at least 4 bytes long). */
const TYPE_WORDS = QUOTED_TYPES.map((q) => {
  const at: number[] = [];
  for (let k = 0; k + 4 < q.length; k += 4) at.push(k);
  at.push(q.length - 4);
  return { length: q.length, at, words: at.map((k) => q.readUInt32LE(k)) };
});

/** A slot of the answer: what is written between two runs of fixed bytes. */
const enum Slot {
  /** The user's id argument (JSON string). */
  UserId,
  /** The edges: the edge template per row, comma-separated. */
  Edges,
  HasNext,
  StartCursor,
  EndCursor,
  /** The edge's cursor (in the edge template). */
  Cursor,
  /** A row's field value (in the edge template); `field` says which. */
  Field,
}

/** Fixed bytes, or a slot. */
interface SlotPart {
  slot: Slot;
  field: number;
}
type Part = Buffer | SlotPart;
const isSlot = (p: Part | undefined): p is SlotPart => p !== undefined && !(p instanceof Buffer);

export interface FastPlan {
  operation: OperationDefinitionNode;
  userField: GraphQLField<unknown, unknown>;
  userNode: FieldNode;
  eventsField: GraphQLField<unknown, unknown>;
  eventsNode: FieldNode;
  /** The whole answer; Slot.Edges expands to the edge ops per row. */
  page: Part[];
  edge: EdgeOps;
  /** The arguments of user and events read without graphql-js's coercion (./fastargs.ts); null: through graphql-js. */
  args: FastArgs | null;
  /** Whether any cursor is answered (whether a node reads `type`: edge.readsType). */
  readsCursor: boolean;
}

class NotFast extends Error {}
const notFast = (): never => {
  throw new NotFast();
};

/**
 * The fields of a selection set by response key, in the order execution answers them (graphql-js's
 * collectFields: a key's first occurrence decides its place; fragments inline; each named fragment
 * once per collection). Throws NotFast for a directive or a fragment on another type.
 */
function collect(sets: readonly SelectionSetNode[], typeName: string, fragments: ReadonlyMap<string, FragmentDefinitionNode>): Map<string, FieldNode[]> {
  const out = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if ((s.directives?.length ?? 0) > 0) notFast();
      if (s.kind === Kind.FIELD) {
        const key = s.alias?.value ?? s.name.value;
        const seen = out.get(key);
        if (seen === undefined) out.set(key, [s]);
        else seen.push(s);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        if (s.typeCondition !== undefined && s.typeCondition.name.value !== typeName) notFast();
        walk(s.selectionSet);
      } else {
        const name = s.name.value;
        if (visited.has(name)) continue;
        visited.add(name);
        const f = fragments.get(name) ?? notFast();
        if ((f.directives?.length ?? 0) > 0 || f.typeCondition.name.value !== typeName) notFast();
        walk(f.selectionSet);
      }
    }
  };
  for (const set of sets) walk(set);
  return out;
}

const subsets = (nodes: readonly FieldNode[]) => nodes.map((n) => n.selectionSet ?? notFast());

/** Builds the parts of an answer: fixed text gathered until a slot. */
class Parts {
  readonly parts: Part[] = [];
  private text = '';
  add(t: string): this {
    this.text += t;
    return this;
  }
  slot(slot: Slot, field = -1): this {
    if (this.text !== '') this.parts.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
    this.parts.push({ slot, field });
    return this;
  }
  done(): Part[] {
    if (this.text !== '') this.parts.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
    return this.parts;
  }
}

/**
 * The fast plan of an operation of a validated document (operationName null: its only one), or
 * null when it does not qualify (it is then executed as any other).
 */
export function planFastPage(schema: GraphQLSchema, document: DocumentNode, operationName: string | null): FastPlan | null {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName === null ? (operations.length === 1 ? operations[0] : undefined) : operations.find((o) => o.name?.value === operationName);
  if (operation === undefined || operation.operation !== 'query' || (operation.directives?.length ?? 0) > 0) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const fields = (type: string) => (schema.getType(type) as GraphQLObjectType).getFields();
  try {
    const page = new Parts();
    const edge = new Parts();
    let user: { field: GraphQLField<unknown, unknown>; node: FieldNode } | null = null;
    let events: { field: GraphQLField<unknown, unknown>; node: FieldNode } | null = null;
    let readsType = false;
    let readsCursor = false;
    // Writes `"key":` before each member of an object, separated by commas.
    const members = (p: Parts, map: Map<string, FieldNode[]>, member: (p: Parts, name: string, nodes: FieldNode[]) => void) => {
      let first = true;
      p.add('{');
      for (const [key, nodes] of map) {
        p.add(`${first ? '' : ','}"${key}":`);
        first = false;
        member(p, nodes[0]!.name.value, nodes);
      }
      p.add('}');
    };
    const typename = (p: Parts, name: string, type: string) => (name === '__typename' ? (p.add(`"${type}"`), true) : false);

    const nodeMember = (p: Parts, name: string) => {
      if (typename(p, name, 'Event')) return;
      const k = FIELD_OF.get(name) ?? notFast();
      if (k === TYPE_FIELD) readsType = true;
      p.slot(Slot.Field, k);
    };
    const edgeMember = (p: Parts, name: string, nodes: FieldNode[]) => {
      if (typename(p, name, 'EventEdge')) return;
      if (name === 'cursor') {
        readsCursor = true;
        p.add('"').slot(Slot.Cursor).add('"');
      } else if (name === 'node') members(p, collect(subsets(nodes), 'Event', fragments), nodeMember);
      else notFast();
    };
    const pageInfoMember = (p: Parts, name: string) => {
      if (typename(p, name, 'PageInfo')) return;
      if (name === 'hasNextPage') p.slot(Slot.HasNext);
      else if (name === 'hasPreviousPage') p.add('false');
      else if (name === 'startCursor' || name === 'endCursor') {
        readsCursor = true;
        p.slot(name === 'startCursor' ? Slot.StartCursor : Slot.EndCursor);
      }
      else notFast();
    };
    const connectionMember = (p: Parts, name: string, nodes: FieldNode[]) => {
      if (typename(p, name, 'EventConnection')) return;
      if (name === 'edges') {
        // The edge template is built once, whatever the number of `edges` keys (aliases): more than one is not fast.
        if (edge.parts.length > 0) notFast();
        members(edge, collect(subsets(nodes), 'EventEdge', fragments), edgeMember);
        edge.done();
        p.add('[').slot(Slot.Edges).add(']');
      } else if (name === 'pageInfo') members(p, collect(subsets(nodes), 'PageInfo', fragments), pageInfoMember);
      else notFast();
    };
    const userMember = (p: Parts, name: string, nodes: FieldNode[]) => {
      if (typename(p, name, 'User')) return;
      if (name === 'id') p.slot(Slot.UserId);
      else if (name === 'events') {
        if (events !== null) notFast();
        events = { field: fields('User').events!, node: nodes[0]! };
        members(p, collect(subsets(nodes), 'EventConnection', fragments), connectionMember);
      } else notFast();
    };
    const rootMember = (p: Parts, name: string, nodes: FieldNode[]) => {
      if (typename(p, name, 'Query')) return;
      if (name !== 'user' || user !== null) notFast();
      user = { field: fields('Query').user!, node: nodes[0]! };
      members(p, collect(subsets(nodes), 'User', fragments), userMember);
    };
    page.add('{"data":');
    members(page, collect([operation.selectionSet], 'Query', fragments), rootMember);
    page.add('}');
    if (user === null || events === null) return null;
    const u = user as { field: GraphQLField<unknown, unknown>; node: FieldNode };
    const e = events as { field: GraphQLField<unknown, unknown>; node: FieldNode };
    const args = compileArgs(schema, operation, [u, e]);
    return { operation, userField: u.field, userNode: u.node, eventsField: e.field, eventsNode: e.node, args, page: page.done(), edge: compileEdge(edge.parts, readsType), readsCursor };
  } catch (err) {
    if (err instanceof NotFast) return null;
    throw err;
  }
}


/** Ops of the edge template, run per row (see compileEdge). */
const OP_STATIC = 0;
const OP_FIELD = 1;
const OP_RUN = 2;
const OP_CURSOR = 3;
/** OP_RUN with the comma before the first key: the row's own `,` (the static before lost it). */
const OP_RUN_COMMA = 4;
/** From field a's value (not its key) to the end of field b's value: an OP_FIELD and the run right after it in the row, as one copy. */
const OP_SPAN = 5;

interface EdgeOps {
  n: number;
  kind: Int32Array;
  a: Int32Array;
  b: Int32Array;
  /** For OP_RUN: the ROW_CANONICAL bits of the texts inside the run (the row must have them all). */
  c: Int32Array;
  statics: Buffer;
  /** Bytes the ops write besides the row's values and cursors (to bound a row's answer). */
  fixed: number;
  fields: number;
  /** Whether a node reads `type`: each row's is checked to be an EventType value (else execution's error: no fast page). */
  readsType: boolean;
  /** The ops compiled (compileWriter). */
  write: EdgeWriter;
}

/**
 * The edge template as ops. A selected field whose key is REST's own (`type`, `source`, `properties`,
 * ... unaliased, or an alias that is REST's name) is copied with its key straight from the row, and
 * consecutive ones in REST's order as one run (`"source":..,"category":..` is one copy): fewer,
 * longer copies. OP_STATIC copies statics[a, a + b); OP_FIELD the value of field a; OP_RUN the row
 * from field a's key to the end of field b's value; OP_CURSOR the row's cursor. A run after a
 * field (`,"type":..`) takes the row's comma before its key too (OP_RUN_COMMA): one copy less;
 * and when that field is the one before the run's first in the row (`eventId` then `type`), the
 * field and the run are one copy from the field's value on (OP_SPAN): REST's page asked through
 * GraphQL is then 6 renamed keys and 6 copies of the row a node.
 */
function compileEdge(parts: readonly Part[], readsType: boolean): EdgeOps {
  const kind: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  const statics: Buffer[] = [];
  let staticAt = 0;
  let fixed = 0;
  let fields = 0;
  const pushStatic = (buf: Buffer) => {
    if (buf.length === 0) return;
    kind.push(OP_STATIC);
    a.push(staticAt);
    b.push(buf.length);
    c.push(0);
    statics.push(buf);
    staticAt += buf.length;
    fixed += buf.length;
  };
  const textBit = (k: number) => (k >= FIRST_TEXT_FIELD && k < FIRST_TEXT_FIELD + 3 ? ROW_CANONICAL << (k - FIRST_TEXT_FIELD) : 0);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p instanceof Buffer) {
      const q = parts[i + 1];
      const key = isSlot(q) && q.slot === Slot.Field ? Buffer.from(`"${EVENT_FIELDS[q.field]}":`) : null;
      if (key !== null && p.length >= key.length && p.subarray(p.length - key.length).equals(key)) {
        // A run starts at this field's key: the static before it loses the key.
        pushStatic(p.subarray(0, p.length - key.length));
        const first = (q as SlotPart).field;
        let last = first;
        let mask = textBit(first);
        i += 1;
        // Extend while the next static is exactly `,"<REST name of the next field>":` before that field.
        for (;;) {
          const sep = parts[i + 1];
          const nxt = parts[i + 2];
          if (last + 1 >= EVENT_FIELDS.length || !(sep instanceof Buffer) || !isSlot(nxt) || nxt.slot !== Slot.Field || nxt.field !== last + 1) break;
          if (!sep.equals(Buffer.from(`,"${EVENT_FIELDS[last + 1]}":`))) break;
          last += 1;
          mask |= textBit(last);
          i += 2;
        }
        // A field's key in the row follows a comma (a value before it): the run takes it, the static drops it.
        const before = kind.length > 0 && kind[kind.length - 1] === OP_STATIC ? statics[statics.length - 1]! : null;
        const comma = first > 0 && before !== null && before[before.length - 1] === 0x2c;
        if (comma) {
          b[b.length - 1]! -= 1;
          statics[statics.length - 1] = before.subarray(0, before.length - 1);
          staticAt -= 1;
          fixed -= 1;
          if (b[b.length - 1] === 0) {
            kind.pop();
            a.pop();
            b.pop();
            c.pop();
            statics.pop();
          }
        }
        const prev = kind.length - 1;
        const prevLast = prev < 0 ? -1 : kind[prev] === OP_FIELD ? a[prev]! : kind[prev] === OP_STATIC || kind[prev] === OP_CURSOR ? -1 : b[prev]!;
        if (comma && prevLast === first - 1) {
          // The row op before ends with the field before this run's first: it takes the run.
          if (kind[prev] === OP_FIELD) {
            kind[prev] = OP_SPAN;
            c[prev] = textBit(a[prev]!);
          }
          b[prev] = last;
          c[prev]! |= mask;
        } else {
          kind.push(comma ? OP_RUN_COMMA : OP_RUN);
          a.push(first);
          b.push(last);
          c.push(mask);
        }
        fields += last - first + 1;
        fixed += 16 * (last - first + 1);
        continue;
      }
      pushStatic(p);
      continue;
    }
    if ((p as SlotPart).slot === Slot.Field) {
      kind.push(OP_FIELD);
      a.push((p as SlotPart).field);
      fields++;
    } else {
      kind.push(OP_CURSOR);
      a.push(0);
    }
    b.push(0);
    c.push(0);
  }
  const ops = { n: kind.length, kind: Int32Array.from(kind), a: Int32Array.from(a), b: Int32Array.from(b), c: Int32Array.from(c), statics: Buffer.concat(statics), fixed, fields, readsType };
  return { ...ops, write: compileWriter(ops) };
}

/**
 * Where the answer is written: the view reader's buffer itself, right after the page's rows (its
 * spare room until the next read, see ViewPage.rows), so every copy is within one buffer: no copy
 * of the page first, and a long copy is one copyWithin (a subarray of another buffer to set() would
 * be an object made per copy). When the answer outgrows that room, rows and answer so far move to
 * `own` (kept between requests, grown when too small), at the same offsets.
 */
let own: Buffer = Buffer.allocUnsafeSlow(1 << 16);
const ownView = (): DataView => new DataView(own.buffer, own.byteOffset, own.byteLength);
let ownDataView = ownView();
let out: Buffer = own;
/** `out` as a DataView, for the 4-byte copies. */
let view: DataView = ownDataView;
let at = 0;
/** The reader's buffer last written to, and its DataView (made again only when the reader's buffer changes: it grows rarely). */
let foreign: Buffer = own;
let foreignView: DataView = ownDataView;

function writeInto(buffer: Buffer): void {
  if (buffer !== foreign) {
    foreign = buffer;
    foreignView = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  out = buffer;
  view = foreignView;
}

function room(n: number): void {
  if (at + n <= out.length) return;
  if (at + n > own.length) {
    own = Buffer.allocUnsafeSlow(Math.max(own.length * 2, at + n));
    ownDataView = ownView();
  }
  if (out !== own) out.copy(own, 0, 0, at);
  out = own;
  view = ownDataView;
}

/** Copies longer than this are one copyWithin; shorter ones go 4 bytes at a time (see put()). */
const WORD_COPY_MAX = 64;

/**
 * Copies out[s, e) (the page's rows, before the answer, so a copy
 * never overlaps its source) to the answer's end, which has room. Most copies are short (a key,
 * an id, a time): those go 4 bytes at a time through a DataView (unaligned 32-bit loads and
 * stores, compiled inline), the last 4 bytes of the copy written as one word even where it
 * overlaps the one before (no byte loop for the tail); a long one is one copyWithin, which enters
 * C++. Measured on this machine (throttled), per copy: copyWithin about 50 ns whatever the
 * length, a byte loop 2-2.5 ns a byte (8 bytes: 21 ns, 36: 93 ns), 4-byte words 8 ns at 8 bytes,
 * 21 at 36, 38 at 64.
 */
function put(s: number, e: number): void {
  const n = e - s;
  if (n > WORD_COPY_MAX) out.copyWithin(at, s, e);
  else if (n >= 4) {
    const v = view;
    const last = e - 4;
    let t = at;
    for (let i = s; i < last; i += 4, t += 4) v.setUint32(t, v.getUint32(i, true), true);
    v.setUint32(at + n - 4, v.getUint32(last, true), true);
  } else {
    const o = out;
    let t = at;
    for (let i = s; i < e; i++) o[t++] = o[i]!;
  }
  at += n;
}

function copy(s: number, e: number): void {
  room(e - s);
  put(s, e);
}

/** Copies a buffer from elsewhere (page-level fixed bytes) to the answer. */
function copyIn(src: Buffer): void {
  room(src.length);
  out.set(src, at);
  at += src.length;
}

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');
/** The cursor's bytes before base64url: `1|<ts>|<fingerprint>|<event id>` (src/query/cursor.ts). */
let cursorBytes = Buffer.allocUnsafeSlow(1024);

/**
 * Writes row i's cursor, as encodeCursor() gives it, into the answer: its bytes put together here
 * (the id as the row has it when it holds no escape) and base64url-encoded by a loop, not through
 * a string per edge.
 */
function writeCursor(r: Rows, i: number, ctx: Context): void {
  writeCursorOf(r, i, valueStart(r, i, 0), valueEnd(r, i, 0), ctx);
}

/** Whether out[s, e) holds a backslash: 4 bytes a step (a word has a byte 0x5c iff x ^ 0x5c5c5c5c has a zero byte). */
function hasBackslash(s: number, e: number): boolean {
  const v = view;
  let j = s;
  for (; j + 4 <= e; j += 4) {
    const x = v.getUint32(j, true) ^ 0x5c5c5c5c;
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) return true;
  }
  const src = out;
  for (; j < e; j++) if (src[j] === 0x5c) return true;
  return false;
}

/** writeCursor() with row i's event_id value (quoted) at out[s, e): the edge writers have its offsets already. */
function writeCursorOf(r: Rows, i: number, s: number, e: number, ctx: Context): void {
  const src = out;
  const time = r.page.rows.time(i);
  // The aligned cursor checks the id for an escape as it encodes it; on one, it is written again here.
  if (time >= 1e12 && time < 1e13 && writeAlignedCursor(time, s + 1, e - 1)) return;
  const escaped = hasBackslash(s + 1, e - 1);
  const fingerprint = FINGERPRINT;
  const ts = String(time);
  const id = escaped ? Buffer.from(JSON.parse(src.toString('utf8', s, e)) as string, 'utf8') : null;
  const idLength = id === null ? e - s - 2 : id.length;
  const n = 3 + ts.length + fingerprint.length + 1 + idLength;
  if (n > cursorBytes.length) cursorBytes = Buffer.allocUnsafeSlow(2 * n);
  const c = cursorBytes;
  c[0] = 0x31;
  c[1] = 0x7c;
  let k = 2;
  for (let j = 0; j < ts.length; j++) c[k++] = ts.charCodeAt(j);
  c[k++] = 0x7c;
  for (let j = 0; j < fingerprint.length; j++) c[k++] = fingerprint[j]!;
  c[k++] = 0x7c;
  if (id === null) for (let j = s + 1; j < e - 1; j++) c[k++] = src[j]!;
  else for (let j = 0; j < id.length; j++) c[k++] = id[j]!;
  room(Math.ceil((k * 4) / 3) + 4);
  at = base64url(c, 0, k, at);
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');
const QUOTE = Buffer.from('"');

/** Copies a few fixed bytes to the answer: a loop, not text()'s call into C++ (out.write) for 1-5 bytes. */
function ascii(b: Buffer): void {
  room(b.length);
  const o = out;
  for (let i = 0; i < b.length; i++) o[at + i] = b[i]!;
  at += b.length;
}

function text(t: string, encoding: 'utf8' | 'latin1'): void {
  room(t.length * 3);
  at += out.write(t, at, encoding);
}

/** A page's rows and what each field's value spans (offsets from the row headers). */
interface Rows {
  page: ViewPage;
  headers: Buffer;
}

/** Start of field k's value in row i. */
function valueStart(r: Rows, i: number, k: number): number {
  const h = i * ROW_HEADER + 1 + 2 * k;
  return r.page.rows.start(i) + (r.headers[h]! | (r.headers[h + 1]! << 8));
}

function valueEnd(r: Rows, i: number, k: number): number {
  return k === EVENT_FIELDS.length - 1 ? r.page.rows.end(i) - 1 : valueStart(r, i, k + 1) - KEY_BYTES[k + 1]!;
}

/**
 * Writes every row's edge, comma-separated: the edge template compiled for one plan (see
 * compileWriter); false when a row's `type` is not an EventType value (the answer is void).
 */
type EdgeWriter = (r: Rows, ctx: Context) => boolean;

/** A run or span (op) of fields first..end whose JSON texts are not all canonical: field by field, with the keys the row has. */
function slowRun(op: number, first: number, end: number, rowStart: number, rowEnd: number, h: Buffer, hAt: number, flags: number): void {
  const last = EVENT_FIELDS.length - 1;
  for (let k = first; k <= end; k++) {
    if (k > first || op !== OP_SPAN) text(`${k === first && op === OP_RUN ? '' : ','}"${EVENT_FIELDS[k]}":`, 'latin1');
    const s = rowStart + (h[hAt + 2 * k]! | (h[hAt + 2 * k + 1]! << 8));
    const e = k === last ? rowEnd - 1 : rowStart + (h[hAt + 2 * k + 2]! | (h[hAt + 2 * k + 3]! << 8)) - KEY_BYTES[k + 1]!;
    writeValue(flags, k, s, e);
  }
}

/**
 * The edge ops compiled into one function per plan (as graphql-jit compiles a query) that writes
 * every edge of the page: the ops' order, fields and header offsets are constants, the fixed bytes
 * (`{"node":{"eventId":`, `,"userId":`, ...) 32-bit stores of constants, the copies of row bytes
 * inline, with the answer's buffer, DataView and end in locals. Why it looks this way: with a
 * call per fixed run (words()) and per copy (put()) and a call per edge, about 14 calls a node,
 * the optimizing compiler inlined few of them (its inlining budget is spent after a handful) and a
 * page of 50 nodes spent much of its time in calls and in reloading module variables; straight
 * code per op writes it in about a quarter less time (docs/architecture/graphql.md). Calls remain
 * only for room (once per row), cursors and non-canonical texts, each followed by a reload of the
 * locals (the answer may have moved to `own`). Each field's value is read from the row's header:
 * out[hAt + 2k] is its offset from the row's start, and it ends where the next field's key starts
 * (the last one: before the row's `}`). A copy longer than WORD_COPY_MAX is one copyWithin, a
 * shorter one 4 bytes a step through the DataView (the last word overlapping), as put() does.
 */
function compileWriter(ops: Omit<EdgeOps, 'write'>): EdgeWriter {
  const last = EVENT_FIELDS.length - 1;
  // Each offset read once per row, before anything is written (the writes could alias the header for all the compiler knows).
  const offsets = new Set<number>();
  const offset = (k: number) => {
    offsets.add(k);
    return `o${k}`;
  };
  const valueStart = (k: number) => `rowStart + ${offset(k)}`;
  const valueEnd = (k: number) => (k === last ? 'rowEnd - 1' : `rowStart + ${offset(k + 1)} - ${KEY_BYTES[k + 1]!}`);
  const isText = (k: number) => k >= FIRST_TEXT_FIELD && k < FIRST_TEXT_FIELD + 3;
  const sync = 'setAt(t);';
  const reload = 'o = outNow(); v = viewNow(); t = atNow();';
  const copy = (s: string, e: string) =>
    `{ const s = ${s}; const e = ${e}; const n = e - s; ` +
    `if (n > ${WORD_COPY_MAX}) o.copyWithin(t, s, e); ` +
    `else if (n >= 4) { const l = e - 4; let d = t; for (let j = s; j < l; j += 4, d += 4) v.setUint32(d, v.getUint32(j, true), true); v.setUint32(t + n - 4, v.getUint32(l, true), true); } ` +
    `else for (let j = s, d = t; j < e; j++, d++) o[d] = o[j]; ` +
    't += n; }';
  // An edge's cursor: writeAlignedCursor() inline (the row's room includes its bytes), else the
  // general way (writeCursorOf: another time's length, an id with an escape).
  let cursors = 0;
  const cursor = (s: string, e: string) =>
    `{ const time = rows.time(i); const s = ${s} + 1; const e = ${e} - 1; let done = false; ` +
    'if (time >= 1e12 && time < 1e13) { ' +
    'const hi = Math.floor(time / 1e6) | 0; const lo = (time - hi * 1e6) | 0; const c3 = (lo / 1000) | 0; const top = (hi / 1000) | 0; const d = (top / 1000) | 0; ' +
    'v.setUint32(t, TIME_HEAD[d], true); v.setUint32(t + 4, TIME_TRIPLE[top - d * 1000], true); v.setUint32(t + 8, TIME_TRIPLE[hi - top * 1000], true); ' +
    'v.setUint32(t + 12, TIME_TRIPLE[c3], true); v.setUint32(t + 16, TIME_TRIPLE[lo - c3 * 1000], true); ' +
    'v.setUint32(t + 20, m0, true); v.setUint32(t + 24, m1, true); v.setUint32(t + 28, m2, true); v.setUint32(t + 32, m3, true); v.setUint32(t + 36, m4, true); v.setUint32(t + 40, m5, true); ' +
    'let j = s; let c = t + 44; let slash = 0; ' +
    'for (; j + 3 <= e; j += 3, c += 4) { const w = v.getUint32(j, false) >>> 8; const x = w ^ 0x5c5c5c; slash |= (x - 0x010101) & ~x & 0x808080; v.setUint32(c, B64_PAIRS[w >>> 12] | (B64_PAIRS[w & 4095] << 16), true); } ' +
    'if (j + 1 === e) { const w = o[j]; slash |= w === 0x5c ? 1 : 0; o[c] = B64[w >>> 2]; o[c + 1] = B64[(w & 3) << 4]; c += 2; } ' +
    'else if (j + 2 === e) { const w = (o[j] << 8) | o[j + 1]; slash |= o[j] === 0x5c || o[j + 1] === 0x5c ? 1 : 0; o[c] = B64[w >>> 10]; o[c + 1] = B64[(w >>> 4) & 63]; o[c + 2] = B64[(w & 15) << 2]; c += 3; } ' +
    'if (slash === 0) { t = c; done = true; } } ' +
    `if (!done) { ${sync} writeCursorOf(r, i, s - 1, e + 1, ctx); ${reload} } }`;
  const body: string[] = [];
  for (let p = 0; p < ops.n; p++) {
    const op = ops.kind[p]!;
    const a = ops.a[p]!;
    const b = ops.b[p]!;
    if (op === OP_STATIC) {
      // Whole words, the last one's bytes past the run included (room has 4 bytes to spare; what follows overwrites them).
      const padded = Buffer.alloc(Math.ceil(b / 4) * 4);
      ops.statics.copy(padded, 0, a, a + b);
      for (let k = 0; k < padded.length; k += 4) body.push(`v.setUint32(t + ${k}, ${padded.readUInt32LE(k)}, true);`);
      body.push(`t += ${b};`);
    } else if (op === OP_FIELD) {
      if (isText(a)) body.push(sync, `writeValue(flags, ${a}, ${valueStart(a)}, ${valueEnd(a)});`, reload);
      else body.push(copy(valueStart(a), valueEnd(a)));
    } else if (op === OP_CURSOR) {
      cursors++;
      body.push(cursor(valueStart(0), valueEnd(0)));
    } else {
      // From the first key's comma (OP_RUN_COMMA), quote (OP_RUN) or value (OP_SPAN) to the last value's end.
      const from = op === OP_SPAN ? valueStart(a) : `${valueStart(a)} - ${KEY_BYTES[a]! - (op === OP_RUN_COMMA ? 0 : 1)}`;
      const mask = ops.c[p]!;
      if (mask === 0) body.push(copy(from, valueEnd(b)));
      else body.push(`if ((flags & ${mask}) === ${mask}) ${copy(from, valueEnd(b))} else { ${sync} slowRun(${op}, ${a}, ${b}, rowStart, rowEnd, h, hAt, flags); ${reload} }`);
    }
  }
  // The type check here, where the row's offsets are at hand, not in a loop of its own first.
  const typeCheck = ops.readsType ? [`if (!isEventType(${valueStart(TYPE_FIELD)}, ${valueEnd(TYPE_FIELD)})) return false;`] : [];
  const code = [
    `const { ${Object.keys(WRITER_LIB).join(', ')} } = lib;`,
    'return function edges(r, ctx) {',
    'const rows = r.page.rows;',
    'const count = r.page.count;',
    'const h = r.headers;',
    'const m0 = MIDDLE[0], m1 = MIDDLE[1], m2 = MIDDLE[2], m3 = MIDDLE[3], m4 = MIDDLE[4], m5 = MIDDLE[5];',
    'for (let i = 0; i < count; i++) {',
    'const rowStart = rows.start(i);',
    'const rowEnd = rows.end(i);',
    // Room for what the ops write but non-canonical texts and cursors written the general way
    // (those ask for more themselves), the comma before the edge, the 3 bytes a last word may
    // write past its run, and each aligned cursor (44 characters, then 4 per 3 bytes of the id,
    // which is shorter than the row, and a word's 3 spare bytes).
    `room(${ops.fixed + 5 + 48 * cursors} + ${ops.fields + 2 * cursors} * (rowEnd - rowStart));`,
    'let o = outNow();',
    'let v = viewNow();',
    'let t = atNow();',
    'if (i !== 0) o[t++] = 0x2c;',
    `const hAt = i * ${ROW_HEADER} + 1;`,
    'const flags = h[hAt - 1];',
    ...[...offsets].map((k) => `const o${k} = h[hAt + ${2 * k}] | (h[hAt + ${2 * k + 1}] << 8);`),
    ...typeCheck,
    ...body,
    sync,
    '}',
    'return true;',
    '};',
  ].join('\n');
  // Built from numbers only (offsets, lengths, the fixed bytes as integers): no text of the request in it.
  return new Function('lib', code)(WRITER_LIB) as EdgeWriter;
}

/** The base64url characters of every 12 bits, two to a 16-bit entry (first character in the low byte). */
const B64_PAIRS = new Uint16Array(4096);
for (let v = 0; v < 4096; v++) B64_PAIRS[v] = B64[v >>> 6]! | (B64[v & 63]! << 8);
/** The 4 base64url characters of 3 bytes (a 24-bit big-endian value), as one little-endian word. */
const b64Word = (v: number): number => B64_PAIRS[v >>> 12]! | (B64_PAIRS[v & 4095]! << 16);
/** b64Word of `1|<d>`, d a digit: an aligned cursor's first 4 characters, by the time's first digit. */
const TIME_HEAD = Int32Array.from({ length: 10 }, (_, d) => b64Word((0x31 << 16) | (0x7c << 8) | (0x30 + d)));
/** b64Word of three ASCII digits 000..999: the next 16 characters are 4 of these. */
const TIME_TRIPLE = Int32Array.from({ length: 1000 }, (_, n) => b64Word(((0x30 + ((n / 100) | 0)) << 16) | ((0x30 + (((n / 10) | 0) % 10)) << 8) | (0x30 + (n % 10))));

/**
 * writeCursor() for the common case, in a third of its work: a 13-digit time (2001 to 2286) makes
 * `1|<ts>` 15 bytes and `|<fingerprint>|` 18, both whole base64 groups, so the cursor is the
 * encoding of `1|<ts>` (20 characters), the page's encoded `|<fingerprint>|` (24, MIDDLE, made
 * once per page), then the encoding of the id's bytes (out[s, e)), nothing staged; false, nothing
 * written, when the id holds an escape (the cursor has the id unescaped: writeCursorOf's way).
 * `1|<ts>` is 5 groups of 3 bytes whose 4 characters each come from a table: `1|`
 * and the first digit, then the time's digits 3 by 3 (5 stores, no digit written, no loop; it was
 * a fifth of a cursor-per-edge page's writing with a digit loop and the generic encoder).
 */
function writeAlignedCursor(time: number, s: number, e: number): boolean {
  room(20 + 24 + Math.ceil(((e - s) * 4) / 3) + 4);
  // time = d c1 c2 c3 c4 (one digit, four of three); both halves fit 32-bit integers.
  const hi = Math.floor(time / 1e6) | 0;
  const lo = (time - hi * 1e6) | 0;
  const c3 = (lo / 1000) | 0;
  const top = (hi / 1000) | 0;
  const d = (top / 1000) | 0;
  const v = view;
  const t = at;
  v.setUint32(t, TIME_HEAD[d]!, true);
  v.setUint32(t + 4, TIME_TRIPLE[top - d * 1000]!, true);
  v.setUint32(t + 8, TIME_TRIPLE[hi - top * 1000]!, true);
  v.setUint32(t + 12, TIME_TRIPLE[c3]!, true);
  v.setUint32(t + 16, TIME_TRIPLE[lo - c3 * 1000]!, true);
  // The page's `|<fingerprint>|` (MIDDLE): 6 stores, no copy loop.
  const m = MIDDLE;
  v.setUint32(t + 20, m[0]!, true);
  v.setUint32(t + 24, m[1]!, true);
  v.setUint32(t + 28, m[2]!, true);
  v.setUint32(t + 32, m[3]!, true);
  v.setUint32(t + 36, m[4]!, true);
  v.setUint32(t + 40, m[5]!, true);
  const end = base64urlOfId(s, e, t + 44);
  if (end < 0) return false;
  at = end;
  return true;
}

/** The page's `|<fingerprint>|` base64url-encoded (24 characters) as 6 little-endian words, for writeAlignedCursor. */
const MIDDLE = new Int32Array(6);

/**
 * base64url() of out[s, e) (a row's id, no escape expected), or -1 when it holds a backslash (an
 * escape: the cursor has the unescaped id, see writeCursorOf). Each 3 bytes are read as one
 * big-endian 32-bit load (its 4th byte dropped; out[e] exists: the answer lies after the rows)
 * and checked for a backslash in the same step (a byte of x ^ 0x5c5c5c is 0 iff the test bit is
 * set), not byte loads and a second pass over the id.
 */
function base64urlOfId(s: number, e: number, t: number): number {
  const v32 = view;
  let j = s;
  let slash = 0;
  for (; j + 3 <= e; j += 3, t += 4) {
    const w = v32.getUint32(j, false) >>> 8;
    const x = w ^ 0x5c5c5c;
    slash |= (x - 0x010101) & ~x & 0x808080;
    v32.setUint32(t, b64Word(w), true);
  }
  const o = out;
  for (let k = j; k < e; k++) slash |= o[k] === 0x5c ? 1 : 0;
  if (slash !== 0) return -1;
  return j === e ? t : base64url(o, j, e, t);
}

/**
 * Writes src[s, e) base64url-encoded (no padding) into the answer at t, which has room; returns
 * the end. A loop, no string per cursor: each 3 bytes are 4 characters, two table reads and one
 * 32-bit store.
 */
function base64url(src: Uint8Array, s: number, e: number, t: number): number {
  const v32 = view;
  let j = s;
  for (; j + 3 <= e; j += 3, t += 4) {
    const v = (src[j]! << 16) | (src[j + 1]! << 8) | src[j + 2]!;
    v32.setUint32(t, B64_PAIRS[v >>> 12]! | (B64_PAIRS[v & 4095]! << 16), true);
  }
  const o = out;
  if (e - j === 1) {
    const v = src[j]!;
    o[t++] = B64[v >>> 2]!;
    o[t++] = B64[(v & 3) << 4]!;
  } else if (e - j === 2) {
    const v = (src[j]! << 8) | src[j + 1]!;
    o[t++] = B64[v >>> 10]!;
    o[t++] = B64[(v >>> 4) & 63]!;
    o[t++] = B64[(v & 15) << 2]!;
  }
  return t;
}

/** Writes field k's value, out[s, e) (a JSON text that is not canonical parsed and serialized as execution would). */
function writeValue(flags: number, k: number, s: number, e: number): void {
  if (k >= FIRST_TEXT_FIELD && k < FIRST_TEXT_FIELD + 3 && (flags & (ROW_CANONICAL << (k - FIRST_TEXT_FIELD))) === 0) {
    text(exactStringify(out.toString('utf8', s, e)), 'utf8');
  } else copy(s, e);
}

/** Writes the answer; false when a row makes it void (see EdgeWriter). */
function writeParts(parts: readonly Part[], r: Rows, ctx: Context): boolean {
  for (const part of parts) {
    if (part instanceof Buffer) {
      copyIn(part);
      continue;
    }
    const p = part as SlotPart;
    switch (p.slot) {
      case Slot.Edges:
        if (!ctx.plan.edge.write(r, ctx)) return false;
        break;
      case Slot.UserId:
        text(JSON.stringify(ctx.userId), 'utf8');
        break;
      case Slot.HasNext:
        ascii(r.page.hasNext ? TRUE : FALSE);
        break;
      case Slot.StartCursor:
      case Slot.EndCursor: {
        const n = r.page.count;
        if (n === 0) ascii(NULL);
        else {
          const j = p.slot === Slot.StartCursor ? 0 : n - 1;
          ascii(QUOTE);
          writeCursor(r, j, ctx);
          ascii(QUOTE);
        }
        break;
      }
    }
  }
  return true;
}

interface Context {
  plan: FastPlan;
  userId: string;
}

/**
 * The answer `{"data":...}` to one request of a fast plan, as execution would give it, or null (see
 * the top of this file): then execute the operation. The bytes are a view of a buffer the next
 * call reuses: write or copy them at once.
 */
/** The user's and the events' arguments as graphql-js coerces them, or null where it reports an error. */
function argumentsOf(plan: FastPlan, schema: GraphQLSchema, variables: Record<string, unknown> | null | undefined): Record<string, unknown>[] | null {
  if (plan.args !== null) return readArgs(plan.args, variables);
  const vars = getVariableValues(schema, plan.operation.variableDefinitions ?? [], variables ?? {});
  if (vars.errors !== undefined) return null;
  try {
    return [getArgumentValues(plan.userField, plan.userNode, vars.coerced), getArgumentValues(plan.eventsField, plan.eventsNode, vars.coerced)];
  } catch {
    return null;
  }
}

export function writeFastPage(plan: FastPlan, schema: GraphQLSchema, variables: Record<string, unknown> | null | undefined, reader: QueryReader): Buffer | null {
  const values = argumentsOf(plan, schema, variables);
  if (values === null) return null;
  let r: EventsRequest;
  let userId: string;
  try {
    userId = values[0]!.id as string;
    // An id with a lone surrogate is left to execution, which makes it well-formed first (U+FFFD).
    if (LONE_SURROGATE.test(userId)) return null;
    const a = values[1]!;
    r = eventsRequest(userId, { from: a.from, to: a.to, type: a.type, event: a.event, limit: a.first, cursor: a.after }, reader.limits);
  } catch {
    return null;
  }
  const page = reader.viewPage(r);
  if (page === null) return null;
  // A page writes cursors only when it has events and its plan reads one: FINGERPRINT and MIDDLE
  // (`|<fingerprint>|` base64url-encoded, for the aligned cursors) then hold its fingerprint.
  // `out` is the reader's buffer (see `own`): the page's rows, then the answer.
  if (page.count > 0 && plan.readsCursor) fingerprintOf(r);
  writeInto(page.rows.buffer);
  at = page.count > 0 ? page.rows.end(page.count - 1) : 0;
  const answer = at;
  const rows: Rows = { page, headers: page.rows.rowHeaders };
  const h = rows.headers;
  // Every row's offsets are needed (the edges, the start and end cursors); each row's `type` is
  // checked by the edge writer (plan.edge.readsType), which has its offsets at hand.
  for (let i = 0; i < page.count; i++) if ((h[i * ROW_HEADER]! & ROW_NO_LAYOUT) !== 0) return null;
  const ctx: Context = { plan, userId };
  if (!writeParts(plan.page, rows, ctx)) return null;
  return out.subarray(answer, at);
}

/**
 * The scope FINGERPRINT and MIDDLE hold (userKey null: none): a client paging through one user's
 * events asks for the same scope page after page, and comparing it costs less than hashing it.
 */
const lastScope: { userKey: string | null; from: number | null; to: number | null; type: string | null; event: string | null } = { userKey: null, from: null, to: null, type: null, event: null };

/** The page's cursor fingerprint (scopeFingerprint(): 16 base64url characters) as ASCII, made by fingerprintOf(). */
const FINGERPRINT = new Uint8Array(16);
/** The scope's JSON text (scopeText()) as UTF-8: what the fingerprint hashes. */
let scopeBytes = Buffer.allocUnsafeSlow(1024);

/**
 * scopeFingerprint(r) into FINGERPRINT, and `|<fingerprint>|` base64url-encoded into MIDDLE (for
 * the aligned cursors), unless they hold it already: SHA-256 of the scope's JSON, its first 12
 * bytes base64url-encoded. Every page with a cursor needs it (endCursor), REST only pages with a next
 * one. Only the last scope is remembered: a map of 4096 cost more than hashing at the server (about
 * 2 µs a page for its lookup and upkeep on zipf users, most of whom it missed). node:crypto's
 * hash() of the scope's bytes (no scope text made on the usual path), answered in base64url,
 * takes ~0.3 µs.
 */
function fingerprintOf(r: EventsRequest): void {
  if (r.userKey === lastScope.userKey && r.from === lastScope.from && r.to === lastScope.to && r.type === lastScope.type && r.event === lastScope.event) return;
  lastScope.userKey = null;
  const n = writeScope(r);
  // base64url out, not a Buffer: hash()'s 'buffer' output costs ~1.1 µs here against ~0.3 for a
  // string (measured in a loop on this machine). The digest's first 12 bytes are its first 16
  // characters, which are ASCII.
  const d = hash('sha256', scopeBytes.subarray(0, n), 'base64url');
  const f = FINGERPRINT;
  for (let i = 0; i < 16; i++) f[i] = d.charCodeAt(i);
  MIDDLE[0] = b64Word((0x7c << 16) | (f[0]! << 8) | f[1]!);
  for (let k = 1; k < 5; k++) MIDDLE[k] = b64Word((f[3 * k - 1]! << 16) | (f[3 * k]! << 8) | f[3 * k + 1]!);
  MIDDLE[5] = b64Word((f[14]! << 16) | (f[15]! << 8) | 0x7c);
  lastScope.from = r.from;
  lastScope.to = r.to;
  lastScope.type = r.type;
  lastScope.event = r.event;
  lastScope.userKey = r.userKey;
}

/**
 * Writes scopeText(r) (`["<user>",<from>,<to>,<type>,<event>]`, JSON.stringify's) as UTF-8 into
 * scopeBytes; returns its length. Its strings are written a character at a time when
 * JSON.stringify leaves them as they are (printable ASCII without `"` or `\`): no text made;
 * others go through scopeText().
 */
function writeScope(r: EventsRequest): number {
  const room = 64 + r.userKey.length + (r.event?.length ?? 0);
  if (scopeBytes.length < room) scopeBytes = Buffer.allocUnsafeSlow(2 * room);
  const b = scopeBytes;
  b[0] = 0x5b;
  let at = jsonString(b, 1, r.userKey);
  if (at >= 0) at = jsonNumber(b, at, r.from);
  if (at >= 0) at = jsonNumber(b, at, r.to);
  if (at >= 0) at = r.type === null ? jsonNull(b, at) : jsonString(b, at, r.type);
  if (at >= 0) at = r.event === null ? jsonNull(b, at) : jsonString(b, at, r.event);
  if (at >= 0) {
    b[at - 1] = 0x5d;
    return at;
  }
  // Escapes make a character up to 6 bytes: the text's own length decides the room.
  const text = scopeText(r);
  const n = Buffer.byteLength(text, 'utf8');
  if (scopeBytes.length < n) scopeBytes = Buffer.allocUnsafeSlow(2 * n);
  return scopeBytes.write(text, 0, 'utf8');
}

/** Writes `"<s>",` at `at` and returns the end, or -1 when JSON.stringify would escape or encode a character of s. */
function jsonString(b: Buffer, at: number, s: string): number {
  b[at++] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return -1;
    b[at++] = c;
  }
  b[at++] = 0x22;
  b[at++] = 0x2c;
  return at;
}

function jsonNull(b: Buffer, at: number): number {
  b[at] = 0x6e;
  b[at + 1] = 0x75;
  b[at + 2] = 0x6c;
  b[at + 3] = 0x6c;
  b[at + 4] = 0x2c;
  return at + 5;
}

/** Writes `<n>,` (JSON's number: its String(), ASCII) or `null,`. */
function jsonNumber(b: Buffer, at: number, n: number | null): number {
  if (n === null) return jsonNull(b, at);
  const t = String(n);
  for (let i = 0; i < t.length; i++) b[at++] = t.charCodeAt(i);
  b[at++] = 0x2c;
  return at;
}

/** Whether out[s, e) is a quoted EventType value. */
function isEventType(s: number, e: number): boolean {
  // A word compare per 4 bytes (the last word overlapping), only for the values of this length:
  // once per row, so a byte loop per value (up to 6 of them) was about 4 % of a page's writing.
  const n = e - s;
  const v = view;
  for (let t = 0; t < TYPE_WORDS.length; t++) {
    const type = TYPE_WORDS[t]!;
    if (type.length !== n) continue;
    let k = 0;
    while (k < type.at.length && v.getUint32(s + type.at[k]!, true) === type.words[k]) k++;
    if (k === type.at.length) return true;
  }
  return false;
}
const LONE_SURROGATE = /\p{Cs}/u;

/** What the compiled edge writers call (declared last: it names the cursor tables). */
const WRITER_LIB = {
  room,
  TIME_HEAD,
  TIME_TRIPLE,
  MIDDLE,
  B64_PAIRS,
  B64,
  writeValue,
  writeCursorOf,
  slowRun,
  isEventType,
  outNow: (): Buffer => out,
  viewNow: (): DataView => view,
  atNow: (): number => at,
  setAt: (t: number): void => {
    at = t;
  },
};
