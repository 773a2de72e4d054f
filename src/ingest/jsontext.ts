// One Segment event (or a PostHog capture body) as JSON text -> the object normalizeEvent (or the
// PostHog translation) takes, without building the objects it would only turn back into text.
//
// Why: normalizeEvent stores `properties`, `traits` and `context` as JSON text, so the generic
// path JSON.parse()s them into objects and JSON.stringify()s them straight back. Measured on the
// bench's lines (CPU time, a loaded 2-core machine): parse + normalize + Avro encode 6.1-6.4 us
// per line generic, 4.7-5.1 us through this scanner. When such an object's text is exactly what
// JSON.stringify(JSON.parse(text)) would give (no whitespace, canonical numbers, no escapes that
// stringify writes differently, no duplicate or integer-like keys), its text is kept as it is.
//
// Contract: parseEventJson(s) returns null, or a value equal to JSON.parse(s) except that
//   - the object values of the members `properties`, `traits` and `context` may be JsonText
//     (their canonical text and the members normalizeEvent reads: category, name, groupId, ip);
//     a member that is not canonical is JSON.parse()d on its own, so it is exactly JSON.parse's;
//   - object and array values of members nobody on the ingest path reads (`integrations`,
//     `_metadata`, any LAZY name) are JsonValue: their text, checked, parsed only if someone asks
//     (toJSON, so JSON.stringify of the event is still JSON.stringify of JSON.parse);
//   - the events of a top-level `batch` array are read the same way (a Segment batch body, or an
//     import line holding one).
// parseShaped(s, shape) is the same reading for another kind of body (JsonShape: which members
// are kept as text, which hold the events, which are parsed): PostHog's (formats/posthog.ts)
// keeps each event's `properties` as a PickedText, which also carries the members its
// translation reads, parsed, and its text without the members the translation removes.
// objectTextAt reads one object inside a text (Snowplow's self-describing event).
// null means "not handled here": not an object, not valid JSON, nested deeper than MAX_DEPTH, a
// `__proto__` member (or, per shape, a member that says the body is another kind). Callers then
// use JSON.parse and the generic path, so every error message stays the generic one.
// src/ingest/jsontext.test.ts and formats/prepared.test.ts compare both paths on random and
// hostile lines and bodies.
//
// Hot path: one pass over the text's code units in a typed array (`units`: the body's own bytes
// when they are ASCII, else a copy) and module-level state (no closures, no per-token objects);
// duplicate keys are compared as spans of the text, not as new strings, and an event's names are
// the constant strings of its shape (see JsonShape). A string is skipped with one indexOf('"')
// when it closes before the next backslash, control character or surrogate of the text (found on
// ASCII bytes by memchr and a word loop, else by a regex; again only after a string that held one;
// SDKs and JSON.stringify rarely write any), since then it ends at that quote and JSON.stringify
// writes it as it is; otherwise unit by unit (scanStringSlow).

import { INT64_MIN_DIGITS, MAX_JSON_DEPTH, UINT64_MAX_DIGITS } from '../schema/index.js';

/** A JSON object kept as its canonical text, with the members normalizeEvent reads. */
export class JsonText {
  constructor(
    readonly text: string,
    /** `category` when it is a string (normalize reads properties.category). */
    readonly category: string | undefined,
    /** `name` when it is a string (normalize reads properties.name of a page or screen). */
    readonly name: string | undefined,
    /** `groupId` when it is a string or a number (normalize reads context.groupId). */
    readonly groupId: string | number | undefined,
    /** Whether the object has an `ip` member (normalize checks context for one). */
    readonly hasIp: boolean,
  ) {}

  /** JSON.stringify of an event holding one writes the object it stands for (a rejected event's bytes). */
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/**
 * An object or array member nobody on the ingest path reads, kept as its (checked) text. It
 * stands for JSON.parse(text): JSON.stringify of an event holding one (a rejected event's bytes)
 * writes what it would have written for the parsed value.
 */
export class JsonValue {
  constructor(readonly text: string) {}
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/**
 * A kept object (a JsonText) read for another vendor's translation: `picked` holds the members
 * the translation reads (those of its shape's `picks` the object has), each exactly as JSON.parse
 * gives it, so a translation reads `picked.x` where it would read `parsed.x`; `kept()` is the
 * object without its shape's `drop` members (PostHog's token and $set), as JSON.stringify writes
 * the object left once they are deleted. toJSON (a rejected event's bytes) is the whole object.
 */
export class PickedText extends JsonText {
  constructor(
    text: string,
    category: string | undefined,
    name: string | undefined,
    groupId: string | number | undefined,
    hasIp: boolean,
    readonly picked: Record<string, unknown>,
    /**
     * The whole text had no backslash, control character or surrogate: every picked string's
     * JSON is itself in quotes (quotePlain), no JSON.stringify needed.
     */
    readonly plain: boolean,
    /** The text without the dropped members, or null when none was there. */
    private readonly keptText: string | null,
  ) {
    super(text, category, name, groupId, hasIp);
  }

  /**
   * The object without its dropped members, as a plain JsonText even when none was dropped: the
   * code that reads it (normalizeEvent) then sees one class, not two (measured: 0.15 us/event).
   */
  kept(): JsonText {
    return new JsonText(this.keptText ?? this.text, this.category, this.name, this.groupId, this.hasIp);
  }
}

/** Characters JSON.stringify escapes in a string (or may: surrogates, which it keeps when paired). */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * JSON.stringify(v) for a string, cheaper: most strings need no escape, and then their JSON is
 * the string in quotes (measured: a 100-character user agent 256 ns through JSON.stringify, 92
 * with this test). A lone surrogate is written as U+FFFD (see wellFormed).
 */
export function quote(v: string): string {
  return ESCAPED.test(v) ? wellFormed(JSON.stringify(v)) : `"${v}"`;
}

/**
 * A lone surrogate as JSON.stringify escapes it (\ud800), after the backslashes before it. Only
 * from the first backslash of a run (the lookbehind): without it each backslash of a run not
 * followed by `u` started a scan of the rest of the run, quadratic in its length (a 32 KB event
 * of backslashes held the ingest thread for a second, a 500 KB batch for 13).
 */
export const LONE_SURROGATE = /(?<!\\)(\\+)ud[89a-f][0-9a-f]{2}/g;

/**
 * JSON text written by JSON.stringify with each lone surrogate (half of a UTF-16 pair, as a string
 * cut in the middle of an emoji holds; JSON.stringify escapes it, \ud83d) as U+FFFD, the
 * character every other string of the event gets for it once written as UTF-8 (Avro).
 * ClickHouse's isValidJSON refuses a lone surrogate's escape, so the whole object was unreadable
 * there and answered as null by the query API. JSON.stringify escapes nothing else as \ud...: a
 * pair it writes as it is. Texts the scanner keeps as sent need none of this (an escape makes
 * text not canonical); only what JSON.stringify wrote.
 */
export function wellFormed(text: string): string {
  if (!text.includes('\\ud')) return text;
  // An odd run of backslashes ends in the escape's own; an even one is escaped backslashes.
  return text.replace(LONE_SURROGATE, (m, slashes: string) => (slashes.length % 2 === 1 ? `${slashes.slice(0, -1)}\ufffd` : m));
}

/** Texts with no run of 19 digits (almost all) need no look for integers past 64 bits. */
const LONG_DIGITS = /\d{19}/;
/** A string token, or a run of 19 or more digits outside one that is an integer (not a fraction's digits). */
const LONG_INTEGER = /"(?:[^"\\]|\\.)*"|(?<![.\d])-?\d{19,}(?![.\deE])/g;

