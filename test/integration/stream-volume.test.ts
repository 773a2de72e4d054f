// Live volume from the real broker: events and rejected records written to Kafka, read back
// through GET /v1/volume by source, type, event and reason, per minute, hour and day, with
// distinct users, property sums and late events; and the API's validation.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { loadConfig } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { startStreamServer, type StreamServer } from '../../src/stream/index.js';
import { tempDir } from '../support/env.js';
import { event, getJson, send, sendRejected, streamEnv, until } from './stream-helpers.js';

const MIN = 60_000;

describe('GET /v1/volume', () => {
  const dir = tempDir('trackhouse-stream-volume-');
  let server: StreamServer;
  let base = '';
  const registry = createRegistry('alerts', false);
  // The current minute's start, and two minutes before it: all within the allowed lateness.
  const m0 = Math.floor(Date.now() / MIN) * MIN - 2 * MIN;
  const m1 = m0 + MIN;

  beforeAll(async () => {
    const env = streamEnv(dir.path, { VOLUME_SUM_PROPERTIES: 'total,revenue', STREAM_ALLOWED_LATENESS_MS: String(10 * MIN), VOLUME_METRICS_TOP: '1' });
    const config = loadConfig(env);
    const kafka = createKafka(config.kafka, silentLogger(), config.kafka.brokers);
    await ensureTopics(kafka, config.kafka);
    server = await startStreamServer({ config, kafka, log: silentLogger(), registry, rules: [] });
    base = `http://127.0.0.1:${server.port}`;
    // Caught up, and the watermark known (before it, nothing can be late).
    await until('caught up', async () => (await fetch(`${base}/readyz`)).status === 200 && (await getJson(`${base}/v1/volume`)).body.watermark !== null);
    const events = [
      // minute 0, web: 3 orders by 2 users, totals 10 + 20 + 5 (one without revenue), a page view
      event(m0 + 1, { user_id: 'a', properties: '{"total":10,"revenue":1.5}' }),
      event(m0 + 2, { user_id: 'b', properties: '{"total":20,"revenue":2.5}' }),
      event(m0 + 3, { user_id: 'a', properties: '{"total":5,"nested":{"revenue":100}}' }),
      event(m0 + 4, { user_id: 'a', type: 'page', event: null, name: 'Home' }),
      // minute 1: ios, 2 signups by anonymous users; web, 1 order with a non-numeric total
      event(m1 + 1, { user_id: null, anonymous_id: 'x', source: 'ios', event: 'Signed Up' }),
      event(m1 + 2, { user_id: null, anonymous_id: 'y', source: 'ios', event: 'Signed Up' }),
      event(m1 + 3, { user_id: 'c', properties: '{"total":"12"}' }),
      // an hour late: counted as late in the minute it arrived
      { ...event(m1 - 3_600_000, { user_id: 'd' }), received_at: m1 + 5 },
    ];
    await send(kafka, config.kafka.topics.events, events);
    await sendRejected(kafka, config.kafka.topics.rejected, [
      { source: 'web', code: 'invalid_event', at: m0 + 10 },
      { source: 'web', code: 'invalid_event', at: m1 + 10 },
      { source: 'ios', code: 'payload_too_large', at: m1 + 11 },
    ]);
    await until('every record counted', async () => {
      const r = await getJson(`${base}/v1/volume?by=source&window=day`);
      const total = r.body.rows.reduce((n: number, x: { events: number; late: number; rejected: number }) => n + x.events + x.late + x.rejected, 0);
      return total === 11;
    });
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  const from = () => new Date(m0).toISOString();
  const to = () => new Date(m1 + MIN).toISOString();

  it('counts events, distinct users and property sums per source and minute, with rejected and late records', async () => {
    const r = await getJson(`${base}/v1/volume?by=source&window=minute&from=${from()}&to=${to()}`);
    expect(r.status).toBe(200);
    const at = (t: number) => new Date(t).toISOString();
    expect(r.body.rows).toEqual([
      // a, b (a twice); total 10 + 20 + 5; revenue 1.5 + 2.5 (a nested "revenue" is not a top-level property)
      { start: at(m0), key: 'web', events: 4, users: 2, sums: { total: 35, revenue: 4 }, late: 0, rejected: 1 },
      { start: at(m1), key: 'ios', events: 2, users: 2, sums: { total: 0, revenue: 0 }, late: 0, rejected: 1 },
      // c's total is a string: not summed; d's event an hour late: late, not in events or users
      { start: at(m1), key: 'web', events: 1, users: 1, sums: { total: 0, revenue: 0 }, late: 1, rejected: 1 },
    ]);
    expect(r.body.caught_up).toBe(true);
  });

  it('splits by event name (with the type) and by type, filtered by source and event', async () => {
    // Buckets whose start lies in [from, to): from the hour holding m0.
    const hour = new Date(Math.floor(m0 / 3_600_000) * 3_600_000).toISOString();
    const byEvent = await getJson(`${base}/v1/volume?by=event&window=hour&source=web&from=${hour}&to=${to()}`);
    const rows = byEvent.body.rows.map((x: { start: string; key: string; type: string; events: number }) => [x.key, x.type, x.events]);
    // The hour holding m0 (and m1 if it is the same hour).
    expect(byEvent.body.rows[0].start).toBe(hour);
    expect(rows).toContainEqual(['page', 'page', 1]);
    expect(rows.filter((x: unknown[]) => x[0] === 'Order Completed').reduce((n: number, x: unknown[]) => n + (x[2] as number), 0)).toBe(4);
    const byType = await getJson(`${base}/v1/volume?by=type&window=day&event=Signed%20Up`);
    expect(byType.body.rows.map((x: { key: string; events: number; users: number }) => [x.key, x.events, x.users])).toEqual([['track', 2, 2]]);
  });

  it('answers by=reason with rejected records per error code', async () => {
    const r = await getJson(`${base}/v1/volume?by=reason&window=day`);
    expect(r.body.rows.map((x: { key: string; events: number }) => [x.key, x.events])).toEqual([
      ['invalid_event', 2],
      ['payload_too_large', 1],
    ]);
    const web = await getJson(`${base}/v1/volume?by=reason&window=day&source=ios`);
    expect(web.body.rows.map((x: { key: string; events: number }) => [x.key, x.events])).toEqual([['payload_too_large', 1]]);
  });

  it('validates like the query API: 401 first, then 400 naming the parameter', async () => {
    expect((await fetch(`${base}/v1/volume?by=nope`)).status).toBe(401);
    expect((await getJson(`${base}/v1/volume`, 'wrong')).status).toBe(401);
    const bad: [string, string][] = [
      ['by=nope', 'by'],
      ['window=week', 'window'],
      ['from=2026-13-01', 'from'],
      ['from=2026-12-02T10:00:00', 'from'],
      ['from=2026-12-02&to=2026-12-01', 'from'],
      ['source=a%20b', 'source'],
      ['type=click', 'type'],
      ['by=reason&event=X', 'event'],
      ['limit=5', 'limit'],
      ['by=source&by=event', 'by'],
      ['window=minute&from=2020-01-01', 'from'],
      ['by=event&event=%C3', 'event'],
    ];
    for (const [query, parameter] of bad) {
      const r = await getJson(`${base}/v1/volume?${query}`);
      expect([query, r.status, r.body.error, r.body.parameter]).toEqual([query, 400, 'invalid_parameter', parameter]);
    }
  });

  it('exports the last complete minute to Prometheus, top keys only, the rest as other', async () => {
    // The gauges hold the minute before the current one. The set-up may have taken minutes, so the
    // scrape runs with the clock (Date only, for this one call) in the minute after m1.
    vi.useFakeTimers({ toFake: ['Date'], now: m1 + MIN + 30_000 });
    let text = '';
    try {
      text = await registry.metrics();
    } finally {
      vi.useRealTimers();
    }
    expect(text).toContain('trackhouse_stream_records_total{topic="events",component="alerts"} 8');
    expect(text).toContain('trackhouse_stream_records_total{topic="rejected",component="alerts"} 3');
    const sources = text.split('\n').filter((l) => l.startsWith('trackhouse_volume_events{by="source"'));
    expect(sources.sort()).toEqual(['trackhouse_volume_events{by="source",key="ios",component="alerts"} 2', 'trackhouse_volume_events{by="source",key="other",component="alerts"} 1']);
  });
});
