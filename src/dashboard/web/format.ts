// How numbers and times read on the page. Pure, no DOM.
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : integer.format(n);
}

/** A count and its noun, the noun singular for 1: "1 row", "1,234 rows". */
export function fmtCount(n: number, noun: string): string {
  return `${integer.format(n)} ${n === 1 ? noun : `${noun}s`}`;
}

/** Events per second: two decimals under 1, one under 100, none above. */
export function fmtRate(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const a = Math.abs(n);
  return (a < 1 ? twoDecimals : a < 100 ? oneDecimal : integer).format(n);
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? integer.format(v) : oneDecimal.format(v)} ${units[u]}`;
}

/** An API time (ISO 8601, UTC) as "2026-08-01 12:34:56.789 UTC". */
export function fmtUtc(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)Z$/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

/**
 * The bounds of a from/to filter (ISO 8601 instants, null: none) as words in UTC, for a status line
 * that says what a local-time input was taken as: "" or " from 2026-08-01 07:00:00.000 UTC", etc.
 */
export function fmtUtcRange(from: string | null, to: string | null): string {
  if (from !== null && to !== null) return ` from ${fmtUtc(from)} up to ${fmtUtc(to)}`;
  if (from !== null) return ` from ${fmtUtc(from)}`;
  return to !== null ? ` before ${fmtUtc(to)}` : '';
}

/**
 * The browser's time zone as the page names it beside local times ("America/Los_Angeles"), or
 * null when the browser does not say.
 */
export function localZone(): string | null {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return typeof zone === 'string' && zone !== '' ? zone : null;
}

/**
 * A datetime-local input's value (the person's local time, no zone) as an ISO 8601 instant, or
 * null when empty or not a time.
 */
export function localInputToIso(value: string, parse: (v: string) => number = (v) => new Date(v).getTime()): string | null {
  if (value.trim() === '') return null;
  const ms = parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}
