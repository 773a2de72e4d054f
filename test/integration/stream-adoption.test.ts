// A team adopting live volume and alerts, from outside: real webhook receivers misbehaving in each
// way a receiver can, `trackhouse alerts` restarted and killed while an alert fires, two replicas
// with the lease holder killed, and /v1/volume compared with what was sent.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { loadConfig, type Env } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { EventCodec } from '../../src/schema/index.js';
import { loadStreamRules, startStreamServer } from '../../src/stream/index.js';
import { tempDir } from '../support/env.js';
import { event, getJson, send, spawnAlerts, startReceiver, streamEnv, until, writeRules, type AlertsChild } from './stream-helpers.js';

const UNIT = 10_000;
const codec = new EventCodec();

async function setup(env: Env) {
  const config = loadConfig(env);
  const kafka = createKafka(config.kafka, silentLogger(), config.kafka.brokers);
  await ensureTopics(kafka, config.kafka);
  return { config, kafka };
}

describe('adopting alerts', () => {
  const dir = tempDir('th-alerts-adopt-');
  const children: AlertsChild[] = [];
  afterAll(async () => {
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGKILL');
        await c.exit;
      }
    }
    dir.remove();
  });

  it('a receiver that redirects, closes, hangs and fails: retried with one id, delivered once, then one recovery', async () => {
    const receiver = await startReceiver();
    const rules = writeRules(dir.path, [{ name: 'orders', window: { type: 'tumbling', size: '10s' }, condition: { above: 2 }, lateness: '2s', webhook: { url: receiver.url } }]);
    const env = streamEnv(dir.path, { TRACKHOUSE_ALERTS: rules, STREAM_DIR: `${dir.path}/modes`, ALERTS_MIN_WINDOW_MS: String(UNIT), ALERTS_WEBHOOK_TIMEOUT_MS: '1000' });
    const { config, kafka } = await setup(env);
    const server = await startStreamServer({ config, kafka, log: silentLogger(), registry: createRegistry('alerts', false), rules: loadStreamRules(config) });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      await until('caught up', async () => (await getJson(`${base}/v1/alerts`)).body.watermark !== null);
      receiver.failNext({ redirect: 301, location: `${receiver.url}?moved=301` }, { redirect: 307, location: `${receiver.url}?moved=307` }, 'close', 'hang', 500);
      const t0 = Math.ceil(Date.now() / UNIT) * UNIT;
      await sleep(t0 - Date.now() + 200);
      // Five sends in one window: one alert, not one per evaluation.
      for (let i = 0; i < 5; i++) await send(kafka, config.kafka.topics.events, [event(Date.now(), { user_id: `u${i}` })]);
      await receiver.waitFor(6, 'five failed attempts and a delivery');
      await until('the recovery', async () => receiver.calls.some((c) => c.body.status === 'recovered'), 120_000);
      await sleep(3_000);
      expect(receiver.calls.filter((c) => c.url.includes('moved'))).toEqual([]);
      expect(receiver.calls.map((c) => [c.body.status, c.answered])).toEqual([['alert', 301], ['alert', 307], ['alert', 0], ['alert', 0], ['alert', 500], ['alert', 200], ['recovered', 200]]);
      expect(new Set(receiver.calls.slice(0, 6).map((c) => c.headers['idempotency-key'])).size).toBe(1);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });

  it('a receiver that hangs for many groups: no more than half of ALERTS_WEBHOOK_CONCURRENCY calls pile up; released, each group is told once', async () => {
    const receiver = await startReceiver();
    const rules = writeRules(dir.path, [{ name: 'per-user', group_by: 'user', window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url: receiver.url } }]);
    const env = streamEnv(dir.path, { TRACKHOUSE_ALERTS: rules, STREAM_DIR: `${dir.path}/hang`, ALERTS_WEBHOOK_TIMEOUT_MS: '120000', ALERTS_WEBHOOK_CONCURRENCY: '6' });
    const { config, kafka } = await setup(env);
    const server = await startStreamServer({ config, kafka, log: silentLogger(), registry: createRegistry('alerts', false), rules: loadStreamRules(config) });
    try {
      receiver.failNext(...Array.from({ length: 3 }, () => 'hang' as const));
      await send(kafka, config.kafka.topics.events, Array.from({ length: 20 }, (_, i) => event(Date.now(), { user_id: `user-${i}` })));
      await receiver.waitFor(3, 'three calls');
      // Twenty groups to tell, three calls hanging: nothing more is sent meanwhile.
      await sleep(3_000);
      expect([receiver.calls.length, receiver.open.now, receiver.open.max]).toEqual([3, 3, 3]);
      expect(receiver.release(200)).toBe(3);
      await until('every group delivered', async () => new Set(receiver.calls.map((c) => c.body.group.key)).size === 20, 120_000);
      await sleep(2_000);
      expect(receiver.calls).toHaveLength(20);
      expect(receiver.open.max).toBe(3);
    } finally {
      receiver.release(200);
      await server.stop();
      await receiver.close();
    }
  });

  it('one receiver hanging with many groups to tell leaves slots to the others: another rule\'s receiver is called meanwhile', async () => {
    const slow = await startReceiver();
    const fast = await startReceiver();
    const rules = writeRules(dir.path, [
      { name: 'per-user', filter: { event: 'Order Completed' }, group_by: 'user', window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url: slow.url } },
      { name: 'signups', filter: { event: 'Signed Up' }, window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url: fast.url } },
    ]);
    const env = streamEnv(dir.path, { TRACKHOUSE_ALERTS: rules, STREAM_DIR: `${dir.path}/slots`, ALERTS_WEBHOOK_TIMEOUT_MS: '120000', ALERTS_WEBHOOK_CONCURRENCY: '4' });
    const { config, kafka } = await setup(env);
    const server = await startStreamServer({ config, kafka, log: silentLogger(), registry: createRegistry('alerts', false), rules: loadStreamRules(config) });
    try {
      slow.failNext(...Array.from({ length: 20 }, () => 'hang' as const));
      await send(kafka, config.kafka.topics.events, Array.from({ length: 20 }, (_, i) => event(Date.now(), { user_id: `user-${i}` })));
      await slow.waitFor(2, 'calls to the slow receiver');
      await send(kafka, config.kafka.topics.events, [event(Date.now(), { user_id: 'new-user', event: 'Signed Up' })]);
      // Told while the slow receiver still holds its calls: it has half the slots, rounded up.
      const [call] = await fast.waitFor(1, 'the other rule\'s call', 60_000);
      expect(call!.body).toMatchObject({ rule: 'signups', status: 'alert' });
      expect([slow.calls.length, slow.open.max]).toEqual([2, 2]);
      // Released two by two, each group is told once.
      await until('every group told', async () => {
        slow.release(200);
        return new Set(slow.calls.map((c) => c.body.group.key)).size === 20;
      }, 120_000);
      slow.release(200);
      expect(slow.calls).toHaveLength(20);
      expect(slow.open.max).toBe(2);
    } finally {
      slow.release(200);
      await server.stop();
      await slow.close();
      await fast.close();
    }
  });

  it('trackhouse alerts killed (SIGKILL) while an alert fires, down while the window ends: restarted, it sends the recovery once and the alert not again', async () => {
    const receiver = await startReceiver();
    const rules = writeRules(dir.path, [{ name: 'orders', window: { type: 'tumbling', size: '10s' }, condition: { above: 2 }, lateness: '2s', webhook: { url: receiver.url } }]);
    const env = streamEnv(dir.path, { TRACKHOUSE_ALERTS: rules, STREAM_DIR: `${dir.path}/restart`, ALERTS_MIN_WINDOW_MS: String(UNIT) });
    const { config, kafka } = await setup(env);
    let child = spawnAlerts(env);
    children.push(child);
    let port = await child.port;
    try {
      await until('caught up', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
      const t0 = Math.ceil(Date.now() / UNIT) * UNIT;
      await sleep(t0 - Date.now() + 200);
      await send(kafka, config.kafka.topics.events, [0, 1, 2].map((i) => event(Date.now() + i, { user_id: `u${i}` })));
      await receiver.waitFor(1, 'the alert');
      await until('the delivery recorded', async () => (await getJson(`http://127.0.0.1:${port}/v1/alerts`)).body.notifications.some((n: { delivery: string }) => n.delivery === 'delivered'));
      child.proc.kill('SIGKILL');
      await child.exit;
      // Down past the window's end and its lateness.
      await sleep(Math.max(0, t0 + 2 * UNIT + 3_000 - Date.now()));
      child = spawnAlerts(env);
      children.push(child);
      port = await child.port;
      await until('the recovery', async () => receiver.calls.some((c) => c.body.status === 'recovered'), 90_000);
      await sleep(5_000);
      expect(receiver.calls.map((c) => c.body.status)).toEqual(['alert', 'recovered']);
      // And a plain restart (SIGTERM) while nothing fires says nothing.
      child.proc.kill('SIGTERM');
      expect((await child.exit).code).toBe(0);
      child = spawnAlerts(env);
      children.push(child);
      port = await child.port;
      await until('caught up', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
      await sleep(3_000);
      expect(receiver.calls).toHaveLength(2);
    } finally {
      child.proc.kill('SIGTERM');
      await child.exit;
      await receiver.close();
    }
  });

  it('two trackhouse alerts processes: one sends; kill -9 the lease holder and the other takes over without sending anything twice', async () => {
    const receiver = await startReceiver();
    const rules = writeRules(dir.path, [{ name: 'orders', group_by: 'user', window: { type: 'tumbling', size: '1d' }, condition: { above: 2 }, webhook: { url: receiver.url } }]);
    const env = streamEnv(dir.path, { TRACKHOUSE_ALERTS: rules });
    const { config, kafka } = await setup(env);
    const a = spawnAlerts({ ...env, STREAM_DIR: `${dir.path}/lease-a` });
    const b = spawnAlerts({ ...env, STREAM_DIR: `${dir.path}/lease-b` });
    children.push(a, b);
    const ports = new Map([[a, await a.port], [b, await b.port]]);
    const leaderOf = async () => {
      for (const [c, p] of ports) if (c.proc.exitCode === null && c.proc.signalCode === null && (await getJson(`http://127.0.0.1:${p}/v1/alerts`)).body.leader) return c;
      return undefined;
    };
    try {
      const leader = await until('a leader', leaderOf);
      const other = leader === a ? b : a;
      expect((await getJson(`http://127.0.0.1:${ports.get(other)}/v1/alerts`)).body.leader).toBe(false);
      await send(kafka, config.kafka.topics.events, [0, 1, 2].map((i) => event(Date.now() + i, { user_id: 'u1' })));
      await receiver.waitFor(1, 'the alert for u1');
      await until('the follower to read the log', async () => (await getJson(`http://127.0.0.1:${ports.get(other)}/v1/alerts`)).body.notifications.some((n: { delivery: string }) => n.delivery === 'delivered'));
      leader.proc.kill('SIGKILL');
      await leader.exit;
      await send(kafka, config.kafka.topics.events, [event(Date.now(), { user_id: 'u1' }), ...[0, 1, 2].map((i) => event(Date.now() + i, { user_id: 'u2' }))]);
      await receiver.waitFor(2, 'the alert for u2 from the new leader', 120_000);
      await sleep(3_000);
      expect(receiver.calls.map((c) => c.body.group.key)).toEqual(['u1', 'u2']);
      expect((await getJson(`http://127.0.0.1:${ports.get(other)}/v1/alerts`)).body.leader).toBe(true);
    } finally {
      for (const c of [a, b]) if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGTERM');
        await c.exit;
      }
      await receiver.close();
    }
  });
});