/**
 * JSON text written by JSON.stringify with each integer past 64 bits in exponent form: it writes
 * a double from 2^64 up to 1e21 as plain digits (2.5e19 as 25000000000000000000, 25 ETH in wei),
 * and ClickHouse's isValidJSON refuses an integer that fits neither UInt64 nor Int64, so the
 * whole object was unreadable there (the query API's null). `2.5e+19` is the same double, which
 * ClickHouse reads. A run of 19 or more digits outside a string, with no point before or after
 * it, is a whole integer (a fraction such as 0.0000012345678901234567 has long runs too); one that
 * fits (a wide one kept digit for digit) stays as it is.
 */
export function fitIntegers(text: string): string {
  // A number's JSON (a Snowplow field's) is mostly shorter than any such run: not even searched.
  if (text.length < 19 || !LONG_DIGITS.test(text)) return text;
  return text.replace(LONG_INTEGER, (m) => (m.charCodeAt(0) === QUOTE || integerKind(m, 0, m.length) !== INEXACT ? m : Number(m).toExponential()));
}

/**
 * JSON.stringify(v) as the ingest stores it: lone surrogates as U+FFFD (wellFormed), integers past
 * 64 bits in exponent form (fitIntegers), so ClickHouse reads every text the ingest writes.
 */
export function stringify(v: unknown): string {
  return storable(JSON.stringify(v));
}

/** JSON text written by JSON.stringify as the ingest stores it (see stringify). */
export function storable(text: string): string {
  return fitIntegers(wellFormed(text));
}

/**
 * quote() remembering its last string: a field whose value repeats from one event to the next
 * (a batch's user agent, library, app id) is compared, not tested again.
 */
export class QuoteMemo {
  private last = '';
  private quoted = '""';

  quote(v: string): string {
    if (v !== this.last) {
      this.last = v;
      this.quoted = quote(v);
    }
    return this.quoted;
  }
}

/** A string known to need no escape (PickedText.plain) as JSON. */
export function quotePlain(v: string): string {
  return `"${v}"`;
}

/** JSON text of an object member value: a JsonText's own text, else JSON.stringify (stringify). */
export function jsonTextOf(v: object): string {
  return v instanceof JsonText ? v.text : stringify(v);
}

/** The object a JsonText (or JsonValue) stands for (for code that needs the members themselves). */
export function objectOf(v: object): Record<string, unknown> {
  return v instanceof JsonText || v instanceof JsonValue ? (JSON.parse(v.text) as Record<string, unknown>) : (v as Record<string, unknown>);
}

/**
 * Deeper nesting is left to JSON.parse (recursion here is bounded). As deep as an event may be
 * (MAX_JSON_DEPTH, what ClickHouse reads) and a little more: a body the scanner leaves goes to
 * JSON.parse whole, which rounds the wide integers of every event in it (64 did, for a batch with
 * one event 65 levels deep). Two frames a level, ~2,000 at most: far inside a thread's stack.
 */
const MAX_DEPTH = MAX_JSON_DEPTH + 8;
/** Objects with more members skip the duplicate-key check and count as not canonical. */
const MAX_KEYS_CHECKED = 64;

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;

// Scanner state: the text, the position, and facts about the last token / value scanned. `var`,
// not `let`: a module-level let costs a hole check on every use (measured: 8 % of the scanner);
// the hot functions also read the text and its units into locals.
var s = '';
/**
 * s's UTF-16 code units: unit i is s.charCodeAt(i). An element read costs a bounds check and a
 * load, where charCodeAt also dispatches on how V8 holds the string (measured: the parse of a
 * bench batch 15-20 % faster, 7 % fewer instructions; docs/architecture/ingest.md). A read past
 * the end gives undefined, which compares false and masks to 0 as charCodeAt's NaN does. Set by
 * useText for one call, then emptied: it may be a pooled body buffer.
 */
const NO_UNITS = new Uint8Array(0);
var units: Uint8Array | Uint16Array = NO_UNITS;
/** Whether this machine stores a Uint16Array's elements little-endian, as Buffer writes UTF-16LE. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
var pos = 0;
/**
 * Where the next backslash, control character or surrogate is (at or after pos; the text's length
 * when there is none): a string that closes before it ends at its next quote, with no escape.
 */
var special = 0;
/** The TEXT object just scanned has no special character (so no escape) anywhere in it. */
var textPlain = false;
/** Any of the characters that make a string more than "up to the next quote". */
const SPECIAL = /[\u0000-\u001f\\\ud800-\udfff]/g;
/**
 * When s is ASCII (then `units` is a Buffer of its bytes: byte i is character i, and there is no
 * surrogate) and at least 64 characters long: `units`' 4-byte words from `wordsAt` on; null
 * otherwise.
 */
var words: Int32Array | null = null;
var wordsAt = 0;

/** The first special character at or after `from` (for `special`). */
function nextSpecial(from: number): number {
  if (words !== null) return firstSpecialAscii(units as Buffer, words, wordsAt, from);
  SPECIAL.lastIndex = from;
  const m = SPECIAL.exec(s);
  return m === null ? s.length : m.index;
}

/**
 * The first backslash or control character at or after `from` in ASCII bytes `b` (its length when
 * none): SPECIAL's first match on the text they encode. `w` views b's 4-byte words from byte `at`
 * on (at < 4). A backslash is found by memchr (Buffer#indexOf), a control character a word at a
 * time (a word of ASCII bytes has one below 0x20 exactly when (x - 0x20202020) & ~x has a high
 * bit set). A third of the regex's cost per byte here, and that ran over every byte of a body:
 * ~7 % of the edge's CPU under batches.
 */
export function firstSpecialAscii(b: Buffer, w: Int32Array, at: number, from: number): number {
  let end = b.indexOf(BACKSLASH, from);
  if (end < 0) end = b.length;
  // Up to the first whole word at or after `from`, byte by byte.
  const firstWord = from <= at ? at : at + ((from - at + 3) & ~3);
  let i = from;
  for (; i < end && i < firstWord; i++) if (b[i]! < 0x20) return i;
  // Whole words before `end` (i is at a word's start, or at end).
  let k = (i - at) >> 2;
  const last = (end - at) >> 2;
  for (; k < last; k++) {
    const x = w[k]!;
    if (((x - 0x20202020) & ~x & 0x80808080) !== 0) break;
  }
  // The word that has one, or the bytes after the last whole word.
  for (i = Math.max(i, at + 4 * k); i < end; i++) if (b[i]! < 0x20) return i;
  return end;
}

/** An Int32Array over b's whole 4-byte words from its first aligned byte on, and that byte's index. */
export function asciiWords(b: Uint8Array): { words: Int32Array; at: number } {
  const at = (4 - (b.byteOffset & 3)) & 3;
  return { words: new Int32Array(b.buffer, b.byteOffset + at, Math.max(0, b.length - at) >> 2), at };
}

