import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  encodeTsvRow,
  END_TIME_MS,
  escapeTsv,
  EVENTS_INSERT_COLUMNS,
  InvalidEventError,
  isStorableTime,
  jsonTooDeep,
  MAX_JSON_DEPTH,
  MIN_TIME_MS,
  recordTimesStorable,
  ROLLUP_DAYS_TEXT,
  ROLLUP_END_MS,
  ROLLUP_FIRST_MS,
  ROLLUP_TIME_SQL,
  USER_KEY_SQL,
  userKeyOf,
} from './row.js';
import type { EventRecord } from './types.js';

const base: EventRecord = {
  event_id: 'e-1',
  type: 'track',
  event: 'Order Completed',
  user_id: 'u-1',
  anonymous_id: null,
  timestamp: 1_763_700_000_123,
  sent_at: null,
  received_at: 1_763_700_000_005,
  source: 'web',
  category: null,
  group_id: 'g-1',
  name: null,
  previous_id: null,
  properties: '{"note":"tab\\there"}',
  traits: '{}',
  context: '{}',
};

/** The `events` table of the migration: its columns in order, and each one's MATERIALIZED expression if any. */
function eventsTable(): { name: string; materialized: string | null }[] {
  const sql = readFileSync(fileURLToPath(new URL('../../clickhouse/001_events.sql', import.meta.url)), 'utf8');
  const body = /CREATE TABLE IF NOT EXISTS events\s*\(([\s\S]*?)\n\)/.exec(sql)![1]!;
  return body
    .split('\n')
    .map((l) => l.trim().replace(/,$/, ''))
    .filter((l) => l !== '' && !l.startsWith('--'))
    .map((l) => {
      const m = /^(\w+)\s+.*?(?:\sMATERIALIZED\s+(.*))?$/.exec(l)!;
      return { name: m[1]!, materialized: m[2] ?? null };
    });
}

describe('the events table of clickhouse/001_events.sql', () => {
  it('has exactly the columns each row fills, in order, besides the materialized user_key', () => {
    const table = eventsTable();
    expect(table.filter((c) => c.materialized === null).map((c) => c.name)).toEqual([...EVENTS_INSERT_COLUMNS]);
    expect(table.filter((c) => c.materialized !== null).map((c) => c.name)).toEqual(['user_key']);
  });

  it('computes user_key with the same rule as userKeyOf', () => {
    expect(eventsTable().find((c) => c.name === 'user_key')!.materialized).toBe(USER_KEY_SQL);
  });
});

describe('the storable time range', () => {
  it('is exactly what ClickHouse DateTime64(3) holds: 1900-01-01 up to, not including, 2300-01-01', () => {
    expect(isStorableTime(Date.parse('1900-01-01T00:00:00.000Z'))).toBe(true);
    expect(isStorableTime(Date.parse('1899-12-31T23:59:59.999Z'))).toBe(false);
    expect(isStorableTime(Date.parse('2299-12-31T23:59:59.999Z'))).toBe(true);
    expect(isStorableTime(Date.parse('2300-01-01T00:00:00.000Z'))).toBe(false);
    expect([MIN_TIME_MS, END_TIME_MS]).toEqual([Date.UTC(1900, 0, 1), Date.UTC(2300, 0, 1)]);
  });
});