describe('adopting live volume', () => {
  const dir = tempDir('th-alerts-volume-');
  afterAll(() => dir.remove());

  it('counts per source and minute each event sent once: a client resend (same user and messageId) not again, as ClickHouse and the view; hostile parameters get 400 or 200, never 500', async () => {
    const MIN = 60_000;
    const env = streamEnv(dir.path, { STREAM_ALLOWED_LATENESS_MS: String(10 * MIN) });
    const { config, kafka } = await setup(env);
    const registry = createRegistry('alerts', false);
    const server = await startStreamServer({ config, kafka, log: silentLogger(), registry, rules: [] });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      await until('caught up', async () => (await fetch(`${base}/readyz`)).status === 200 && (await getJson(`${base}/v1/volume`)).body.watermark !== null);
      const now = Date.now();
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const sources = ['web', 'ios', 'android'];
      const events = Array.from({ length: 300 }, (_, i) => {
        const t = now - Math.floor(rnd() * 4 * MIN);
        return event(t, { user_id: `u${i % 17}`, source: sources[Math.floor(rnd() * 3)]!, received_at: now });
      });
      // A client retry: the same events (same messageId, so the same event_id) sent again, as the
      // edge writes them: new records, same key, a later arrival.
      const resent = events.filter((_, i) => i % 10 === 0).map((e) => ({ ...e, received_at: now + 500 }));
      // Another user's event that happens to carry one of those ids is another event.
      const other = { ...events[0]!, user_id: 'someone-else', source: 'web' };
      await send(kafka, config.kafka.topics.events, events);
      await send(kafka, config.kafka.topics.events, resent);
      await send(kafka, config.kafka.topics.events, [other]);
      // Per minute and source: each event once, resends not again (as in ClickHouse and the view).
      const expected = new Map<string, number>();
      for (const e of [...events, other]) {
        const k = `${new Date(Math.floor(e.timestamp / MIN) * MIN).toISOString()} ${e.source}`;
        expected.set(k, (expected.get(k) ?? 0) + 1);
      }
      // Then one sentinel per partition: a partition's sentinel counted means every record before
      // it in that partition was read and committed (rounds commit whole, partitions in order).
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      await producer.send({ topic: config.kafka.topics.events, acks: -1, messages: [0, 1, 2].map((partition) => ({ partition, key: 'sentinel', value: codec.encode(event(now, { user_id: 'sentinel', source: 'sentinel' })) })) });
      await producer.disconnect();
      const from = new Date(Math.floor((now - 5 * MIN) / MIN) * MIN).toISOString();
      const to = new Date(Math.floor(now / MIN) * MIN + MIN).toISOString();
      const rows = await until('the sentinels counted', async () => {
        const r = await getJson(`${base}/v1/volume?by=source&window=minute&from=${from}&to=${to}`);
        const sentinels = r.body.rows.filter((x: { key: string }) => x.key === 'sentinel').reduce((n: number, x: { events: number }) => n + x.events, 0);
        return sentinels === 3 ? (r.body.rows as { start: string; key: string; events: number; late: number }[]) : undefined;
      });
      const got = new Map(rows.filter((x) => x.key !== 'sentinel').map((x) => [`${x.start} ${x.key}`, x.events]));
      expect(rows.reduce((n, x) => n + x.late, 0)).toBe(0);
      expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected].sort()));
      expect(await registry.metrics()).toContain(`trackhouse_stream_resent_events_total{component="alerts"} ${resent.length}`);

      const hostile = [
        'from=+275760-09-13T00:00:00Z', 'from=0000-01-01T00:00:00Z', 'to=9999-12-31', 'from=1970-01-01T00:00:00Z&to=1970-01-01T00:00:00.001Z',
        'from=2026-12-06T00:00:00%2B14:00', 'from=2026-12-06T00:00:00-23:59', 'from=2026-02-30', 'from=2026-12-06T24:00:00Z', 'from=2026-12-06T23:59:60Z',
        'from=2026-12-06T00:00:00.123456789Z', 'from=2026-12-06T00:00Z', 'from=now', 'to=-1', 'from=1700000000000', 'from=%00', 'event=%00', 'source=%00',
        `event=${'e'.repeat(10_000)}`, `source=${'s'.repeat(10_000)}`, 'by=__proto__', 'window=constructor', 'toString=1', '__proto__=1', 'by', 'by=', '=x', '&&&', '?by=source',
        'by=source;window=hour', 'window=MINUTE', 'window=day&from=1900-01-01&to=2299-12-31', 'window=hour&from=2000-01-01', 'from=2026-12-06T00:00:00Z&to=2026-12-06T00:00:00Z',
        'type=track&by=reason', 'event=%E2%80%AE%F0%9F%98%80', 'event=%ED%A0%80', 'from=2026-12-06T00:00:00.000%2B00:00', 'from=2026-12-06T00:00:00z', 'from=2026-12-06t00:00:00Z',
        'from=%20%202026-12-06', 'from=2026-12-06%0A', 'to=2300-01-01', 'from=1899-12-31T23:59:59Z', 'by=reason&window=day&from=1900-01-01', 'window=minute&to=1900-01-01',
        'window=day&to=1900-01-02', 'window=day&from=2299-12-31',
      ];
      const statuses: string[] = [];
      for (const q of hostile) {
        try {
          const r = await fetch(`${base}/v1/volume?${q}`, { headers: { authorization: 'Bearer test-read-key' } });
          const text = await r.text();
          statuses.push(`${r.status} ${q.slice(0, 60)} ${text.slice(0, 160)}`);
        } catch (err) {
          statuses.push(`ERR ${q.slice(0, 60)} ${(err as { cause?: { code?: string } }).cause?.code}`);
        }
      }
      for (const q of ['rule=%00', 'rule=__proto__', 'rule=' + 'r'.repeat(10_000), 'rule=constructor', 'rule=a&rule=b', 'x=1']) {
        try {
          const r = await fetch(`${base}/v1/alerts?${q}`, { headers: { authorization: 'Bearer test-read-key' } });
          statuses.push(`${r.status} alerts ${q.slice(0, 60)} ${(await r.text()).slice(0, 160)}`);
        } catch (err) {
          statuses.push(`ERR alerts ${q.slice(0, 60)} ${(err as { cause?: { code?: string } }).cause?.code}`);
        }
      }
      expect(statuses.filter((s) => !s.startsWith('200 ') && !s.startsWith('400 '))).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