/**
 * Makes `text` the one scanned: sets `s`, `units` and, for an ASCII text of 64 characters or
 * more, `words` (null otherwise). `bytes`: the UTF-8 text was decoded from, if at hand; ASCII
 * exactly when there are as many bytes as UTF-16 units (any other character takes more). An ASCII
 * text's units are those bytes, or its Latin-1 copy without them; any other text's are a UTF-16
 * copy. Undone by doneWithText.
 */
function useText(text: string, bytes: Buffer | undefined): void {
  s = text;
  const isAscii = bytes !== undefined ? bytes.length === text.length : Buffer.byteLength(text, 'utf8') === text.length;
  if (!isAscii) {
    units = unitsOf(text);
    return;
  }
  const b = bytes ?? Buffer.from(text, 'latin1');
  units = b;
  // Short texts are not worth a word view.
  if (b.length < 64) return;
  const v = asciiWords(b);
  words = v.words;
  wordsAt = v.at;
}

/** Lets go of what useText held (a body's buffer may be pooled and given to the next body). */
function doneWithText(): void {
  units = NO_UNITS;
  words = null;
}

/** A text's UTF-16 code units: one native write where the machine is little-endian, as Buffer writes them. */
function unitsOf(text: string): Uint16Array {
  const out = new Uint16Array(text.length);
  if (LITTLE_ENDIAN) Buffer.from(out.buffer).write(text, 'utf16le');
  else for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The value scanned since the flag was last set true is exactly its JSON.stringify form. */
var canonical = true;
/** The last string token had a backslash. */
var escaped = false;
/** Member spans of the objects being scanned (start, length pairs), a stack over nesting levels. */
var keys = new Int32Array(256);
var keyTop = 0;
/** Whether the members of the object at depth 1 are collected (for a JsonText), and what was found. */
var collect = false;
var mCategory: string | undefined;
var mName: string | undefined;
var mGroupId: string | number | undefined;
var mHasIp = false;
/** Picked members of the object being collected, in text order: slot in shape.picks, member start, value start, value end. */
var picks = new Int32Array(4 * 16);
var pickCount = 0;
/** The kept runs of pickedText, start and end pairs. */
var keptRuns = new Int32Array(64);
/** Picked values by index in shape.picks while a PickedText is made (undefined otherwise). */
const pickValues: unknown[] = [];

/**
 * `text` as JSON.parse would read it, with `properties`, `traits` and `context` objects kept as
 * JsonText when canonical; null when the text is not a JSON object this scanner handles.
 * `bytes`, when given, are the UTF-8 `text` was decoded from (a body): an ASCII body is read from
 * them rather than from a copy (see useText); the same result either way.
 */
export function parseEventJson(text: string, bytes?: Buffer): Record<string, unknown> | null {
  return parseShaped(text, SEGMENT, bytes) as Record<string, unknown> | null;
}

/**
 * `text` as JSON.parse would read it, read as `how` says (see JsonShape): an object, or with
 * `topArray` an array of events; null when not handled here (then use JSON.parse). `bytes` as
 * for parseEventJson.
 */
export function parseShaped(text: string, how: JsonShape, bytes?: Buffer): Record<string, unknown> | unknown[] | null {
  useText(text, bytes);
  try {
    return shaped(how);
  } finally {
    doneWithText();
  }
}

function shaped(how: JsonShape): Record<string, unknown> | unknown[] | null {
  pos = 0;
  keyTop = 0;
  wideTop = 0;
  collect = false;
  use(how);
  special = nextSpecial(0);
  skipWs();
  const out = how.topArray && pos < s.length && units[pos]! === LBRACKET ? batchArray() : eventObject(0);
  if (out === null) return null;
  // Only whitespace may follow the top-level value.
  skipWs();
  return pos === s.length ? out : null;
}

/**
 * The object text[start, end) as a JsonText when it is one canonical object with nothing after
 * it, and text[plainFrom, start) has no backslash, control character or surrogate; null
 * otherwise (then parse it). For an object found inside another text without reading the rest
 * (Snowplow's self-describing event, whose data is JSON inside a JSON string).
 */
export function objectTextAt(text: string, start: number, end: number, plainFrom: number = start): JsonText | null {
  if (text.charCodeAt(start) !== LBRACE) return null;
  useText(text, undefined);
  try {
    return objectAt(text, start, end, plainFrom);
  } finally {
    doneWithText();
  }
}

function objectAt(text: string, start: number, end: number, plainFrom: number): JsonText | null {
  pos = start;
  keyTop = 0;
  use(SEGMENT);
  special = nextSpecial(plainFrom);
  // The caller read text[plainFrom, start) as strings between quotes: no escape may be there.
  if (special < start) return null;
  canonical = true;
  wideTop = 0;
  collect = true;
  mCategory = mName = mGroupId = undefined;
  mHasIp = false;
  pickCount = 0;
  const ok = scanObject(1);
  collect = false;
  if (!ok || pos !== end) return null;
  if (!canonical) {
    if (wideTop === 0) return null;
    const w = wideText(text.slice(start, end), start);
    return w instanceof JsonText ? w : null;
  }
  return new JsonText(text.slice(start, end), mCategory, mName, mGroupId, mHasIp);
}

/** What the scanner does with a member's object or array value, by the member's name. */
const LAZY = 0; // a JsonValue (its checked text; nobody on the ingest path reads it)
const PARSE = 1; // JSON.parse of its text
const TEXT = 2; // an object kept as a JsonText (PickedText when the shape picks members)
const LIST = 3; // at the top level, an array of events read the same way; deeper, PARSE
const BAIL = 4; // at the top level, "not handled here" (null): the body is another kind
const ID = 5; // an id: PARSE, but a wide integer (integerKind) is read as its digits, not rounded
/** What a member's object or array value becomes (JsonShape's `kinds`). */
export const MEMBER = { LAZY, PARSE, TEXT, LIST, BAIL, ID } as const;

/**
 * How one kind of body is read: the member names its events have (as constant strings: an
 * object built with them takes V8's fast property stores, while a name freshly sliced from the
 * line is looked up in the string table on every store; measured: most of this scanner's time
 * before), what each one's object or array value becomes, and which members of a TEXT object
 * a translation reads (picked, see PickedText).
 */
export class JsonShape {
  /** By quoted length: the candidates' indices in `names`. */
  readonly byLength: number[][] = [];
  /** `names` and `picks` as UTF-16 units (nameIs). */
  readonly nameUnits: Uint16Array[];
  readonly pickUnits: Uint16Array[];
  readonly kinds: Uint8Array;
  readonly kindByName: ReadonlyMap<string, number>;
  /**
   * By quoted length, then by the last character's low 5 bits: the candidates' indices in
   * `picks`. A properties object's names often share a length with a pick (most are `$`-names);
   * rarely also its last character, so most names are set aside with two array reads.
   */
  readonly picksByLength: number[][][] = [];
  readonly dropped: Uint8Array;
  /** By index in `picks`: 1 for an id (see idPicks). */
  readonly idPick: Uint8Array;
  /** By index in `picks`: 1 for an object kept as text (see objectPicks). */
  readonly objectPick: Uint8Array;

  constructor(
    readonly names: readonly string[],
    kinds: Readonly<Record<string, number>>,
    /** Kind of a name not in `names`. */
    readonly otherKind: number,
    /** A top-level array is a list of events (PostHog's /e), not "not handled here". */
    readonly topArray: boolean,
    /** Members of a TEXT object whose values are picked (PickedText.picked). */
    readonly picks: readonly string[] = [],
    /** Picked members the translation leaves out of the object it stores (PickedText.kept). */
    drop: readonly string[] = [],
    /**
     * The `picked` object from the values by index in `picks` (undefined: absent), written as an
     * object literal with every pick's name: all have one layout whatever members an event has,
     * so the translation's reads stay monomorphic, and no store goes by a computed name
     * (reads of absent members give undefined, as on the parsed object).
     */
    readonly pickedOf: (values: readonly unknown[]) => Record<string, unknown> = () => ({}),
    /**
     * Picked members that are ids: a wide integer there (a 64-bit id sent as a number) is picked
     * as its digits, as MEMBER.ID reads an event's own id, not as the double JSON.parse rounds it to.
     */
    idPicks: readonly string[] = [],
    /**
     * Picked members whose object value a translation stores (PostHog's `$set` in properties,
     * which become traits): when the TEXT object holds wide integers, such a value is picked as a
     * JsonText with their digits, not as the object JSON.parse rounds them in.
     */
    objectPicks: readonly string[] = [],
  ) {
    names.forEach((n, i) => (this.byLength[n.length + 2] ??= []).push(i));
    this.nameUnits = names.map(unitsOf);
    this.pickUnits = picks.map(unitsOf);
    this.kinds = Uint8Array.from(names, (n) => kinds[n] ?? otherKind);
    this.kindByName = new Map(names.map((n, i) => [n, this.kinds[i]!]));
    picks.forEach((n, i) => ((this.picksByLength[n.length + 2] ??= [])[n.charCodeAt(n.length - 1) & 31] ??= []).push(i));
    this.dropped = Uint8Array.from(picks, (n) => (drop.includes(n) ? 1 : 0));
    this.idPick = Uint8Array.from(picks, (n) => (idPicks.includes(n) ? 1 : 0));
    this.objectPick = Uint8Array.from(picks, (n) => (objectPicks.includes(n) ? 1 : 0));
    // The JsonText facts (category, name, groupId, ip) describe the kept object too.
    for (const d of drop) if (d === 'category' || d === 'name' || d === 'groupId' || d === 'ip') throw new Error(`${d} cannot be dropped`);
  }
}

/** A Segment event or batch body (and an import line). */
const SEGMENT = new JsonShape(
  [
    'type', 'userId', 'anonymousId', 'messageId', 'event', 'timestamp', 'sentAt', 'properties', 'traits', 'context',
    'name', 'groupId', 'previousId', 'category', 'integrations', 'receivedAt', 'originalTimestamp', 'writeKey', 'channel',
    'version', '_metadata', 'batch',
  ],
  {
    // Members whose object or array values someone on the ingest path reads (normalizeEvent, the
    // edge's batch fields, the import): parsed. Any other object or array becomes a JsonValue.
    type: PARSE, userId: ID, anonymousId: ID, messageId: ID, event: PARSE, timestamp: PARSE, sentAt: PARSE,
    originalTimestamp: PARSE,
    name: PARSE, groupId: ID, previousId: ID, category: PARSE, writeKey: PARSE,
    // Checked to be objects (an array there is refused), or read by the edge and the import.
    properties: TEXT, traits: TEXT, context: TEXT, batch: LIST,
  },
  LAZY,
  false,
);

/** The shape being read, and its tables in variables of the module (read on every member: one load, not two). */
var shape = SEGMENT;
var shapeNames: readonly string[] = SEGMENT.names;
var shapeByLength: number[][] = SEGMENT.byLength;
var shapeNameUnits: Uint16Array[] = SEGMENT.nameUnits;
var shapeKinds: Uint8Array = SEGMENT.kinds;
var shapePicks: number[][][] = SEGMENT.picksByLength;

function use(how: JsonShape): void {
  shape = how;
  shapeNames = how.names;
  shapeByLength = how.byLength;
  shapeNameUnits = how.nameUnits;
  shapeKinds = how.kinds;
  shapePicks = how.picksByLength;
}
/** The kind of the name nameAt (or an escaped name) gave last. */
var nameKind = LAZY;

/** The member name whose quoted, unescaped text is s[ks, ks+kl); sets nameKind. */
function nameAt(ks: number, kl: number): string {
  const str = s;
  const candidates = shapeByLength[kl];
  if (candidates !== undefined) {
    for (let c = 0; c < candidates.length; c++) {
      const i = candidates[c]!;
      if (nameIs(ks, shapeNameUnits[i]!)) {
        nameKind = shapeKinds[i]!;
        return shapeNames[i]!;
      }
    }
  }
  nameKind = shape.otherKind;
  return str.slice(ks + 1, ks + kl - 1);
}

/** An escaped member name (rare): unescaped, its kind looked up by value. */
function escapedName(ks: number): string {
  const name = JSON.parse(s.slice(ks, pos)) as string;
  nameKind = shape.kindByName.get(name) ?? shape.otherKind;
  return name;
}

/**
 * An event object at pos (the top-level text at depth 0, or an element of its `batch` array at
 * depth 1); pos ends after its closing brace. null when it is not an object this scanner handles.
 */
function eventObject(depth: number): Record<string, unknown> | null {
  const str = s;
  const u = units;
  const n = str.length;
  if (pos >= n || u[pos]! !== LBRACE) return null;
  pos++;
  const out: Record<string, unknown> = {};
  skipWs();
  if (pos < n && u[pos]! === RBRACE) {
    pos++;
    return out;
  }
  for (;;) {
    if (pos >= n || u[pos]! !== QUOTE) return null;
    const ks = pos;
    if (!scanString()) return null;
    const key = escaped ? escapedName(ks) : nameAt(ks, pos - ks);
    const kind = nameKind;
    if (key === '__proto__') return null;
    skipWs();
    if (pos >= n || u[pos]! !== COLON) return null;
    pos++;
    skipWs();
    if (pos >= n) return null;
    const c = u[pos]!;
    const vs = pos;
    if (c === QUOTE) {
      if (!scanString()) return null;
      out[key] = escaped ? JSON.parse(str.slice(vs, pos)) : str.slice(vs + 1, pos - 1);
    } else if (c === LBRACE && kind === TEXT) {
      canonical = true;
      collect = true;
      wideTop = 0;
      mCategory = mName = mGroupId = undefined;
      mHasIp = false;
      pickCount = 0;
      const sp = special;
      const ok = scanObject(1);
      collect = false;
      if (!ok) return null;
      textPlain = sp >= pos;
      const slice = str.slice(vs, pos);
      out[key] = !canonical
        ? wideTop === 0 ? JSON.parse(slice) : wideText(slice, vs)
        : shape.picks.length === 0 ? new JsonText(slice, mCategory, mName, mGroupId, mHasIp) : pickedText(slice, vs);
    } else if (c === LBRACKET && depth === 0 && kind === LIST) {
      const events = batchArray();
      if (events === null) return null;
      out[key] = events;
    } else if (c === LBRACE || c === LBRACKET) {
      if (depth === 0 && kind === BAIL) return null;
      if (!scanValue(depth + 1)) return null;
      const slice = str.slice(vs, pos);
      out[key] = kind === LAZY ? new JsonValue(slice) : JSON.parse(slice);
    } else {
      const w = wideTop;
      const v = scalar();
      if (v === undefined) return null;
      // A wide id (a 64-bit key sent as a number) as its digits: its text, as an id is stored.
      out[key] = kind === ID && wideTop !== w ? str.slice(vs, pos) : v;
    }
    skipWs();
    if (pos >= n) return null;
    const sep = u[pos++]!;
    if (sep === RBRACE) return out;
    if (sep !== COMMA) return null;
    skipWs();
  }
}

/** A top-level `batch` array at pos: its objects read as events, anything else as JSON.parse reads it. */
function batchArray(): unknown[] | null {
  const str = s;
  const u = units;
  const n = str.length;
  const out: unknown[] = [];
  pos++;
  skipWs();
  if (pos < n && u[pos]! === RBRACKET) {
    pos++;
    return out;
  }
  for (;;) {
    if (pos >= n) return null;
    if (u[pos]! === LBRACE) {
      const ev = eventObject(1);
      if (ev === null) return null;
      out.push(ev);
    } else {
      const vs = pos;
      if (!scanValue(2)) return null;
      out.push(JSON.parse(str.slice(vs, pos)));
    }
    skipWs();
    if (pos >= n) return null;
    const c = u[pos++]!;
    if (c === RBRACKET) return out;
    if (c !== COMMA) return null;
    skipWs();
  }
}

/** JSON whitespace only (JSON.parse takes these four, not every Unicode space). */
function skipWs(): void {
  const str = s;
  const u = units;
  const n = str.length;
  let p = pos;
  while (p < n) {
    const c = u[p]!;
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
    p++;
  }
  pos = p;
}

/** Skips whitespace inside a value: valid there, but JSON.stringify would not write it. */
function skipInnerWs(): void {
  const p = pos;
  skipWs();
  if (pos !== p) canonical = false;
}

/** true, false, null or a number (as JSON.parse reads it); undefined when invalid. */
function scalar(): unknown {
  const c = units[pos]!;
  if (c === 116) return literal('true') ? true : undefined;
  if (c === 102) return literal('false') ? false : undefined;
  if (c === 110) return literal('null') ? null : undefined;
  const start = pos;
  if (!scanNumber()) return undefined;
  // Number() reads the JSON number grammar exactly as JSON.parse does (same rounding).
  return Number(s.slice(start, pos));
}

function literal(word: string): boolean {
  if (!s.startsWith(word, pos)) return false;
  pos += word.length;
  return true;
}

/**
 * A string token at pos (which is a quote); pos ends after its closing quote. Sets `escaped`, and
 * clears `canonical` when JSON.stringify would write the string differently.
 */
function scanString(): boolean {
  const q = s.indexOf('"', pos + 1);
  if (q >= 0 && q < special) {
    // No backslash, control character or surrogate before its quote: the string ends there, and
    // JSON.stringify writes it as it is (canonical unchanged).
    escaped = false;
    pos = q + 1;
    return true;
  }
  const ok = scanStringSlow();
  if (pos > special) special = nextSpecial(pos);
  return ok;
}

function scanStringSlow(): boolean {
  // Locals in the loop: module-level bindings cost a context load (and a hole check) per use.
  const str = s;
  const u = units;
  const n = str.length;
  let p = pos + 1;
  let esc = false;
  let canon = canonical;
  let ok = false;
  while (p < n) {
    const c = u[p]!;
    if (c === QUOTE) {
      p++;
      ok = true;
      break;
    }
    if (c < 0x20) break; // JSON.parse refuses raw control characters
    if (c === BACKSLASH) {
      esc = true;
      if (p + 1 >= n) break;
      const e = u[p + 1]!;
      // JSON.stringify writes these escapes itself; \/ and \uXXXX it writes otherwise.
      if (e === QUOTE || e === BACKSLASH || e === 110 || e === 114 || e === 116 || e === 98 || e === 102) {
        p += 2;
        continue;
      }
      if (e === 47) {
        canon = false;
        p += 2;
        continue;
      }
      if (e !== 117 || !hex4(str, p + 2)) break;
      canon = false;
      p += 6;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      // A pair is written as it is; a lone surrogate JSON.stringify escapes.
      if (c <= 0xdbff && p + 1 < n && (u[p + 1]! & 0xfc00) === 0xdc00) p++;
      else canon = false;
    }
    p++;
  }
  pos = p;
  escaped = esc;
  canonical = canon;
  return ok;
}

function hex4(str: string, at: number): boolean {
  if (at + 4 > str.length) return false;
  for (let i = at; i < at + 4; i++) {
    const h = str.charCodeAt(i);
    if (!((h >= ZERO && h <= NINE) || (h >= 97 && h <= 102) || (h >= 65 && h <= 70))) return false;
  }
  return true;
}

/**
 * A number token by JSON's grammar. Clears `canonical` unless its text is certainly the one
 * JSON.stringify writes for its value: no exponent, no leading zeros, no trailing fraction
 * zeros, not -0, at most 15 significant digits (so the text is the shortest that reads back as
 * that double), and not below 1e-6 (which JavaScript writes with an exponent).
 */
function scanNumber(): boolean {
  const str = s;
  const u = units;
  const n = str.length;
  const start = pos;
  let integral = true;
  const neg = u[pos]! === MINUS;
  if (neg) pos++;
  let c = pos < n ? u[pos]! : 0;
  let digits: number;
  if (c === ZERO) {
    pos++;
    digits = 0;
  } else if (c > ZERO && c <= NINE) {
    const is = pos;
    while (pos < n && (c = u[pos]!) >= ZERO && c <= NINE) pos++;
    digits = pos - is;
  } else {
    return false;
  }
  if (pos < n && u[pos]! === DOT) {
    integral = false;
    pos++;
    const fs = pos;
    while (pos < n && (c = u[pos]!) >= ZERO && c <= NINE) pos++;
    if (pos === fs) return false;
    if (u[pos - 1]! === ZERO) canonical = false;
    if (digits === 0) {
      // 0.000ddd: the zeros are not significant, and six or more make JavaScript write an exponent.
      let z = fs;
      while (z < pos && u[z]! === ZERO) z++;
      if (z - fs >= 6) canonical = false;
      digits = pos - z;
    } else {
      digits += pos - fs;
    }
  }
  if (pos < n && ((c = u[pos]!) === 101 || c === 69)) {
    canonical = false;
    integral = false;
    pos++;
    c = pos < n ? u[pos]! : 0;
    if (c === 43 || c === MINUS) {
      pos++;
      c = pos < n ? u[pos]! : 0;
    }
    if (!(c >= ZERO && c <= NINE)) return false;
    while (pos < n && (c = u[pos]!) >= ZERO && c <= NINE) pos++;
  }
  if (digits > 15) {
    // Rare (ids, not measures): decided on the token's text. A wide integer stays as it is sent.
    const kind = integral ? integerKind(str, start, pos) : INEXACT;
    if (kind === WIDE) noteWide(start, pos);
    else if (kind === INEXACT) canonical = false;
  }
  // -0 (and -0.0) reads back as 0.
  if (neg && digits === 0) canonical = false;
  return true;
}

/** An integer token JSON.stringify writes back as it is. */
const EXACT = 0;
/** A wide integer (see integerKind). */
const WIDE = 1;
/** Any other number token JSON.stringify may write otherwise. */
const INEXACT = 2;

/**
 * What the integer token str[a, b) (no fraction, no exponent) is: EXACT when JSON.parse reads it
 * as a double JSON.stringify writes back the same; WIDE when it does not but the integer fits a
 * UInt64 (an Int64 when negative): a 64-bit id such as a Snowflake or a database key, which
 * JSON.parse would round (12345678901234567890 to 12345678901234567000). Such a token is kept as
 * sent, digit for digit: ClickHouse's isValidJSON accepts it and JSONExtract reads it exactly.
 * INEXACT beyond 64 bits, even when the double writes back the same (25000000000000000000):
 * ClickHouse refuses such an integer, so the text is written again (fitIntegers).
 */
export function integerKind(str: string, a: number, b: number): number {
  const neg = str.charCodeAt(a) === MINUS;
  const digits = b - a - (neg ? 1 : 0);
  const limit = neg ? INT64_MIN_DIGITS : UINT64_MAX_DIGITS;
  if (digits > limit.length) return INEXACT;
  const text = str.slice(a, b);
  if (digits === limit.length && (neg ? text.slice(1) : text) > limit) return INEXACT;
  return String(Number(text)) === text ? EXACT : WIDE;
}

/** A copy of `a` twice its length (the scanner's tables grow so, and are kept). */
function doubled(a: Int32Array): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(a.length * 2);
  bigger.set(a);
  return bigger;
}

