// An input's items, in batches: NDJSON lines, the elements of a JSON array, or CSV records. An
// item's position (0-based) is what the checkpoint counts, so a resumed import skips the first
// `skip` items without parsing them.
//
// Hot path: a decompressed chunk is decoded to text once and cut at '\n' with indexOf; items
// are handed over in arrays (one await per chunk, not per line). The decoding goes through a
// StringDecoder, so a character whose UTF-8 bytes straddle two chunks is kept whole. A byte order
// mark at the start of an input (Windows tools write one) is not part of the first item.
import { StringDecoder } from 'node:string_decoder';
import { parse as csvParse } from 'csv-parse';
import { REJECT_VALUE_BYTES } from '../ingest/rejects.js';
import { ImportInputError } from './errors.js';

export interface Item {
  pos: number;
  /** The item's text as read (NDJSON line, CSV line), or undefined for a JSON array element. */
  text: string | undefined;
  /** The parsed value when the reader parsed it (JSON array elements, CSV records). */
  value?: unknown;
  /** A line longer than MAX_LINE_CHARS: its UTF-8 bytes; `text` is then only its start. */
  tooLong?: number;
}

export type ItemKind = 'json' | 'csv';

const ARRAY_PROBE_BYTES = 64;

/**
 * A JSON array input is read whole (its text, then its parse): beyond this V8's strings and the
 * memory give out (over 512 MB the read crashed), so a larger one is refused, NDJSON is streamed.
 */
export const MAX_ARRAY_BYTES = 256 * 1024 * 1024;
/** A longer NDJSON line (no event or batch is this large) becomes an item with its start only. */
export const MAX_LINE_CHARS = 64 * 1024 * 1024;
/** What is kept of such a line: what the rejected topic keeps of a value (its record is cut there anyway). */
const LONG_LINE_HEAD = REJECT_VALUE_BYTES;

/**
 * NDJSON, a JSON array (told by its first non-blank character, '['), or one JSON value written
 * over many lines (first non-blank character '{' and a first line that is not JSON on its own), or
 * several such values one after another (`jq .` of an NDJSON file), each an item.
 * A BOM and whitespace before the first character are skipped.
 */
export async function* jsonItems(stream: AsyncIterable<Buffer>, skip: number): AsyncGenerator<Item[]> {
  const it = stream[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLen = 0;
  let firstChar = '';
  let done = false;
  while (firstChar === '' && !done) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    head.push(r.value);
    headLen += r.value.length;
    const m = /\S/.exec(Buffer.concat(head).subarray(0, Math.max(ARRAY_PROBE_BYTES, headLen)).toString('utf8'));
    if (m) firstChar = m[0];
  }
  async function* rest(): AsyncGenerator<Buffer> {
    for (const b of head) yield b;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  if (firstChar === '{') {
    // NDJSON when its first line is a JSON value (streamed, as before); else a saved API answer
    // or a pretty-printed object (`jq . > out.json`), read whole as one JSON value when it parses
    // as one. Only the first line is held to tell: an NDJSON input is not read into memory.
    let nl = -1;
    for (let i = 0; i < head.length && nl < 0; i++) {
      const at = head[i]!.indexOf(0x0a);
      if (at >= 0) nl = head.slice(0, i).reduce((n, b) => n + b.length, 0) + at;
    }
    while (nl < 0 && !done && headLen <= MAX_LINE_CHARS) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      const at = r.value.indexOf(0x0a);
      if (at >= 0) nl = headLen + at;
      head.push(r.value);
      headLen += r.value.length;
    }
    if (nl < 0 && headLen > MAX_LINE_CHARS) {
      // A first line this long is rejected as an NDJSON line is (event_too_large).
      yield* lineItems(rest(), skip);
      return;
    }
    const first = Buffer.concat(head);
    if (parses(withoutBom(first.subarray(0, nl < 0 ? first.length : nl).toString('utf8')))) {
      yield* lineItems(rest(), skip);
      return;
    }
    const text = await wholeText(rest(), 'a JSON input written over many lines (its first line is not JSON on its own)', "jq -c '.results[]' in.json > out.ndjson, or '.batch[]'");
    if (parses(text)) {
      // Its text, as an NDJSON line is handed over: the encoder's readers keep 64-bit integers as
      // sent (JSON.parse's value rounds them). A list inside it (`results`, `batch`) is the
      // format's to read, as on one line.
      if (skip === 0) yield [{ pos: 0, text: text.trim() }];
      return;
    }
    // Several values one after another (`jq . events.ndjson > out.json`, `jq --seq`): each an item.
    const values = sequenceTexts(text);
    if (values !== null) {
      const out: Item[] = [];
      for (let i = skip; i < values.length; i++) {
        out.push({ pos: i, text: values[i]! });
        if (out.length === 4096) yield out.splice(0);
      }
      if (out.length > 0) yield out;
      return;
    }
    // Broken NDJSON: its lines are rejected one by one, with their positions.
    yield* textLines(text, skip);
    return;
  }
  if (firstChar === '[') {
    const text = await wholeText(rest(), 'a JSON array input', "jq -c '.[]' in.json > out.ndjson");
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined; // NDJSON whose first line is an array (a batch per line)
    }
    if (Array.isArray(value)) {
      // Each element as its text, as an NDJSON line is handed over: the encoder reads it with the
      // edge's readers, which keep 64-bit integers as sent (JSON.parse's value rounds them), and a
      // rejected element is sent as it was written. The parse above is the check that the text is
      // one array, as before.
      const texts = elementTexts(text);
      const whole = texts !== null && texts.length === value.length;
      const out: Item[] = [];
      for (let i = skip; i < value.length; i++) {
        out.push(whole ? { pos: i, text: texts[i] } : { pos: i, text: undefined, value: value[i] });
        if (out.length === 4096) yield out.splice(0);
      }
      if (out.length > 0) yield out;
      return;
    }
    yield* textLines(text, skip);
    return;
  }
  yield* lineItems(rest(), skip);
}

