// Event times: a strict ISO 8601 reader and the range ClickHouse can store.
//
// Hand-written rather than Date.parse: Date.parse also accepts engine-specific forms
// ("March 7 2020", "2020/03/07") that other readers of the data would not, and this runs for
// every event (twice with sentAt), so it reads the characters once with no regex or allocation.

/** ClickHouse DateTime64(3) holds 1900-01-01 00:00:00.000 to 2299-12-31 23:59:59.999 UTC. */
export const MIN_TIME_MS = Date.UTC(1900, 0, 1);
export const MAX_TIME_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);

const GREGORIAN_CYCLE_MS = 146_097 * 86_400_000;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Reads `YYYY-MM-DD`, optionally followed by `T` (or a space) `hh:mm[:ss[.fraction]]` and a zone
 * (`Z`, `+hh:mm`, `+hhmm`, `+hh`; none means UTC). Returns Unix milliseconds, or NaN when the text
 * is not such a time. Digits beyond milliseconds are dropped (not rounded), as ClickHouse does.
 */
export function parseIsoTime(s: string): number {
  const n = s.length;
  if (n < 10 || n > 40) return NaN;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return NaN;
  if (day > DAYS_IN_MONTH[month - 1]! || (month === 2 && day === 29 && !isLeap(year))) return NaN;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let ms = 0;
  let i = 10;
  if (i < n) {
    const sep = s.charCodeAt(i);
    if (sep !== 84 && sep !== 116 && sep !== 32) return NaN; // T, t, space
    hour = digits(s, i + 1, 2);
    minute = digits(s, i + 4, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || s.charCodeAt(i + 3) !== 58) return NaN;
    i += 6;
    if (i < n && s.charCodeAt(i) === 58) {
      second = digits(s, i + 1, 2);
      if (second < 0 || second > 59) return NaN;
      i += 3;
      if (i < n && (s.charCodeAt(i) === 46 || s.charCodeAt(i) === 44)) {
        i++;
        const start = i;
        let scale = 100;
        while (i < n) {
          const c = s.charCodeAt(i) - 48;
          if (c < 0 || c > 9) break;
          ms += c * scale;
          scale /= 10;
          i++;
        }
        if (i === start) return NaN;
        ms = Math.floor(ms);
      }
    }
  }
  let offsetMin = 0;
  if (i < n) {
    const z = s.charCodeAt(i);
    if (z === 90 || z === 122) {
      i++;
    } else if (z === 43 || z === 45) {
      const oh = digits(s, i + 1, 2);
      if (oh < 0 || oh > 23) return NaN;
      let om = 0;
      i += 3;
      if (i < n) {
        if (s.charCodeAt(i) === 58) i++;
        om = digits(s, i, 2);
        if (om < 0 || om > 59) return NaN;
        i += 2;
      }
      offsetMin = (z === 43 ? 1 : -1) * (oh * 60 + om);
    } else {
      return NaN;
    }
  }
  if (i !== n) return NaN;
  // Date.UTC reads years 0-99 as 1900-1999; shift such years by 400 (a whole Gregorian cycle).
  const early = year < 100;
  const utc = Date.UTC(early ? year + 400 : year, month - 1, day, hour, minute, second, ms);
  return (early ? utc - GREGORIAN_CYCLE_MS : utc) - offsetMin * 60_000;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function inStorableRange(ms: number): boolean {
  return ms >= MIN_TIME_MS && ms <= MAX_TIME_MS;
}