/** Wide integers of the TEXT object being scanned (start, end pairs), for wideText. */
var wide = new Int32Array(16);
var wideTop = 0;

function noteWide(a: number, b: number): void {
  if (wideTop + 2 > wide.length) wide = doubled(wide);
  wide[wideTop++] = a;
  wide[wideTop++] = b;
}

/** Any JSON value at pos, checked and skipped (canonical flag kept up to date). */
function scanValue(depth: number): boolean {
  const str = s;
  const u = units;
  if (pos >= str.length) return false;
  const c = u[pos]!;
  if (c === QUOTE) return scanString();
  if (c === LBRACE) return scanObject(depth);
  if (c === LBRACKET) return scanArray(depth);
  if (c === 116) return literal('true');
  if (c === 102) return literal('false');
  if (c === 110) return literal('null');
  return scanNumber();
}

function scanArray(depth: number): boolean {
  const str = s;
  const u = units;
  if (depth > MAX_DEPTH) return false;
  const n = str.length;
  pos++;
  skipInnerWs();
  if (pos < n && u[pos]! === RBRACKET) {
    pos++;
    return true;
  }
  for (;;) {
    if (!scanValue(depth + 1)) return false;
    skipInnerWs();
    if (pos >= n) return false;
    const c = u[pos++]!;
    if (c === RBRACKET) return true;
    if (c !== COMMA) return false;
    skipInnerWs();
  }
}

