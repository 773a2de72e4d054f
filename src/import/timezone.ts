// Times written as a zone's wall clock, read as UTC: Mixpanel's raw export of a project created
// before 2023-01-01 gives `time` as seconds since 1970 in the project's timezone, not UTC
// (https://mixpanel.com/help/reference/exporting-raw-data, "API details"), so an event at 12:00
// UTC in a US/Pacific project comes out as 04:00 "UTC". `--mixpanel-timezone` names that zone.
//
// Offsets come from Intl (tz database, DST included), cached per 15 minutes of time: every
// offset change in the database falls on a quarter hour.
import { ImportArgumentError } from './errors.js';

const QUARTER_HOUR = 15 * 60_000;
const CACHE_LIMIT = 200_000;

export class WallClockZone {
  private readonly format: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(readonly zone: string) {
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
      });
    } catch {
      throw new ImportArgumentError(`--mixpanel-timezone "${zone}": not a time zone; use the project's, as Mixpanel names it (e.g. US/Pacific, Europe/Berlin, UTC)`);
    }
  }

  /** The zone's offset from UTC (ms, east positive) at UTC time `t`. */
  offsetAt(t: number): number {
    const q = Math.floor(t / QUARTER_HOUR);
    let o = this.offsets.get(q);
    if (o === undefined) {
      const at = q * QUARTER_HOUR;
      const p: Record<string, number> = {};
      for (const part of this.format.formatToParts(at)) if (part.type !== 'literal') p[part.type] = Number(part.value);
      const year = p.year!;
      // Date.UTC maps years 0-99 to 1900-1999: set the year apart.
      const d = new Date(Date.UTC(2000, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!));
      d.setUTCFullYear(year);
      o = d.getTime() - at;
      if (this.offsets.size >= CACHE_LIMIT) this.offsets.clear();
      this.offsets.set(q, o);
    }
    return o;
  }

  /**
   * The UTC time whose wall clock in the zone reads `wall` (ms, read as if UTC). In the hour a
   * DST change repeats, the earlier of the two; in the hour it skips, the time an hour on.
   */
  toUtc(wall: number): number {
    const first = wall - this.offsetAt(wall);
    const second = wall - this.offsetAt(first);
    if (second === first) return first;
    // Across a change: the candidate whose wall clock matches, preferring the earlier.
    const a = Math.min(first, second);
    const b = Math.max(first, second);
    if (a + this.offsetAt(a) === wall) return a;
    if (b + this.offsetAt(b) === wall) return b;
    return b;
  }
}

/** Checks `--mixpanel-timezone` on the command line: a zone Intl knows, with a Mixpanel format. */
export function checkMixpanelTimezone(zone: string, format: string): void {
  new WallClockZone(zone);
  if (format !== 'mixpanel') throw new ImportArgumentError(`--mixpanel-timezone applies to --format mixpanel only (not ${format})`);
}