describe('the rollups\' day range', () => {
  const migration = () => readFileSync(fileURLToPath(new URL('../../clickhouse/004_rollups_date_range.sql', import.meta.url)), 'utf8');

  it('is ClickHouse Date\'s: events from 1970-01-01 up to, not including, 2149-06-07 (UTC)', () => {
    expect([ROLLUP_FIRST_MS, ROLLUP_END_MS]).toEqual([0, Date.parse('2149-06-07T00:00:00.000Z')]);
    expect(ROLLUP_DAYS_TEXT).toBe(`${new Date(ROLLUP_FIRST_MS).toISOString().slice(0, 10)} to ${new Date(ROLLUP_END_MS - 1).toISOString().slice(0, 10)}`);
  });

  it('says the same bounds in its SQL text', () => {
    const bounds = [...ROLLUP_TIME_SQL.matchAll(/toDateTime64\('([^']+)', 3, 'UTC'\)/g)].map((m) => Date.parse(`${m[1]!.replace(' ', 'T')}Z`));
    expect(bounds).toEqual([ROLLUP_FIRST_MS, ROLLUP_END_MS]);
    expect(ROLLUP_TIME_SQL).toMatch(/^timestamp >= .* AND timestamp < .*$/);
  });

  it('is the range clickhouse/004 gives each materialized view and each repair', () => {
    const sql = migration();
    const views = [...sql.matchAll(/ALTER TABLE (\w+) MODIFY QUERY\n[\s\S]*?\nWHERE (.*)\n/g)].map((m) => [m[1], m[2]]);
    expect(views).toEqual([
      ['events_daily_by_event_mv', ROLLUP_TIME_SQL],
      ['events_daily_by_category_mv', `category != '' AND ${ROLLUP_TIME_SQL}`],
      ['events_daily_by_group_mv', `group_id != '' AND ${ROLLUP_TIME_SQL}`],
    ]);
    // Every bound in the file is the range's: the repairs select `NOT (range)` and `range`.
    const ranges = sql.split('\n').filter((l) => !l.startsWith('--') && l.includes('toDateTime64'));
    for (const l of ranges) expect(l).toContain(ROLLUP_TIME_SQL);
    expect(ranges.filter((l) => l.includes(`NOT (${ROLLUP_TIME_SQL})`))).toHaveLength(6);
  });
});

describe('TabSeparated rows', () => {
  it('writes one field per column, absent strings empty and a null sent_at as \\N', () => {
    const fields = encodeTsvRow(base, 'trackhouse.events', 4, 1234).slice(0, -1).split('\t');
    expect(fields).toHaveLength(EVENTS_INSERT_COLUMNS.length);
    const row = Object.fromEntries(EVENTS_INSERT_COLUMNS.map((c, i) => [c, fields[i]]));
    expect(row).toMatchObject({
      event_id: 'e-1',
      event: 'Order Completed',
      anonymous_id: '',
      timestamp: '1763700000.123',
      sent_at: '\\N',
      received_at: '1763700000.005',
      category: '',
      group_id: 'g-1',
      kafka_topic: 'trackhouse.events',
      kafka_partition: '4',
      kafka_offset: '1234',
    });
  });

  it('escapes tab, newline, carriage return, backslash and NUL so no value can break a row', () => {
    expect(escapeTsv('a\tb\nc\rd\\e\0f')).toBe('a\\tb\\nc\\rd\\\\e\\0f');
    const row = encodeTsvRow({ ...base, properties: '{"a":"x\ty"}', user_id: 'line\nbreak' }, 't', 0, 0);
    expect(row.split('\n')).toHaveLength(2);
    expect(row.split('\t')).toHaveLength(EVENTS_INSERT_COLUMNS.length);
  });

  it('writes times before 1970 as text, since ClickHouse reads no negative Unix time', () => {
    const row = encodeTsvRow({ ...base, timestamp: Date.UTC(1969, 11, 31, 23, 59, 55, 500) }, 't', 0, 0);
    expect(row.split('\t')[5]).toBe('1969-12-31 23:59:55.500');
  });

  it('writes times before 1973-03-03 and from 2286-11-20 as text: ClickHouse reads only 9- or 10-digit Unix seconds as such', () => {
    const at = (ms: number) => encodeTsvRow({ ...base, timestamp: ms }, 't', 0, 0).split('\t')[5];
    expect(at(0)).toBe('1970-01-01 00:00:00.000');
    expect(at(Date.UTC(1971, 5, 1, 12, 0, 0, 7))).toBe('1971-06-01 12:00:00.007');
    expect(at(99_999_999_999)).toBe('1973-03-03 09:46:39.999');
    expect(at(100_000_000_000)).toBe('100000000.000');
    expect(at(9_999_999_999_999)).toBe('9999999999.999');
    expect(at(10_000_000_000_000)).toBe('2286-11-20 17:46:40.000');
    expect(at(Date.UTC(2299, 11, 31, 23, 59, 59, 999))).toBe('2299-12-31 23:59:59.999');
  });

  it('refuses times outside DateTime64, which ClickHouse would reject for the whole insert', () => {
    expect(() => encodeTsvRow({ ...base, timestamp: Date.UTC(2400, 0, 1) }, 't', 0, 0)).toThrow(InvalidEventError);
    expect(() => encodeTsvRow({ ...base, received_at: Date.UTC(1800, 0, 1) }, 't', 0, 0)).toThrow(/received_at/);
  });

  it('computes user_key as events does: user_id, else anonymous_id', () => {
    expect(userKeyOf(base)).toBe('u-1');
    expect(userKeyOf({ ...base, user_id: null, anonymous_id: 'a-1' })).toBe('a-1');
    expect(userKeyOf({ ...base, user_id: '', anonymous_id: 'a-1' })).toBe('a-1');
  });

  it('keeps exactly the records encodeTsvRow writes (the view leaves out what the sink dead-letters)', () => {
    const times = [MIN_TIME_MS - 1, MIN_TIME_MS, 0, 1.5, Date.UTC(2026, 0, 1), END_TIME_MS - 1, END_TIME_MS, NaN];
    for (const t of times) {
      for (const r of [
        { ...base, timestamp: t },
        { ...base, received_at: t },
        { ...base, sent_at: t },
      ]) {
        let written = true;
        try {
          encodeTsvRow(r, 't', 0, 0);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidEventError);
          written = false;
        }
        expect(recordTimesStorable(r)).toBe(written);
      }
    }
    expect(recordTimesStorable({ ...base, sent_at: null })).toBe(true);
  });
});