/**
 * An object at pos. At depth 1 while collecting (a JsonText's own members) it also notes the
 * members normalizeEvent reads.
 */
function scanObject(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  const base = keyTop;
  const ok = scanMembers(depth, collect && depth === 1);
  keyTop = base;
  return ok;
}

function scanMembers(depth: number, note: boolean): boolean {
  const str = s;
  const u = units;
  const n = str.length;
  const base = keyTop;
  pos++;
  skipInnerWs();
  if (pos < n && u[pos]! === RBRACE) {
    pos++;
    return true;
  }
  for (;;) {
    if (pos >= n || u[pos]! !== QUOTE) return false;
    const ks = pos;
    if (!scanString()) return false;
    const kl = pos - ks;
    // An escaped name is never canonical here (the object is then parsed on its own).
    if (escaped) canonical = false;
    else if (canonical) noteKey(ks, kl, base);
    skipInnerWs();
    if (pos >= n || u[pos]! !== COLON) return false;
    pos++;
    skipInnerWs();
    const vs = pos;
    if (!scanValue(depth + 1)) return false;
    if (note) member(ks, kl, vs);
    skipInnerWs();
    if (pos >= n) return false;
    const c = u[pos++]!;
    if (c === RBRACE) return true;
    if (c !== COMMA) return false;
    skipInnerWs();
  }
}