/** An input read whole (a JSON array, or one JSON value): its text without a BOM; refused past MAX_ARRAY_BYTES. */
async function wholeText(stream: AsyncIterable<Buffer>, what: string, instead: string): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const b of stream) {
    parts.push(b);
    size += b.length;
    if (size > MAX_ARRAY_BYTES) {
      throw new ImportInputError(
        `${what} may hold at most ${MAX_ARRAY_BYTES / 1024 / 1024} MB (it is read whole); give larger ones as NDJSON, one event per line (${instead})`,
      );
    }
  }
  return withoutBom(Buffer.concat(parts).toString('utf8'));
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The elements of `text`, one JSON array (checked by JSON.parse), as their texts without the
 * whitespace around them; null if it does not read as one. A walk over its characters that only
 * tracks strings and nesting.
 */
export function elementTexts(text: string): string[] | null {
  const out: string[] = [];
  let i = text.indexOf('[');
  if (i < 0) return null;
  let depth = 0;
  let start = -1;
  const push = (end: number) => {
    const element = text.slice(start, end).trim();
    if (element !== '') out.push(element);
  };
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Past the string: its closing quote is the first one not escaped.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (depth++ === 0) start = i + 1;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (--depth === 0) {
        push(i);
        return text.slice(i + 1).trim() === '' ? out : null;
      }
    } else if (c === 0x2c /* , */ && depth === 1) {
      push(i);
      start = i + 1;
    }
  }
  return null;
}

/**
 * The JSON objects and arrays of `text` written one after another, with whitespace (or RFC 7464's
 * record separator) between them, as their texts; null unless there are several and each parses.
 * The same walk as elementTexts, at the top level.
 */
export function sequenceTexts(text: string): string[] | null {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (depth === 0) {
      if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        start = i;
        depth = 1;
      } else if (!(c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x1e)) {
        return null;
      }
    } else if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if ((c === 0x7d /* } */ || c === 0x5d /* ] */) && --depth === 0) {
      const value = text.slice(start, i + 1);
      if (!parses(value)) return null;
      out.push(value);
    }
  }
  return depth === 0 && out.length > 1 ? out : null;
}

/** The lines of a text already read whole, as NDJSON items (a JSON input that is not one value after all). */
function textLines(text: string, skip: number): AsyncGenerator<Item[]> {
  return lineItems(
    (async function* () {
      yield Buffer.from(text);
    })(),
    skip,
  );
}

