// An erasure's rollup rebuild on real chDB, where it can go wrong: a user whose events span more
// than 100 months (the rollups are partitioned by month, and a ClickHouse server refuses an INSERT
// into more than max_partitions_per_insert_block = 100 partitions unless told otherwise), and a
// regulation that fails after the user's rows were deleted, run again as the next start runs it:
// every rollup must then equal the same aggregation of `events`, for every user on those days.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../src/audit/log.js';
import { silentLogger } from '../../src/common/log.js';
import type { Config } from '../../src/config/index.js';
import { createErasureWriter, ErasureList, startErasureReader, type Regulation } from '../../src/erasure/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { ErasureStore, RegulationExecutor } from '../../src/regulations/index.js';
import { EVENTS_INSERT_COLUMNS } from '../../src/schema/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { rows } from './sink-helpers.js';

const noAudit: AuditLog = { record: async () => {}, close: async () => {} };

/** Each rollup's rows on `days` beside the same aggregation of `events` (what a rebuild gives). */
async function rollupsAgainstEvents(client: ClickHouseClient, days: readonly string[]) {
  const out: Record<string, { rollup: unknown[]; events: unknown[] }> = {};
  for (const [table, keys, where] of [
    ['events_daily_by_event', 'type, event', ''],
    ['events_daily_by_category', 'category', "AND category != ''"],
    ['events_daily_by_group', 'group_id', "AND group_id != ''"],
  ] as const) {
    out[table] = {
      rollup: await rows(client, `SELECT toString(day) AS d, source, ${keys}, toString(sum(events)) AS n, toString(uniqExactMerge(users)) AS u FROM ${table} WHERE d IN {days:Array(String)} GROUP BY d, source, ${keys} ORDER BY d, source, ${keys}`, { days }),
      events: await rows(client, `SELECT toString(toDate(timestamp)) AS d, source, ${keys}, toString(count()) AS n, toString(uniqExact(user_key)) AS u FROM events WHERE d IN {days:Array(String)} ${where} GROUP BY d, source, ${keys} ORDER BY d, source, ${keys}`, { days }),
    };
  }
  return out;
}

/**
 * `user`'s events, one a month for `months` months from `firstMonth` (UTC), each beside an event of
 * another user on the same day, as the sink inserts them (its settings).
 */
async function insertHistory(client: ClickHouseClient, user: string, firstMonth: Date, months: number): Promise<string[]> {
  const y = firstMonth.getUTCFullYear();
  const m = firstMonth.getUTCMonth();
  await client.command({
    query: `INSERT INTO events (${EVENTS_INSERT_COLUMNS.join(', ')})
      SELECT concat({user:String}, '-', toString(number)), 'track', 'Renewed', if(number % 2 = 0, {user:String}, 'someone-else'), '',
             toDateTime64('${y}-${String(m + 1).padStart(2, '0')}-15 12:00:00', 3, 'UTC') + toIntervalMonth(intDiv(number, 2)), NULL, now64(3), 'web', 'billing', 'g1', '', '',
             '{}', '{}', '{}', 'test', 0, number
      FROM numbers(${2 * months})`,
    query_params: { user },
    clickhouse_settings: { max_partitions_per_insert_block: '0' },
  });
  return Array.from({ length: months }, (_, i) => new Date(Date.UTC(y, m + i, 15)).toISOString().slice(0, 10));
}

describe('an erasure rebuilds the rollups of every day it touched', () => {
  const dir = tempDir('th-rollaudit-reg-');
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle;

  /** The query API's regulation parts as components.ts builds them, over `client`, with the list read from its topic. */
  async function executor(client: ClickHouseClient) {
    const reader = await startErasureReader(kafka, config.kafka.topics.regulations, silentLogger());
    await reader.loaded;
    const writer = await createErasureWriter(kafka, config.kafka.topics.regulations, reader.list);
    const ex = new RegulationExecutor({ list: reader.list, writer, store: new ErasureStore(client), audit: noAudit, log: silentLogger(), recheckAfterMs: 0 });
    return { ex, list: reader.list, stop: async () => { await writer.close(); await reader.stop(); } };
  }

  const state = (list: ErasureList, id: string): Regulation => list.regulations.get(id)!;

  beforeAll(async () => {
    config = testConfig(dir.path);
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
  });
  afterAll(async () => {
    await ch?.close();
    dir.remove();
  });

  it('after a run that failed once the rows were gone, when the next start runs it again', async () => {
    const days = await insertHistory(ch.client, 'interrupted', new Date(Date.UTC(2031, 0, 1)), 3);
    // The first rebuild statement that inserts fails (a timeout, a server restart).
    let failures = 1;
    const flaky = new Proxy(ch.client, {
      get(target, prop, receiver) {
        if (prop === 'command') {
          return (params: { query: string }) => {
            if (failures > 0 && params.query.startsWith('INSERT INTO events_daily_by_event ')) {
              failures--;
              return Promise.reject(new Error('Timeout error.'));
            }
            return target.command(params as Parameters<ClickHouseClient['command']>[0]);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const first = await executor(flaky);
    let id: string;
    try {
      const reg = await first.ex.submit('delete', ['interrupted'], 'dpo');
      id = reg.id;
      await first.ex.settled(id);
      expect(failures).toBe(0);
      expect(state(first.list, id)).toMatchObject({ status: 'running', error: 'Timeout error.' });
    } finally {
      await first.stop();
    }
    // The next start of the query API: the list from the topic, the regulation resumed.
    const next = await executor(ch.client);
    try {
      await waitRegulation(next.list, id);
      next.ex.resume();
      await next.ex.settled(id);
      expect(state(next.list, id)).toMatchObject({ status: 'finished', error: null });
      const check = await rollupsAgainstEvents(ch.client, days);
      for (const [table, { rollup, events }] of Object.entries(check)) expect(rollup, table).toEqual(events);
      expect((check.events_daily_by_event!.events as unknown[]).length).toBe(3);
    } finally {
      await next.stop();
    }
  }, 200_000);

  it('of a user with events in more than 100 months, on a session with the server default max_partitions_per_insert_block', async () => {
    const days = await insertHistory(ch.client, 'longtime', new Date(Date.UTC(2010, 0, 1)), 101);
    // chDB keeps the settings of a call on its session; a ClickHouse server's session starts with 100.
    await ch.client.command({ query: 'SELECT 1', clickhouse_settings: { max_partitions_per_insert_block: '100' } });
    const { ex, list, stop } = await executor(ch.client);
    try {
      const reg = await ex.submit('delete', ['longtime'], 'dpo');
      await ex.settled(reg.id);
      expect(state(list, reg.id)).toMatchObject({ status: 'finished', error: null, counts: { events: 101, days: 101 } });
      const check = await rollupsAgainstEvents(ch.client, days);
      for (const [table, { rollup, events }] of Object.entries(check)) expect(rollup, table).toEqual(events);
      expect((check.events_daily_by_event!.events as unknown[]).length).toBe(101); // someone-else's events stay, one a day
    } finally {
      await stop();
    }
  }, 300_000);

});

async function waitRegulation(list: ErasureList, id: string): Promise<void> {
  for (let i = 0; i < 100 && !list.regulations.has(id); i++) await new Promise((r) => setTimeout(r, 100));
}