/**
 * Records a member name of the object whose names start at `base`; clears `canonical` for a
 * name JSON.parse + stringify would not keep in place: a repeated one (the last value wins, at
 * the first one's place), one that starts with a digit (integer-like names move to the front).
 */
function noteKey(ks: number, kl: number, base: number): void {
  const u = units;
  const first = u[ks + 1]!;
  if (first >= ZERO && first <= NINE) {
    canonical = false;
    return;
  }
  if ((keyTop - base) >> 1 >= MAX_KEYS_CHECKED) {
    canonical = false;
    return;
  }
  for (let i = base; i < keyTop; i += 2) {
    if (keys[i + 1] !== kl) continue;
    const other = keys[i]!;
    let j = 1;
    while (j < kl - 1 && u[other + j]! === u[ks + j]!) j++;
    if (j === kl - 1) {
      canonical = false;
      return;
    }
  }
  if (keyTop + 2 > keys.length) keys = doubled(keys);
  keys[keyTop++] = ks;
  keys[keyTop++] = kl;
}

/** A member `s[ks, ks+kl)` (a quoted name) of the object being collected; its value starts at vs, ends at pos. */
function member(ks: number, kl: number, vs: number): void {
  const byLast = shapePicks[kl];
  if (byLast !== undefined) {
    const candidates = byLast[units[ks + kl - 2]! & 31];
    if (candidates !== undefined) pick(candidates, ks, kl, vs);
  }
  // Names are compared on the quoted text: "ip" is 4 characters, "name" 6, "category" 10, "groupId" 9.
  // Repeated names make the object not canonical, so the order of these writes does not matter.
  if (kl === 4) {
    if (nameIs(ks, IP)) mHasIp = true;
  } else if (kl === 6) {
    if (nameIs(ks, NAME)) mName = stringValue(vs);
  } else if (kl === 10) {
    if (nameIs(ks, CATEGORY)) mCategory = stringValue(vs);
  } else if (kl === 9) {
    if (nameIs(ks, GROUP_ID)) {
      const c = units[vs]!;
      mGroupId = c === QUOTE ? stringValue(vs) : c === MINUS || (c >= ZERO && c <= NINE) ? numberValue(vs) : undefined;
    }
  }
}

/**
 * Whether the quoted name at ks (of word's length) is word. A loop, not startsWith: a builtin call
 * costs more than these few units (startsWith of member names was ~4 % of the edge under batches).
 */
