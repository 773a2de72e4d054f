// `trackhouse alerts` killed with SIGKILL between the state write (the transaction holding the
// notification) and the webhook call (the STREAM_TEST_KILL_BEFORE_WEBHOOK hook), then started
// again on the same store: the receiver gets the notification exactly once, signed, with the id
// it would have had, and events that keep the group above the line notify nothing more.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/common/log.js';
import { tempDir } from '../support/env.js';
import { event, getJson, send, spawnAlerts, startReceiver, streamEnv, writeRules, type AlertsChild, type Receiver } from './stream-helpers.js';

const SECRET = 'test-signing-secret-0123';

describe('trackhouse alerts killed before the webhook call', () => {
  const dir = tempDir('trackhouse-stream-crash-');
  let receiver: Receiver;
  let child: AlertsChild | undefined;

  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    if (child && child.proc.exitCode === null && child.proc.signalCode === null) {
      child.proc.kill('SIGKILL');
      await child.exit;
    }
    await receiver.close();
    dir.remove();
  });

  it('notifies a threshold crossed once exactly once, across the kill -9', async () => {
    const rules = writeRules(dir.path, [
      {
        name: 'big-spender',
        measure: 'sum',
        property: 'total',
        filter: { event: 'Order Completed' },
        group_by: 'user',
        window: { type: 'tumbling', size: '1d' },
        condition: { above: 100 },
        webhook: { url: receiver.url, headers: { 'x-team': 'shop' }, secret: SECRET },
      },
      { name: 'sentinel', filter: { event: 'Sentinel' }, window: { type: 'tumbling', size: '1d' }, condition: { above: 0 }, webhook: { url: receiver.url } },
    ]);
    const env = streamEnv(dir.path, { TRACKHOUSE_ALERTS: rules });
    const config = loadConfig(env);
    const kafka = createKafka(config.kafka, silentLogger(), config.kafka.brokers);
    await ensureTopics(kafka, config.kafka);

    child = spawnAlerts({ ...env, STREAM_TEST_KILL_BEFORE_WEBHOOK: '1' });
    const port = await child.port;
    // Ready once caught up (empty topics: at once).
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect([200, 503]).toContain(ready.status);
    const now = Date.now();
    await send(kafka, config.kafka.topics.events, [
      event(now, { user_id: 'u1', properties: '{"total":60}' }),
      event(now + 1, { user_id: 'u2', properties: '{"total":10}' }),
      event(now + 2, { user_id: 'u1', properties: '{"total":50}' }),
    ]);
    const killed = await child.exit;
    expect(killed.signal, child.log.join('\n')).toBe('SIGKILL');
    expect(receiver.calls).toHaveLength(0);

    child = spawnAlerts(env);
    const port2 = await child.port;
    const [first] = await receiver.waitFor(1, 'the notification after the restart');
    expect(first!.body).toMatchObject({ rule: 'big-spender', status: 'alert', group: { by: 'user', key: 'u1' }, value: 110 });
    expect(first!.headers['idempotency-key']).toBe(first!.body.id);
    expect(first!.headers['x-team']).toBe('shop');
    const ts = first!.headers['x-trackhouse-timestamp'] as string;
    const expected = `t=${ts},v1=${createHmac('sha256', SECRET).update(`${ts}.${first!.raw}`).digest('hex')}`;
    expect(first!.headers['x-trackhouse-signature']).toBe(expected);

    // More for u1 (still above: nothing to say), then a sentinel of the same user (so the same
    // partition, read after it): once its call arrives, every note made before it was sent, so a
    // duplicate would be here.
    await send(kafka, config.kafka.topics.events, [event(Date.now(), { user_id: 'u1', properties: '{"total":30}' })]);
    await send(kafka, config.kafka.topics.events, [event(Date.now(), { user_id: 'u1', event: 'Sentinel' })]);
    const calls = await receiver.waitFor(2, 'the sentinel notification');
    expect(calls.map((c) => c.body.rule)).toEqual(['big-spender', 'sentinel']);

    const alerts = await getJson(`http://127.0.0.1:${port2}/v1/alerts`);
    expect(alerts.status).toBe(200);
    const spender = alerts.body.rules.find((r: { name: string }) => r.name === 'big-spender');
    expect(spender.alerting).toEqual([expect.objectContaining({ group: 'u1', value: 110, current: 140 })]);
    const note = alerts.body.notifications.find((n: { id: string }) => n.id === first!.body.id);
    expect(note).toMatchObject({ delivery: 'delivered', attempts: 1, delivered_by: 'this replica' });

    child.proc.kill('SIGTERM');
    expect((await child.exit).code).toBe(0);
    expect(receiver.calls).toHaveLength(2);
  });
});
