import { describe, expect, it } from 'vitest';
import { checkMixpanelTimezone, WallClockZone } from './timezone.js';

const utc = (wall: string, zone: string) => new Date(new WallClockZone(zone).toUtc(Date.parse(`${wall}Z`))).toISOString();

describe('wall clock times of a zone', () => {
  it('are read as UTC with the zone\'s offset at that time, DST included', () => {
    expect(utc('2020-10-13T10:48:31', 'US/Pacific')).toBe('2020-10-13T17:48:31.000Z');
    expect(utc('2020-01-15T04:00:00', 'US/Pacific')).toBe('2020-01-15T12:00:00.000Z');
    expect(utc('2024-07-01T14:00:00', 'Europe/Berlin')).toBe('2024-07-01T12:00:00.000Z');
    expect(utc('2024-07-01T14:00:00', 'Asia/Kathmandu')).toBe('2024-07-01T08:15:00.000Z');
    expect(utc('2024-07-01T14:00:00', 'UTC')).toBe('2024-07-01T14:00:00.000Z');
    // The hour DST repeats: the earlier time; the hour it skips: an hour on.
    expect(utc('2021-11-07T01:30:00', 'US/Pacific')).toBe('2021-11-07T08:30:00.000Z');
    expect(utc('2021-11-07T00:59:59', 'US/Pacific')).toBe('2021-11-07T07:59:59.000Z');
    expect(utc('2021-11-07T02:00:00', 'US/Pacific')).toBe('2021-11-07T10:00:00.000Z');
    expect(utc('2021-03-14T02:30:00', 'US/Pacific')).toBe('2021-03-14T10:30:00.000Z');
    expect(utc('2021-03-14T03:00:00', 'US/Pacific')).toBe('2021-03-14T10:00:00.000Z');
  });

  it('refuses a zone Intl does not know, and the option with another format', () => {
    expect(() => checkMixpanelTimezone('Mars/Olympus', 'mixpanel')).toThrow(/--mixpanel-timezone "Mars\/Olympus": not a time zone/);
    expect(() => checkMixpanelTimezone('US/Pacific', 'amplitude')).toThrow(/--format mixpanel only/);
    expect(() => checkMixpanelTimezone('US/Pacific', 'mixpanel')).not.toThrow();
  });
});