function nameIs(ks: number, word: Uint16Array): boolean {
  const u = units;
  const at = ks + 1;
  for (let j = 0; j < word.length; j++) if (u[at + j]! !== word[j]!) return false;
  return true;
}

const IP = unitsOf('ip');
const NAME = unitsOf('name');
const CATEGORY = unitsOf('category');
const GROUP_ID = unitsOf('groupId');

/** The number that ends at pos and starts at vs, as an id reads it: a wide integer as its digits. */
function numberValue(vs: number): number | string {
  const t = s.slice(vs, pos);
  return wideTop !== 0 && wide[wideTop - 2] === vs ? t : Number(t);
}

/** The string value that ends at pos and starts at vs, or undefined when it is not a string. */
function stringValue(vs: number): string | undefined {
  if (units[vs]! !== QUOTE) return undefined;
  const raw = s.slice(vs, pos);
  return raw.indexOf('\\') < 0 ? raw.slice(1, -1) : (JSON.parse(raw) as string);
}

/** Notes the member s[ks, pos) when its name is one of `candidates` (indices in shape.picks). */
function pick(candidates: number[], ks: number, kl: number, vs: number): void {
  for (let c = 0; c < candidates.length; c++) {
    const slot = candidates[c]!;
    if (!nameIs(ks, shape.pickUnits[slot]!)) continue;
    if (4 * pickCount + 4 > picks.length) picks = doubled(picks);
    const at = 4 * pickCount++;
    picks[at] = slot;
    picks[at + 1] = ks;
    picks[at + 2] = vs;
    picks[at + 3] = pos;
    return;
  }
}

/**
 * The canonical object s[base, base + text.length) as a PickedText: its picked members' values
 * (JSON.parse's), and its text without the dropped ones. Canonical text has no whitespace and no
 * repeated names, so each member is `"name":value` and members are joined by single commas.
 */
function pickedText(text: string, base: number): PickedText {
  const values = pickValues;
  // The kept runs of members between the dropped ones, as [start, end) in `text` (the braces
  // excluded); each run but the last ends with its comma.
  let runs = 0;
  let from = 1;
  for (let i = 0; i < pickCount; i++) {
    const at = 4 * i;
    const slot = picks[at]!;
    const vs = picks[at + 2]!;
    const ve = picks[at + 3]!;
    values[slot] =
      wideTop === 0 ? valueAt(vs, ve)
      : shape.idPick[slot] === 1 && hasWideIn(vs, vs + 1) ? s.slice(vs, ve)
      : shape.objectPick[slot] === 1 && units[vs]! === LBRACE && hasWideIn(vs, ve) ? objectTextOf(s.slice(vs, ve))
      : valueAt(vs, ve);
    if (shape.dropped[slot] === 1) {
      keptRuns[2 * runs] = from;
      keptRuns[2 * runs++ + 1] = picks[at + 1]! - base;
      from = ve - base;
      if (text.charCodeAt(from) === COMMA) from++;
    }
  }
  const picked = shape.pickedOf(values);
  for (let i = 0; i < pickCount; i++) values[picks[4 * i]!] = undefined;
  return new PickedText(text, mCategory, mName, mGroupId, mHasIp, picked, textPlain, runs === 0 ? null : keptText(text, runs, from));
}

/** Whether a wide integer of the TEXT object being scanned lies in [vs, ve). */
function hasWideIn(vs: number, ve: number): boolean {
  for (let i = 0; i < wideTop; i += 2) if (wide[i]! >= vs && wide[i]! < ve) return true;
  return false;
}

/**
 * A member's object, written as JSON.stringify would but for its wide integers (it lies in a TEXT
 * object the scanner kept), as a JsonText of that text, its facts read from its parsed value.
 */
function objectTextOf(text: string): JsonText {
  return withFacts(text, JSON.parse(text) as Record<string, unknown>, []);
}

/** A marker standing for the wide integer of that index in wideText's text, as JSON.stringify writes it. */
const MARKER = /"\\u0000(\d+)"/g;
/** A character a PickedText's text is not plain with (see PickedText.plain): SPECIAL's, tested once. */
const NOT_PLAIN = new RegExp(SPECIAL.source);

/**
 * The object s[base, base + text.length), which is not canonical and holds wide integers (noted
 * by scanNumber), as JSON.parse + JSON.stringify would make it but with those integers as sent.
 * Rare (a Python or Go SDK sending a 64-bit id inside properties), so not written for speed:
 * each wide integer is swapped for a marker string ("\u0000" and its index: NUL then digits, which
 * no string of the sender's holds, checked), the text parsed and written as for any other object, and the
 * markers' JSON swapped back for the digits. Parsing stays JSON.parse's own (repeated names,
 * the order of integer-like names); only the digits are kept.
 */
function wideText(text: string, base: number): JsonText | Record<string, unknown> {
  // A string of the sender's that could read as a marker: read as any other object (rounded).
  if (!unmistakable(text)) return JSON.parse(text) as Record<string, unknown>;
  const digits: string[] = [];
  const obj = JSON.parse(marked(text, base, digits)) as Record<string, unknown>;
  const written = wideJsonText(obj, digits);
  if (shape.picks.length === 0) return written;
  // Picked values are read as JSON.parse reads them (wide integers rounded), as on every other
  // path: from the text as sent.
  const plain = JSON.parse(text) as Record<string, unknown>;
  // An id's wide integer (idPicks) is its digits; an object a translation stores (objectPicks),
  // its text with them.
  const values = shape.picks.map((p, i) => {
    if (!Object.hasOwn(plain, p)) return undefined;
    const m = obj[p];
    if (shape.idPick[i] === 1 && typeof m === 'string' && isMarker(m)) return digits[Number(m.slice(1))];
    if (shape.objectPick[i] === 1 && typeof m === 'object' && m !== null && !Array.isArray(m)) return wideJsonText(m as Record<string, unknown>, digits);
    return plain[p];
  });
  let dropped = false;
  for (let i = 0; i < shape.picks.length; i++) {
    if (shape.dropped[i] === 1 && Object.hasOwn(obj, shape.picks[i]!)) {
      delete obj[shape.picks[i]!];
      dropped = true;
    }
  }
  const out = written.text;
  const { category, name, groupId, hasIp } = written;
  return new PickedText(out, category, name, groupId, hasIp, shape.pickedOf(values), !NOT_PLAIN.test(out), dropped ? writeWide(obj, digits) : null);
}

/**
 * `text`, whose wide integers the scanner noted (from `base` in s on), with each one as a marker
 * string; their digits are pushed on `digits` (a marker's number is its index there).
 */
function marked(text: string, base: number, digits: string[]): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < wideTop; i += 2) {
    const a = wide[i]! - base;
    out += `${text.slice(from, a)}"\\u0000${digits.length}"`;
    from = wide[i + 1]! - base;
    digits.push(text.slice(a, from));
  }
  return out + text.slice(from);
}

/** A run of digits as long as the shortest wide integer's (2^53 + 1). */
const WIDE_DIGITS = /\d{16}/;

/**
 * Whether `v` is kept as text that may hold an integer past 2^53 (a run of 16 digits): only then
 * must a merge go through the text (overlaid) to keep its digits. One search, no allocation.
 */
