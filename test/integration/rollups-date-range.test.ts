// The daily rollups count an event only on its own UTC day, on the real pipeline (`trackhouse
// start` on the run's broker: ingest -> Kafka -> sink -> chDB). The ingest accepts times from
// 1900 to 2299 (`events` holds them all), but a rollup's `day` is a ClickHouse Date
// (1970-01-01 to 2149-06-06) and toDate() wraps outside it: 1900-01-01 was counted on 2079-06-07,
// 2299-12-31 on 2120-07-26, 1969-12-31T23:59:59.999Z and 2149-06-07T00:00:00Z on 1970-01-01.
// Events outside that range are in no rollup (docs/contract.md), read through the query API and
// through SQL on the tables a BI tool reads.
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/localkafka/index.js';
import { sendBatch, startAllInOne, type AllInOne } from '../support/allinone.js';

/** Each event's time, and the day the rollups must count it on (null: none). */
const SENT: { id: string; timestamp: string; day: string | null }[] = [
  { id: 'at-1900', timestamp: '1900-01-01T00:00:00.000Z', day: null },
  { id: 'before-1970', timestamp: '1969-12-31T23:59:59.999Z', day: null },
  { id: 'at-1970', timestamp: '1970-01-01T00:00:00.000Z', day: '1970-01-01' },
  { id: 'normal-1', timestamp: '2026-08-01T10:00:00.000Z', day: '2026-08-01' },
  { id: 'normal-2', timestamp: '2026-08-01T23:59:59.999Z', day: '2026-08-01' },
  { id: 'normal-3', timestamp: '2026-08-02T00:00:00.000Z', day: '2026-08-02' },
  { id: 'last-ms', timestamp: '2149-06-06T23:59:59.999Z', day: '2149-06-06' },
  { id: 'at-2149-06-07', timestamp: '2149-06-07T00:00:00.000Z', day: null },
  { id: 'at-2299', timestamp: '2299-12-31T00:00:00.000Z', day: null },
];

/** The rows every rollup must hold: one user per event (each event has its own). */
const COUNTED = [...SENT.filter((e) => e.day !== null).reduce((m, e) => m.set(e.day!, (m.get(e.day!) ?? 0) + 1), new Map<string, number>())].map(
  ([day, n]) => ({ day, events: n, users: n }),
);

describe('daily rollups of events at the ends of the storable time range', () => {
  let aio: AllInOne;
  let bi: ClickHouseClient;
  const rollups = async (q: string) => {
    const res = await fetch(`${aio.queryUrl}/v1/rollups/daily?${q}`, { headers: { authorization: 'Bearer dev-read-key' } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { rows: Record<string, unknown>[] }).rows;
  };
  const sql = async <T>(query: string) => (await bi.query({ query, format: 'JSONEachRow' })).json<T>();

  beforeAll(async () => {
    const biPort = await freePort();
    aio = await startAllInOne('rollrange', { BI_PORT: String(biPort) });
    bi = createClient({ url: `http://127.0.0.1:${biPort}`, username: 'bi', password: 'dev-read-key', log: { level: ClickHouseLogLevel.OFF } });
    await sendBatch(
      aio.ingestUrl,
      SENT.map((e) => ({
        type: 'track',
        event: 'Dated',
        userId: `rr-${e.id}`,
        messageId: `rr-${e.id}`,
        timestamp: e.timestamp,
        properties: { category: 'dated' },
        context: { groupId: 'g-dated' },
      })),
    );
    // The sink inserts rows and rollups in one statement: once `events` holds them all, so do the rollups.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const [r] = await sql<{ n: string }>("SELECT toString(count()) AS n FROM events WHERE startsWith(user_id, 'rr-')");
      if (Number(r?.n) >= SENT.length) break;
      if (Date.now() > deadline) throw new Error(`the sink inserted ${r?.n} of ${SENT.length} events in 120 s:\n${aio.output()}`);
      await sleep(200);
    }
  }, 300_000);

  afterAll(async () => {
    await bi?.close();
    await aio?.stop('SIGTERM');
  });

  it('keeps every event in `events`, with its exact time', async () => {
    const rows = await sql<{ user_id: string; ts: string }>(
      "SELECT user_id, toString(toUnixTimestamp64Milli(timestamp)) AS ts FROM events WHERE startsWith(user_id, 'rr-') ORDER BY timestamp",
    );
    expect(rows.map((r) => [r.user_id, Number(r.ts)])).toEqual(SENT.map((e) => [`rr-${e.id}`, Date.parse(e.timestamp)]));
  });

  it('answers GET /v1/rollups/daily with the in-range events only, each on its own day', async () => {
    expect(await rollups('by=event')).toEqual(COUNTED.map((r) => ({ ...r, type: 'track', key: 'Dated' })));
    expect(await rollups('by=category')).toEqual(COUNTED.map((r) => ({ ...r, key: 'dated' })));
    expect(await rollups('by=group')).toEqual(COUNTED.map((r) => ({ ...r, key: 'g-dated' })));
    for (const [from, to] of [['2079-06-07', '2079-06-08'], ['2120-07-26', '2120-07-27']]) {
      for (const by of ['event', 'category', 'group']) expect(await rollups(`by=${by}&from=${from}&to=${to}`)).toEqual([]);
    }
  });

  it('holds the same in the rollup tables and views a BI tool reads', async () => {
    for (const t of ['events_daily_by_event', 'events_daily_by_category', 'events_daily_by_group']) {
      const table = await sql<{ day: string; events: string; users: string }>(
        `SELECT toString(day) AS day, toString(sum(events)) AS events, toString(uniqExactMerge(users)) AS users FROM ${t} GROUP BY day ORDER BY day`,
      );
      expect(table.map((r) => ({ day: r.day, events: Number(r.events), users: Number(r.users) })), t).toEqual(COUNTED);
      const view = await sql<{ day: string; events: string }>(`SELECT toString(day) AS day, toString(sum(events)) AS events FROM ${t}_v GROUP BY day ORDER BY day`);
      expect(view.map((r) => [r.day, Number(r.events)]), `${t}_v`).toEqual(COUNTED.map((r) => [r.day, r.events]));
    }
  });

  it('still answers the per-user API with an event no rollup counts', async () => {
    for (const id of ['at-1900', 'at-2299']) {
      // The API reads its own view of the topic, which may be a moment behind the sink.
      let events: { event_id: string; timestamp: string }[] = [];
      for (let i = 0; i < 300 && events.length === 0; i++) {
        if (i > 0) await sleep(200);
        const res = await fetch(`${aio.queryUrl}/v1/users/rr-${id}/events`, { headers: { authorization: 'Bearer dev-read-key' } });
        events = ((await res.json()) as { events: typeof events }).events;
      }
      expect(events.map((e) => [e.event_id, e.timestamp])).toEqual([[`rr-${id}`, SENT.find((e) => e.id === id)!.timestamp]]);
    }
  });
});
