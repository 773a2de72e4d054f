// A client's resend of an event the stream counted before a restart (or an upgrade) is not counted
// again: the stream keeps its resend windows in its store with the offsets they reflect, and a
// store without them (written by a version before they were kept, or killed before its first
// save) has them rebuilt from the events topic at start. As the sink and the view drop the same
// resends, live volume keeps agreeing with ClickHouse across restarts.
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { loadConfig, type Env } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { EventCodec, type EventRecord } from '../../src/schema/index.js';
import { startStreamServer, type StreamServer } from '../../src/stream/index.js';
import { openStore } from '../../src/stream/store.js';
import { tempDir } from '../support/env.js';
import { event, getJson, send, streamEnv, until } from './stream-helpers.js';

const MIN = 60_000;

describe('stream resend windows across restarts', () => {
  const dir = tempDir('th-stream-resends-restart-');
  let server: StreamServer | null = null;
  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      dir.remove();
    }
  });

  it('counts a resend of an event read before a clean restart, and before a start on a store without saved windows, once', async () => {
    const env: Env = streamEnv(dir.path, { STREAM_ALLOWED_LATENESS_MS: String(10 * MIN) });
    const config = loadConfig(env);
    const kafka = createKafka(config.kafka, silentLogger(), config.kafka.brokers);
    await ensureTopics(kafka, config.kafka);
    const start = async () => {
      server = await startStreamServer({ config, kafka, log: silentLogger(), registry: createRegistry('alerts', false), rules: [] });
      return `http://127.0.0.1:${server.port}`;
    };
    const stop = async () => {
      await server!.stop();
      server = null;
    };
    const now = Date.now();
    let sentinels = 0;
    /** Sends `events`, then one sentinel per partition; resolves with the events counted (sentinels left out) once every sentinel is. */
    const sendAndCount = async (base: string, events: readonly EventRecord[]): Promise<number> => {
      await send(kafka, config.kafka.topics.events, events);
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      await producer.send({ topic: config.kafka.topics.events, acks: -1, messages: [0, 1, 2].map((partition) => ({ partition, key: 'sentinel', value: sentinelValue(now) })) });
      await producer.disconnect();
      sentinels += 3;
      const from = new Date(Math.floor((now - 5 * MIN) / MIN) * MIN).toISOString();
      const to = new Date(Math.floor(now / MIN) * MIN + MIN).toISOString();
      return until('the sentinels counted', async () => {
        const r = await getJson<{ rows: { key: string; events: number }[] }>(`${base}/v1/volume?by=source&window=minute&from=${from}&to=${to}`);
        const rows = r.body.rows ?? [];
        const seen = rows.filter((x) => x.key === 'sentinel').reduce((n, x) => n + x.events, 0);
        return seen === sentinels ? rows.filter((x) => x.key !== 'sentinel').reduce((n, x) => n + x.events, 0) : undefined;
      });
    };

    const first = Array.from({ length: 90 }, (_, i) => event(now - (i % 50) * 1000, { user_id: `u${i % 7}`, received_at: now }));
    let base = await start();
    await until('caught up', async () => (await fetch(`${base}/readyz`)).status === 200);
    expect(await sendAndCount(base, first)).toBe(90);
    await stop();

    // A clean restart: resends of 30 events counted before it, and 10 new events.
    base = await start();
    const resent1 = first.slice(0, 30).map((e) => ({ ...e, received_at: now + 1000 }));
    const new1 = Array.from({ length: 10 }, (_, i) => event(now - i * 1000, { user_id: `n${i % 3}`, received_at: now + 1000 }));
    expect(await sendAndCount(base, [...resent1, ...new1])).toBe(100);
    await stop();

    // The store as a version that kept no windows left it: the windows are rebuilt from the topic.
    const store = openStore(config.stream.dir);
    await store.dbs.root.transaction(() => {
      for (const { key } of store.dbs.root.openDB({ name: 'windows' }).getRange({})) store.dbs.root.openDB({ name: 'windows' }).remove(key);
    });
    await store.close();
    base = await start();
    const resent2 = first.slice(30, 60).map((e) => ({ ...e, received_at: now + 2000 }));
    const new2 = Array.from({ length: 10 }, (_, i) => event(now - i * 1000, { user_id: `m${i % 3}`, received_at: now + 2000 }));
    expect(await sendAndCount(base, [...resent2, ...new2])).toBe(110);
    await stop();
  }, 360_000);
});

const codec = new EventCodec();
function sentinelValue(t: number): Buffer {
  return codec.encode(event(t, { user_id: 'sentinel', source: 'sentinel' }));
}