export function mayHoldWide(v: object): v is JsonText {
  return v instanceof JsonText && WIDE_DIGITS.test(v.text);
}

/**
 * A JSON value holding wide integers, for a translation that builds its own objects of it
 * (Snowplow's self-describing JSON inside a string, merged traits): JSON.parse's value with each
 * wide integer as a marker string (isWideMarker) whose digits writeWide and wideJsonText write
 * back; the digits are pushed on `digits`, which several reads may share. undefined when the
 * text holds no wide integer, or is not one JSON value this scanner reads, or holds a NUL then a digit
 * (which could be taken for a marker): then JSON.parse it as usual. Rare, not written for speed:
 * one scan, one JSON.parse.
 */
export function readWide(text: string, digits: string[]): unknown {
  // A wide integer has 16 digits or more: most texts are not even scanned.
  if (!WIDE_DIGITS.test(text) || !unmistakable(text)) return undefined;
  useText(text, undefined);
  try {
    return markedValue(text, digits);
  } finally {
    doneWithText();
  }
}

function markedValue(text: string, digits: string[]): unknown {
  pos = 0;
  keyTop = 0;
  wideTop = 0;
  collect = false;
  canonical = true;
  use(SEGMENT);
  special = nextSpecial(0);
  skipWs();
  const start = pos;
  if (!scanValue(1)) return undefined;
  const end = pos;
  skipWs();
  if (pos !== text.length || wideTop === 0) return undefined;
  return JSON.parse(text.slice(0, start) + marked(text.slice(start, end), start, digits) + text.slice(end));
}

/**
 * Whether no string of the sender's in `text` (a key or a value) could be taken for a marker by
 * writeWide or isMarker: none holds a NUL followed by a digit, which JSON writes only as `\u0000`
 * then a digit or its `\u003N` escape. Before, any escaped NUL in an object rounded its wide
 * integers, which the contract keeps; now only such a string does (docs/contract.md). One search.
 */
function unmistakable(text: string): boolean {
  return !SENDER_MARKER.test(text);
}
const SENDER_MARKER = /\\u0000(?:\d|\\u003\d)/;

/** A value from readWide (or built of such values) as the ingest stores it, its wide integers as sent. */
export function writeWide(v: unknown, digits: readonly string[]): string {
  const text = stringify(v);
  return digits.length === 0 ? text : text.replace(MARKER, (_, i: string) => digits[Number(i)]!);
}

/** An object from readWide (or built of such values) as a JsonText (see writeWide), with its facts. */
export function wideJsonText(obj: Record<string, unknown>, digits: readonly string[]): JsonText {
  return withFacts(writeWide(obj, digits), obj, digits);
}

/** `text` as a JsonText with the facts of `obj`, its value (a groupId's marker read as its digits). */
function withFacts(text: string, obj: Record<string, unknown>, digits: readonly string[]): JsonText {
  const g = obj.groupId;
  // Facts as the written text reads back: -0 is written 0.
  const groupId = typeof g === 'number' ? (g === 0 ? 0 : g) : typeof g === 'string' ? (isMarker(g) ? (digits[Number(g.slice(1))] ?? g) : g) : undefined;
  return new JsonText(text, plainString(obj.category), plainString(obj.name), groupId, 'ip' in obj);
}

/** Whether a value of readWide's is a wide integer's marker (not the string it looks like). */
export function isWideMarker(v: unknown): boolean {
  return typeof v === 'string' && isMarker(v);
}

/**
 * `over` laid over `under` (a translation's `$set` over `$set_once`): either alone as it is; both as
 * `{...under, ...over}`, through mergedText when either is kept as text (its wide integers as sent).
 */
export function overlaid(under: object | undefined, over: object | undefined): object | undefined {
  if (under === undefined) return over;
  if (over === undefined) return under;
  return under instanceof JsonText || over instanceof JsonText ? mergedText([under, over]) : { ...under, ...over };
}

/**
 * `{...parts[0], ...parts[1], ...}` as a JsonText, the wide integers of the JsonText parts kept
 * as sent (a translation's merged traits: $set over $set_once). Rare, not written for speed.
 */
export function mergedText(parts: readonly (object | undefined)[]): JsonText {
  const digits: string[] = [];
  // A part's string that could be taken for a marker: then no part is marked (rounded).
  let marks = true;
  for (const p of parts) if (p !== undefined && !unmistakable(p instanceof JsonText ? p.text : JSON.stringify(p))) marks = false;
  let out: Record<string, unknown> = {};
  for (const p of parts) {
    if (p === undefined) continue;
    const o = p instanceof JsonText ? ((marks ? readWide(p.text, digits) : undefined) ?? JSON.parse(p.text)) : p;
    out = { ...out, ...(o as Record<string, unknown>) };
  }
  return wideJsonText(out, digits);
}

/** A marker: NUL and digits (unmistakable() sees that no string of the sender's is one). */
function isMarker(v: string): boolean {
  return v.charCodeAt(0) === 0 && MARKER_TEXT.test(v);
}
const MARKER_TEXT = /^\u0000\d+$/;

function plainString(v: unknown): string | undefined {
  return typeof v === 'string' && !isMarker(v) ? v : undefined;
}

/**
 * `text` without its dropped members: the runs noted by pickedText and the last one from `from`,
 * as few slices of `text` as can be (its braces included in them), read on `text` itself (a
 * string built of pieces would be copied into one by the first read of a character).
 */
function keptText(text: string, runs: number, from: number): string {
  const end = text.length - 1;
  keptRuns[2 * runs] = from;
  keptRuns[2 * runs++ + 1] = end;
  // The last run that is not empty drops its comma (when the member after it was dropped).
  let last = runs - 1;
  while (last >= 0 && keptRuns[2 * last]! === keptRuns[2 * last + 1]!) last--;
  if (last < 0) return '{}';
  if (text.charCodeAt(keptRuns[2 * last + 1]! - 1) === COMMA) keptRuns[2 * last + 1]!--;
  let out = '';
  let first = true;
  for (let r = 0; r <= last; r++) {
    let a = keptRuns[2 * r]!;
    let b = keptRuns[2 * r + 1]!;
    if (a === b) continue;
    if (first && a === 1) a = 0; // with its opening brace
    if (r === last && b === end) b = end + 1; // with its closing brace
    out += text.slice(a, b);
    first = false;
  }
  if (keptRuns[0]! !== 1 || keptRuns[1]! === 1) out = `{${out}`;
  if (keptRuns[2 * last + 1]! !== end) out += '}';
  return out;
}

/** The value s[vs, ve) (checked JSON) as JSON.parse reads it. */
function valueAt(vs: number, ve: number): unknown {
  const c = units[vs]!;
  if (c === QUOTE) {
    if (textPlain) return s.slice(vs + 1, ve - 1);
    const raw = s.slice(vs, ve);
    return raw.indexOf('\\') < 0 ? raw.slice(1, -1) : JSON.parse(raw);
  }
  if (c === 116) return true;
  if (c === 102) return false;
  if (c === 110) return null;
  if (c === LBRACE || c === LBRACKET) return JSON.parse(s.slice(vs, ve));
  return Number(s.slice(vs, ve));
}
