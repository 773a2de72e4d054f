// Answering a page from a user's window: the newest rows of one user, as ClickHouse returned them
// (newest first, exact duplicates included), plus whether they are all of the user's rows.
//
// A page is the first limit + 1 rows matching the request, in (timestamp DESC, event_id DESC)
// order; the SQL path gets exactly those from ClickHouse. Scanning the window in the same order
// with the same predicates gives the same rows whenever the answer is decided inside the window:
// - limit + 1 matches were found (every row newer than the window's oldest is in the window), or
// - the scan reached rows older than `from` (nothing further can match), or
// - the window holds all of the user's rows.
// Otherwise the answer needs older rows and the caller asks ClickHouse. The comparisons match
// ClickHouse's: timestamps are whole milliseconds, strings compare by UTF-8 bytes.

export interface EventRow {
  /** Unix ms. */
  readonly ts: number;
  readonly id: string;
  readonly type: string;
  readonly event: string;
  /** The event's reply JSON object, rendered once. */
  readonly json: Buffer;
}

export interface UserWindow {
  /** Newest first. */
  readonly rows: readonly EventRow[];
  /** True when `rows` are all of the user's rows. */
  readonly complete: boolean;
}

export interface PageQuery {
  from: number | null;
  to: number | null;
  type: string | null;
  event: string | null;
  limit: number;
  cursor: { ts: number; id: string } | null;
}

/**
 * Order of two strings by their UTF-8 bytes, as ClickHouse compares Strings. JavaScript's `<`
 * compares UTF-16 code units, which disagrees for code points above U+FFFF (surrogates,
 * D800-DFFF) against U+E000-U+FFFF: in UTF-8 the former sort last.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/** The rows of the page (at most limit + 1), or null when the window cannot decide them. */
export function pageFromWindow(w: UserWindow, q: PageQuery): EventRow[] | null {
  const want = q.limit + 1;
  const out: EventRow[] = [];
  const c = q.cursor;
  for (const row of w.rows) {
    if (q.from !== null && row.ts < q.from) return out;
    if (c !== null && (row.ts > c.ts || (row.ts === c.ts && compareUtf8(row.id, c.id) >= 0))) continue;
    if (q.to !== null && row.ts >= q.to) continue;
    if (q.type !== null && row.type !== q.type) continue;
    if (q.event !== null && row.event !== q.event) continue;
    out.push(row);
    if (out.length === want) return out;
  }
  return w.complete ? out : null;
}

/** Newest first, as ClickHouse orders a user's rows: timestamp DESC, event_id DESC (UTF-8). */
function newerFirst(a: EventRow, b: EventRow): number {
  return b.ts - a.ts || compareUtf8(b.id, a.id);
}

/**
 * The window after the user's new rows landed, as a fresh load would give it: the rows merged in
 * their place. A partial window holds the user's newest rows, so a new row older than all of them
 * is not among them and stays out. Past `maxRows` the oldest rows are let go (the window is then
 * partial).
 */
export function mergeIntoWindow(w: UserWindow, added: EventRow[], maxRows: number): UserWindow {
  added.sort(newerFirst);
  const oldest = w.rows[w.rows.length - 1];
  const rows: EventRow[] = [];
  let i = 0;
  let j = 0;
  while (i < w.rows.length || j < added.length) {
    const a = w.rows[i];
    const b = added[j];
    if (b === undefined || (a !== undefined && newerFirst(a, b) <= 0)) {
      rows.push(a!);
      i++;
    } else {
      if (!w.complete && (oldest === undefined || newerFirst(b, oldest) > 0)) break;
      rows.push(b);
      j++;
    }
  }
  // What remains of the window (when a new row older than it ended the loop) was all kept.
  while (i < w.rows.length) rows.push(w.rows[i++]!);
  if (rows.length > maxRows) return { rows: rows.slice(0, maxRows), complete: false };
  return { rows, complete: w.complete };
}
