// The README's alert rule, as a user copies it, in the all-in-one (`trackhouse start`, the stream
// hosted by the query): events sent through the ingest's Segment API make one signed webhook call
// with the documented body; /v1/volume, /v1/alerts and GraphQL's volume and alerts say the same, and
// volume counts what the daily rollup counts (a client's resend once).
import { createHmac } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { sendBatch, startAllInOne, type AllInOne } from '../support/allinone.js';
import { tempDir } from '../support/env.js';
import { getJson, startReceiver, until, type Receiver } from './stream-helpers.js';

const SECRET = 'at-least-16-characters';

describe('the README alert rule in the all-in-one', () => {
  const dir = tempDir('th-alerts-aio-');
  let aio: AllInOne | undefined;
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await aio?.stop('SIGTERM');
    await receiver?.close();
    dir.remove();
  });

  it('notifies once, signed, with the documented body; volume, alerts and GraphQL agree; volume counts a resend once, as the rollup', async () => {
    receiver = await startReceiver();
    const rules = path.join(dir.path, 'alerts.yaml');
    // README.md, "Live volume and alerts", with the receiver's URL.
    writeFileSync(
      rules,
      `rules:
  - name: big-spender
    measure: sum            # count | users | sum | rejected | rejected_ratio
    property: total
    filter: { type: track, event: Order Completed }
    group_by: user          # none | source | user | property:<name> | reason
    window: { type: tumbling, size: 1d }   # or { type: sliding, size: 1h, every: 5m }
    condition: { above: 1000 }             # { below: N } | { absent: true }
    webhook: { url: ${receiver.url}, secret: ${SECRET} }
`,
    );
    const id = randomBytes(4).toString('hex');
    aio = await startAllInOne('alerts-aio', {
      TRACKHOUSE_ALERTS: rules,
      KAFKA_TOPIC_ALERTS: `aio-${id}.alerts`,
      KAFKA_TOPIC_ALERTS_LEASE: `aio-${id}.alerts.lease`,
      ALERTS_LEADER_GROUP: `aio-${id}-leader`,
      STREAM_IDLE_GRACE_MS: '2000',
    });
    const q = aio.queryUrl;
    const key = 'dev-read-key';
    await until('the stream to answer', async () => (await getJson(`${q}/v1/alerts`, key)).status === 200, 150_000);
    const order = (messageId: string, total: number) => ({ type: 'track', userId: 'user-42', event: 'Order Completed', messageId, properties: { total } });
    await sendBatch(aio.ingestUrl, [order(`${id}-1`, 600), order(`${id}-2`, 530.5)]);
    const [call] = await receiver.waitFor(1, 'the big-spender alert');
    const body = JSON.parse(call!.raw) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['id', 'rule', 'status', 'group', 'measure', 'property', 'condition', 'value', 'window', 'early', 'decided_at']);
    const day = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
    expect(body).toMatchObject({
      rule: 'big-spender',
      status: 'alert',
      group: { by: 'user', key: 'user-42' },
      measure: 'sum',
      property: 'total',
      condition: { above: 1000 },
      value: 1130.5,
      window: { type: 'tumbling', start: day.toISOString(), end: new Date(day.getTime() + 86_400_000).toISOString(), time: 'event' },
      early: true,
    });
    const ts = call!.headers['x-trackhouse-timestamp'] as string;
    expect(call!.headers['x-trackhouse-signature']).toBe(`t=${ts},v1=${createHmac('sha256', SECRET).update(`${ts}.${call!.raw}`).digest('hex')}`);
    expect(call!.headers['idempotency-key']).toBe(body.id);
    expect(call!.headers['content-type']).toBe('application/json');

    // Another order keeps user-42 above the line: nothing more to say. The client retries it (the
    // same messageId), then sends a sentinel: the same user, so the same partition, read after.
    await sendBatch(aio.ingestUrl, [order(`${id}-3`, 10)]);
    await sendBatch(aio.ingestUrl, [order(`${id}-3`, 10)]);
    await sendBatch(aio.ingestUrl, [{ type: 'track', userId: 'user-42', event: 'Sentinel', messageId: `${id}-s` }]);
    const rows = await until('the sentinel in volume', async () => {
      const r = await getJson(`${q}/v1/volume?by=event&window=day&source=dev`, key);
      return r.body.rows?.some((x: { key: string }) => x.key === 'Sentinel') ? (r.body.rows as { key: string; events: number }[]) : undefined;
    });
    // Three orders, the resend not counted: as ClickHouse's daily rollup counts them.
    expect(rows.find((x) => x.key === 'Order Completed')).toMatchObject({ type: 'track', events: 3, users: 1 });
    const rollup = await until('the orders in the daily rollup', async () => {
      const r = await getJson(`${q}/v1/rollups/daily?by=event&from=${day.toISOString().slice(0, 10)}`, key);
      return r.body.rows?.some((x: { key: string }) => x.key === 'Sentinel') ? r.body.rows.find((x: { key: string }) => x.key === 'Order Completed') : undefined;
    });
    expect(rollup).toMatchObject({ events: 3, users: 1 });
    const alerts = (await getJson(`${q}/v1/alerts?rule=big-spender`, key)).body;
    expect(alerts.rules[0]).toMatchObject({ name: 'big-spender', alerting_count: 1, alerting: [expect.objectContaining({ group: 'user-42', value: 1130.5, current: 1140.5 })] });
    expect(alerts.notifications[0]).toMatchObject({ id: body.id, delivery: 'delivered', attempts: 1 });
    const gql = await fetch(`${q}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ volume(by: event, window: day, source: "dev") { rows { key events } } alerts(rule: "big-spender") { rules { name alertingCount } notifications { id delivery } } }' }),
    });
    const g = (await gql.json()) as { data: { volume: { rows: { key: string; events: number }[] }; alerts: { rules: unknown[]; notifications: { id: string; delivery: string }[] } } };
    expect(g.data.volume.rows).toContainEqual({ key: 'Order Completed', events: 3 });
    expect(g.data.alerts.rules).toEqual([{ name: 'big-spender', alertingCount: 1 }]);
    expect(g.data.alerts.notifications[0]).toEqual({ id: body.id, delivery: 'delivered' });
    const bad = await fetch(`${q}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ volume(from: "yesterday") { rows { key } } }' }),
    });
    const b = (await bad.json()) as { errors: { extensions: { code: string; argument: string } }[] };
    expect(b.errors[0]!.extensions).toMatchObject({ code: 'invalid_parameter', argument: 'from' });
    await sleep(2_000);
    expect(receiver.calls).toHaveLength(1);
  });
});
