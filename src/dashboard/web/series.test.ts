// The dashboard's data shaping (series.ts): pure functions the page runs on API rows, checked
// here in Node (they use no DOM, which compiling this file under tsconfig.json proves).
import { describe, expect, it } from 'vitest';
import { addDays, CounterRate, dailySeries, liveSeries, MINUTE, rankCounts, sumByKey, topKeys, utcDay } from './series.js';

const T = Date.UTC(2026, 11, 2, 10, 0, 0); // a minute boundary
const iso = (ms: number) => new Date(ms).toISOString();

describe('liveSeries (per-minute volume -> events per second per source)', () => {
  it('gives 15 points ending at the current minute, 60 s per finished minute and the elapsed seconds for the current one', () => {
    const now = T + 30_000; // 30 s into the 10:00 minute
    const s = liveSeries(
      [
        { start: iso(T - MINUTE), key: 'web', events: 120 },
        { start: iso(T), key: 'web', events: 30 },
        { start: iso(T - 14 * MINUTE), key: 'ios', events: 6 },
      ],
      now,
    );
    expect(s.x).toHaveLength(15);
    expect(s.x[0]).toBe((T - 14 * MINUTE) / 1000);
    expect(s.x[14]).toBe(T / 1000);
    const web = s.lines.find((l) => l.label === 'web')!;
    expect(web.values[13]).toBe(2); // 120 in a finished minute
    expect(web.values[14]).toBe(1); // 30 in the first 30 s of this one
    expect(web.values.slice(0, 13)).toEqual(new Array(13).fill(0));
    expect(s.lines.find((l) => l.label === 'ios')!.values[0]).toBe(0.1);
  });

  it('leaves out rows outside the 15 minutes and sums the keys beyond the busiest 8 as "other"', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ start: iso(T), key: `s${i}`, events: 600 - i * 60 }));
    rows.push({ start: iso(T - 20 * MINUTE), key: 'old', events: 1e6 });
    const s = liveSeries(rows, T + 60_000 - 1);
    expect(s.lines.map((l) => l.label)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 'other']);
    const total = (label: string) => s.lines.find((l) => l.label === label)!.values[14]! * 59.999;
    expect(Math.round(total('other'))).toBe(180); // s8 (120) + s9 (60)
  });
});

describe('CounterRate (a counter read every few seconds -> events per second)', () => {
  it('divides each increase by the time between readings and treats a decrease as a restart from 0', () => {
    const r = new CounterRate();
    r.add(T, 100);
    expect(r.latest()).toBeNull();
    r.add(T + 2_000, 110);
    expect(r.latest()).toBe(5);
    r.add(T + 2_000, 500); // same reading time (a cached answer): ignored
    expect(r.y).toEqual([5]);
    r.add(T + 4_000, 8); // the process restarted
    expect(r.latest()).toBe(4);
  });

  it('keeps only its span', () => {
    const r = new CounterRate(10_000);
    for (let i = 0; i <= 10; i++) r.add(T + i * 2_000, i);
    expect(r.x[0]).toBeGreaterThanOrEqual((T + 20_000 - 10_000) / 1000);
    expect(r.x.length).toBe(6);
  });
});

describe('rollup shaping', () => {
  const rows = [
    { day: '2026-12-01', key: 'Signed Up', events: 5, users: 4 },
    { day: '2026-12-02', key: 'Signed Up', events: 2, users: 2 },
    { day: '2026-12-02', key: 'Order Completed', events: 7, users: 3 },
    { day: '2026-12-02', key: 'Viewed', events: 2, users: 1 },
    { day: '2026-11-01', key: 'Before', events: 99, users: 1 },
  ];

  it('topKeys ranks keys by events summed over rows, ties by name', () => {
    expect(topKeys(rows.slice(0, 4), 2)).toEqual([
      { key: 'Order Completed', events: 7, users: 3 },
      { key: 'Signed Up', events: 7, users: 6 },
    ]);
  });

  it('dailySeries has one point per UTC day of [from, to), zeros where a key has no row, rows outside left out', () => {
    const s = dailySeries(rows, '2026-11-30', '2026-12-03');
    expect(s.x).toEqual([Date.UTC(2026, 10, 30), Date.UTC(2026, 11, 1), Date.UTC(2026, 11, 2)].map((t) => t / 1000));
    expect(s.lines).toEqual([
      { label: 'Order Completed', values: [0, 0, 7] },
      { label: 'Signed Up', values: [0, 5, 2] },
      { label: 'Viewed', values: [0, 0, 2] },
    ]);
  });

  it('day arithmetic is in UTC', () => {
    expect(utcDay(Date.UTC(2026, 11, 31, 23, 59))).toBe('2026-12-31');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });
});

describe('rejected counts', () => {
  it('sums by=reason rows per error code over the day buckets; no rows, no counts', () => {
    expect(sumByKey([])).toEqual({});
    expect(
      sumByKey([
        { start: iso(T), key: 'invalid_event', events: 2 },
        { start: iso(T), key: 'missing_id', events: 1 },
        { start: iso(T + 86_400_000), key: 'missing_id', events: 4 },
      ]),
    ).toEqual({ invalid_event: 2, missing_id: 5 });
  });

  it('rankCounts orders by count and drops zeros', () => {
    expect(rankCounts({ a: 0, b: 3, c: 5, d: 3 })).toEqual([
      { key: 'c', count: 5 },
      { key: 'b', count: 3 },
      { key: 'd', count: 3 },
    ]);
  });
});
