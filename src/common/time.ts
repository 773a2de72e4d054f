// Strict ISO 8601 / RFC 3339 times typed by people: the query API's `from` and `to`, and
// `trackhouse replay --from`. Shared here because query and sink never import each other.
//
// Accepted: a date (`2026-08-01`, meaning 00:00 UTC), or a date and time with an explicit zone
// (`2026-08-01T12:30:00Z`, `...+02:00`, `...-0500`, `...+02`), seconds and fraction optional,
// `T` or a space between date and time. A time without a zone is refused rather than guessed.
// A `+` sent unencoded in a query string arrives as a space; in the zone position a space is read
// as `+` so `...T10:00:00+02:00` typed into a URL still works.
//
// Events (and Kafka record times) have millisecond precision, so a finer fraction is rounded UP
// to the next millisecond, right for every bound: t >= from  <=>  t >= ceil(from), and
// t < to  <=>  t < ceil(to) for whole-millisecond t. Results are Unix milliseconds.

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+\- ]\d{2}(?::?\d{2})?)?)?$/;

/** The range of ClickHouse DateTime64: [1900-01-01, 2300-01-01). */
export const MIN_TIME_MS = Date.UTC(1900, 0, 1);
export const MAX_TIME_MS = Date.UTC(2300, 0, 1);
const RANGE = 'time out of range (1900-01-01 to 2299-12-31, UTC)';

/** Unix ms of an ISO time, or a reason it is not one. */
export function parseIsoTime(text: string): number | string {
  const m = ISO.exec(text);
  if (!m) return 'expected an ISO 8601 time such as 2026-08-01T12:00:00Z or a date such as 2026-08-01';
  const [, y, mo, d, hh, mi, ss, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  // Checked first: Date.UTC maps years 0-99 to 1900-1999.
  if (year < 1900 || year > 2299) return RANGE;
  if (month < 1 || month > 12) return 'month out of range';
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return 'day out of range';
  let ms = Date.UTC(year, month - 1, day);
  if (hh !== undefined) {
    if (zone === undefined) return 'a time needs a zone: end it with Z or an offset such as +02:00';
    const h = Number(hh);
    const min = Number(mi);
    const s = ss === undefined ? 0 : Number(ss);
    if (h > 23 || min > 59 || s > 59) return 'time of day out of range';
    ms += ((h * 60 + min) * 60 + s) * 1000;
    if (frac !== undefined) {
      const nanos = Number(frac.padEnd(9, '0'));
      ms += Math.ceil(nanos / 1_000_000);
    }
    if (zone !== 'Z' && zone !== 'z') {
      const sign = zone!.startsWith('-') ? -1 : 1;
      const digits = zone!.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
      if (oh > 23 || om > 59) return 'zone offset out of range';
      ms -= sign * (oh * 60 + om) * 60_000;
    }
  }
  if (ms < MIN_TIME_MS || ms >= MAX_TIME_MS) return RANGE;
  return ms;
}