describe('jsonTooDeep', () => {
  const nest = (depth: number, inner: string, open = '[', close = ']') => open.repeat(depth) + inner + close.repeat(depth);

  it('finds a value deeper than ClickHouse reads (1024 levels, the top value at 1), as its isValidJSON does', () => {
    expect(jsonTooDeep(nest(MAX_JSON_DEPTH, ''))).toBe(false); // 1024 empty arrays: the deepest at 1024
    expect(jsonTooDeep(nest(MAX_JSON_DEPTH + 1, ''))).toBe(true);
    expect(jsonTooDeep(nest(MAX_JSON_DEPTH, '0'))).toBe(true); // the number at 1025
    expect(jsonTooDeep(nest(MAX_JSON_DEPTH - 1, '0'))).toBe(false);
    expect(jsonTooDeep(nest(MAX_JSON_DEPTH - 1, '"s"'))).toBe(false);
    expect(jsonTooDeep(nest(MAX_JSON_DEPTH, '"s"'))).toBe(true);
    // Objects: a member's name is not a value; its value is one level down.
    const objects = (depth: number, inner: string) => '{"a":'.repeat(depth - 1) + inner + '}'.repeat(depth - 1);
    expect(jsonTooDeep(objects(MAX_JSON_DEPTH, '{"k":{}}'))).toBe(true);
    expect(jsonTooDeep(objects(MAX_JSON_DEPTH, '{}'))).toBe(false);
    expect(jsonTooDeep(objects(MAX_JSON_DEPTH, '"v"'))).toBe(false);
    expect(jsonTooDeep(objects(MAX_JSON_DEPTH + 1, '"v"'))).toBe(true);
  });

  it('skips brackets, quotes and backslashes inside strings', () => {
    const brackets = JSON.stringify({ s: '['.repeat(3000), t: '\\"[[[' + '{'.repeat(2000), u: '\\' });
    expect(jsonTooDeep(brackets)).toBe(false);
    expect(jsonTooDeep(JSON.stringify({ long: 'x'.repeat(5000), n: [[[1]]] }))).toBe(false);
    expect(jsonTooDeep(`[${JSON.stringify('\\"'.repeat(600))},${nest(MAX_JSON_DEPTH, '')}]`)).toBe(true);
  });
});