/**
 * NDJSON lines; blank lines are counted (positions are line numbers - 1) but not returned. The
 * start of a line is kept in pieces until its end arrives (one join per line, not per chunk); one
 * over MAX_LINE_CHARS keeps only its first LONG_LINE_HEAD characters and its length.
 */
export async function* lineItems(stream: AsyncIterable<Buffer>, skip: number, maxLine = MAX_LINE_CHARS): AsyncGenerator<Item[]> {
  const decoder = new StringDecoder('utf8');
  let carry: string[] = [];
  let carried = 0;
  let carriedBytes = 0;
  let pos = 0;
  let started = false;
  const line = (tail: string): Item | null => {
    const total = carried + tail.length;
    let item: Item | null = null;
    if (pos >= skip) {
      if (total > maxLine) {
        const text = (carry.join('') + tail.slice(0, LONG_LINE_HEAD)).slice(0, LONG_LINE_HEAD);
        item = { pos, text, tooLong: carriedBytes + Buffer.byteLength(tail) };
      }
      else {
        let text = carry.length > 0 ? carry.join('') + tail : tail;
        if (text.endsWith('\r')) text = text.slice(0, -1);
        if (text.length > 0) item = { pos, text };
      }
    }
    carry = [];
    carried = carriedBytes = 0;
    pos++;
    return item;
  };
  const keep = (piece: string) => {
    // Past the bound only the length is counted: the line's start is what is kept of it.
    if (carried + piece.length <= maxLine) carry.push(piece);
    else if (carried <= maxLine) carry = [(carry.join('') + piece.slice(0, LONG_LINE_HEAD)).slice(0, LONG_LINE_HEAD)];
    carried += piece.length;
    carriedBytes += Buffer.byteLength(piece);
  };
  for await (const chunk of stream) {
    let piece = decoder.write(chunk);
    if (!started && piece.length > 0) {
      started = true;
      piece = withoutBom(piece);
    }
    const out: Item[] = [];
    let start = 0;
    for (;;) {
      const nl = piece.indexOf('\n', start);
      if (nl < 0) break;
      const it = line(piece.slice(start, nl));
      if (it !== null) out.push(it);
      start = nl + 1;
    }
    if (start < piece.length) keep(start === 0 ? piece : piece.slice(start));
    if (out.length > 0) yield out;
  }
  // Bytes of a character the input cut short come out as U+FFFD, as toString would give them.
  const end = started ? decoder.end() : withoutBom(decoder.end());
  if (end.length > 0) keep(end);
  if (carried > maxLine || carry.join('').trim().length > 0) {
    const it = line('');
    if (it !== null) yield [it];
  }
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * CSV records with a header row; each item's value is the record (column -> text) and its text
 * the record's line(s), for the rejected topic. csv-parse handles quoting, embedded newlines and
 * BOMs; positions count records, not lines.
 */
export async function* csvItems(stream: AsyncIterable<Buffer>, skip: number, delimiter: string, maxRecord = MAX_LINE_CHARS): AsyncGenerator<Item[]> {
  // A record's size is bounded as a line's is: an unclosed quote otherwise gathered the rest of
  // the input into one field, past V8's longest string.
  const parser = csvParse({ columns: true, bom: true, delimiter, skip_empty_lines: true, relax_column_count: true, raw: true, max_record_size: maxRecord });
  // Fed by hand rather than piped, so a read error (a corrupt gzip) reaches the reader below.
  void (async () => {
    try {
      for await (const b of stream) if (!parser.write(b)) await new Promise((r) => parser.once('drain', r));
      parser.end();
    } catch (err) {
      parser.destroy(err as Error);
    }
  })();
  let pos = 0;
  let out: Item[] = [];
  try {
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; raw: string }>) {
      if (pos >= skip) out.push({ pos, text: rec.raw.replace(/\r?\n$/, ''), value: rec.record });
      pos++;
      if (out.length === 1024) {
        yield out;
        out = [];
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code !== 'CSV_MAX_RECORD_SIZE') throw err;
    const line = (err as { lines?: number }).lines;
    throw new ImportInputError(`a CSV record is longer than ${maxRecord / 1024 / 1024} Mi characters by line ${line} (a quote not closed?)`, err);
  }
  if (out.length > 0) yield out;
}
