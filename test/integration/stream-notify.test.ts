// Webhook delivery against a real local receiver: a failing webhook is retried with backoff and
// then delivered; one that keeps failing is dropped after ALERTS_WEBHOOK_MAX_ATTEMPTS, counted and
// recorded; and with two replicas only the lease holder sends, the other learns from the
// notification log what was sent, and after a failover nothing is sent twice.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { loadConfig, type Env } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { loadStreamRules, startStream, startStreamServer, type RunningStream } from '../../src/stream/index.js';
import { tempDir } from '../support/env.js';
import { event, getJson, send, startReceiver, streamEnv, until, writeRules } from './stream-helpers.js';

async function setup(env: Env) {
  const config = loadConfig(env);
  const kafka = createKafka(config.kafka, silentLogger(), config.kafka.brokers);
  await ensureTopics(kafka, config.kafka);
  return { config, kafka };
}

function metric(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('webhook delivery', () => {
  const dir = tempDir('trackhouse-stream-notify-');
  afterAll(() => dir.remove());

  it('retries a failing webhook with the same id until it answers 2xx, and drops one that never does after the limit', async () => {
    const receiver = await startReceiver();
    const rules = writeRules(dir.path, [
      { name: 'orders', filter: { event: 'Order Completed' }, window: { type: 'tumbling', size: '1d' }, condition: { above: 2 }, webhook: { url: receiver.url } },
      { name: 'signups', filter: { event: 'Signed Up' }, window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url: receiver.url } },
    ]);
    const env = streamEnv(dir.path, { TRACKHOUSE_ALERTS: rules, STREAM_DIR: `${dir.path}/retry`, ALERTS_WEBHOOK_MAX_ATTEMPTS: '4' });
    const { config, kafka } = await setup(env);
    const registry = createRegistry('alerts', false);
    const server = await startStreamServer({ config, kafka, log: silentLogger(), registry, rules: loadStreamRules(config) });
    try {
      receiver.failNext(500, 503);
      const now = Date.now();
      await send(kafka, config.kafka.topics.events, [0, 1, 2].map((i) => event(now + i, { user_id: `u${i}` })));
      const calls = await receiver.waitFor(3, 'two failed attempts and a delivery');
      expect(calls.map((c) => c.answered)).toEqual([500, 503, 200]);
      expect(new Set(calls.map((c) => c.headers['idempotency-key'])).size).toBe(1);
      expect(calls.map((c) => c.headers['x-trackhouse-attempt'])).toEqual(['1', '2', '3']);
      expect(calls[0]!.body).toMatchObject({ rule: 'orders', status: 'alert', value: 3, group: { by: 'none', key: null } });
      const after = await until('the delivery recorded', async () => {
        const a = await getJson(`http://127.0.0.1:${server.port}/v1/alerts`);
        const n = a.body.notifications.find((x: { rule: string }) => x.rule === 'orders');
        return n?.delivery === 'delivered' ? n : undefined;
      });
      expect(after).toMatchObject({ attempts: 3, last_error: null, delivered_by: 'this replica' });

      receiver.failNext(500, 500, 500, 500);
      await send(kafka, config.kafka.topics.events, [event(Date.now(), { event: 'Signed Up' })]);
      await receiver.waitFor(7, 'four failed attempts');
      const dropped = await until('the drop recorded', async () => {
        const a = await getJson(`http://127.0.0.1:${server.port}/v1/alerts`);
        const n = a.body.notifications.find((x: { rule: string }) => x.rule === 'signups');
        return n?.delivery === 'dropped' ? n : undefined;
      });
      expect(dropped).toMatchObject({ attempts: 4, last_error: 'HTTP 500' });
      const text = await registry.metrics();
      expect(metric(text, 'trackhouse_alerts_notifications_total', { rule: 'orders', outcome: 'failed' })).toBe(2);
      expect(metric(text, 'trackhouse_alerts_notifications_total', { rule: 'orders', outcome: 'delivered' })).toBe(1);
      expect(metric(text, 'trackhouse_alerts_notifications_total', { rule: 'signups', outcome: 'failed' })).toBe(3);
      expect(metric(text, 'trackhouse_alerts_notifications_total', { rule: 'signups', outcome: 'dropped' })).toBe(1);
      // No fifth attempt: the receiver saw exactly 3 + 4 calls.
      await sleep(500);
      expect(receiver.calls).toHaveLength(7);
    } finally {
      await server.stop();
      await receiver.close();
    }
  });

  it('with two replicas, only the lease holder sends; after a failover the new leader sends nothing twice', async () => {
    const receiver = await startReceiver();
    const rules = writeRules(dir.path, [
      { name: 'orders', measure: 'count', filter: { event: 'Order Completed' }, group_by: 'user', window: { type: 'tumbling', size: '1d' }, condition: { above: 2 }, webhook: { url: receiver.url } },
    ]);
    const base = streamEnv(dir.path, { TRACKHOUSE_ALERTS: rules });
    const { config: ca, kafka } = await setup({ ...base, STREAM_DIR: `${dir.path}/a` });
    const cb = loadConfig({ ...base, STREAM_DIR: `${dir.path}/b` });
    const start = (config: typeof ca) => startStream({ config, kafka: createKafka(config.kafka, silentLogger(), config.kafka.brokers), log: silentLogger(), registry: createRegistry('alerts', false), rules: loadStreamRules(config) });
    const replicas: RunningStream[] = [await start(ca), await start(cb)];
    try {
      const leader = await until('a leader', async () => replicas.find((r) => r.leader));
      const follower = replicas.find((r) => r !== leader)!;
      expect(follower.leader).toBe(false);
      const now = Date.now();
      await send(kafka, ca.kafka.topics.events, [0, 1, 2].map((i) => event(now + i, { user_id: 'u1' })));
      const [call] = await receiver.waitFor(1, 'the alert for u1');
      expect(call!.body).toMatchObject({ rule: 'orders', status: 'alert', group: { key: 'u1' }, value: 3 });
      // The follower made the same note and learned from the log that the leader delivered it.
      const seen = await until('the follower to read the log', async () => follower.view().notes().find((n) => n.id === call!.body.id && n.status === 'delivered'));
      expect(seen.by).toBe('log');

      await leader.stop();
      replicas.splice(replicas.indexOf(leader), 1);
      await until('the lease to move', async () => follower.leader);
      await send(kafka, ca.kafka.topics.events, [
        event(Date.now(), { user_id: 'u1' }),
        ...[0, 1, 2].map((i) => event(Date.now() + i, { user_id: 'u2' })),
      ]);
      const calls = await receiver.waitFor(2, 'the alert for u2 from the new leader');
      expect(calls.map((c) => c.body.group.key)).toEqual(['u1', 'u2']);
      const u2 = await until('the delivery by the new leader', async () => follower.view().notes().find((n) => n.group === 'u2' && n.status === 'delivered'));
      expect(u2.by).toBe('self');
      expect(receiver.calls).toHaveLength(2);
    } finally {
      for (const r of replicas) await r.stop();
      await receiver.close();
    }
  });
});
