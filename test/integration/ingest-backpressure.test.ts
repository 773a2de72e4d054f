// Kafka stopped, slow or back again, and shutdown: every request gets an answer, memory stays
// bounded, nothing unacknowledged gets a 200, and ingest recovers without a restart.
// Uses a broker of its own (this file stops it), reached through a pausable proxy.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { LOCAL_KAFKA_VERSION } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { freePort, startLocalBroker, type LocalBroker, type LocalBrokerOptions } from '../../src/localkafka/index.js';
import { tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import {
  KafkaProxy,
  metricsText,
  metricValue,
  postJson,
  startTestIngest,
  TopicReader,
  trackEvent,
  type TestIngest,
} from './ingest-support.js';

const dir = tempDir('trackhouse-backpressure-');
let proxy: KafkaProxy;
let broker: LocalBroker;
let brokerOpts: LocalBrokerOptions;
let brokers: string[];

beforeAll(async () => {
  proxy = await KafkaProxy.start();
  brokerOpts = {
    dataDir: dir.path,
    cacheDir: path.resolve('.trackhouse'),
    version: LOCAL_KAFKA_VERSION,
    port: await freePort(),
    controllerPort: await freePort(),
    instance: 'backpressure',
    heapMb: 384,
    properties: { 'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}` },
  };
  broker = await startLocalBroker(brokerOpts);
  proxy.target = broker.port;
  brokers = [`127.0.0.1:${proxy.port}`];
});

afterAll(async () => {
  await broker?.stop();
  await proxy?.close();
  dir.remove();
});

/** A client-side guard so a hung request fails the test instead of hanging it (not a timing claim). */
const guard = () => AbortSignal.timeout(60_000);

const batchOf = (n: number, user: string) => ({ batch: Array.from({ length: n }, () => trackEvent(randomUUID(), user)) });

describe('Kafka stopped, then back', () => {
  let ingest: TestIngest;
  afterAll(async () => ingest?.close());

  it('answers 503 + Retry-After within the ack deadline, bounds memory, and delivers again once Kafka returns', async () => {
    ingest = await startTestIngest({ INGEST_ACK_TIMEOUT_MS: '1500', INGEST_MAX_PENDING_BYTES: String(1024 * 1024) }, brokers);
    const url = ingest.url;
    expect((await postJson(`${url}/v1/track`, trackEvent(randomUUID(), 'warm'))).status).toBe(200);

    await broker.stop();
    // 40 requests at once: single events and 250-event batches (~2 MB, twice the pending bound).
    const replies = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const body = i % 2 === 0 ? trackEvent(randomUUID(), `down-${i}`) : batchOf(250, `down-${i}`);
        const res = await fetch(`${url}/v1/${i % 2 === 0 ? 'track' : 'batch'}`, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('test-write-key:').toString('base64')}` },
          signal: guard(),
        });
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { code: string } };
      }),
    );
    for (const r of replies) {
      expect(r.status).toBe(503);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
      expect(['kafka_unavailable', 'overloaded']).toContain(r.body.code);
    }
    expect(replies.some((r) => r.body.code === 'overloaded')).toBe(true);
    const text = await metricsText(url);
    expect(metricValue(text, 'trackhouse_ingest_pending_bytes')).toBeLessThanOrEqual(1024 * 1024);
    expect(metricValue(text, 'trackhouse_ingest_requests_total', 'status="200"')).toBe(1);
    const ready = await fetch(`${url}/readyz`, { signal: guard() });
    expect(ready.status).toBe(503);

    // Kafka comes back on the same port and data; the same ingest delivers again.
    broker = await startLocalBroker(brokerOpts);
    const id = `back-${randomUUID()}`;
    let status = 0;
    for (let attempt = 0; attempt < 120 && status !== 200; attempt++) {
      status = (await postJson(`${url}/v1/track`, trackEvent(id, 'back'))).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(200);
    const reader = await new TopicReader(ingest.kafka, [ingest.config.kafka.topics.events]).start();
    try {
      const got = await reader.events(ingest.config.kafka.topics.events, id, 1);
      expect(got[0]!.user_id).toBe('back');
    } finally {
      await reader.stop();
    }
    expect((await fetch(`${url}/readyz`, { signal: guard() })).status).toBe(200);
  });
});

describe('graceful SIGTERM of the built CLI', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('says not ready, refuses new work, answers the requests in flight with 200 once Kafka acks, and exits 0', async () => {
    const cli = path.resolve('dist/cli/main.js');
    if (!existsSync(cli)) throw new Error('dist/cli/main.js is missing: run npm run build first (npm test does)');
    const topics = uniqueTopicEnv('sigterm');
    const cfg = testConfig(dir.path, { ...topics, KAFKA_BROKERS: brokers.join(',') });
    await ensureTopics(createKafka(cfg.kafka, silentLogger(), brokers), cfg.kafka);
    child = spawn(process.execPath, [cli, 'ingest'], {
      env: {
        ...process.env,
        ...topics,
        KAFKA_BROKERS: brokers.join(','),
        KAFKA_PARTITIONS: '3',
        TRACKHOUSE_WRITE_KEYS: 'test-write-key:test',
        TRACKHOUSE_DATA_DIR: dir.path,
        INGEST_PORT: '0',
        INGEST_ACK_TIMEOUT_MS: '60000',
        SHUTDOWN_TIMEOUT_MS: '90000',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      child!.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      void exited.then((code) => reject(new Error(`ingest exited (${code}) before listening:\n${out}`)));
    });
    expect((await postJson(`${url}/v1/track`, trackEvent(randomUUID(), 'warm'))).status).toBe(200);

    // Hold Kafka's acknowledgements so 10 requests are surely in flight when the signal comes.
    proxy.pause();
    const prefix = `sigterm-${randomUUID()}-`;
    const inFlight = Array.from({ length: 10 }, (_, i) => postJson(`${url}/v1/batch`, { batch: [trackEvent(`${prefix}${i}`, `sig-${i}`)] }));
    for (let i = 0; i < 200; i++) {
      if (metricValue(await metricsText(url), 'trackhouse_ingest_requests_in_flight') === 10) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(metricValue(await metricsText(url), 'trackhouse_ingest_requests_in_flight')).toBe(10);

    child.kill('SIGTERM');
    let ready: Response | undefined;
    for (let i = 0; i < 100; i++) {
      ready = await fetch(`${url}/readyz`);
      if (ready.status === 503) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready!.status).toBe(503);
    expect(await ready!.json()).toMatchObject({ ready: false, checks: { draining: expect.any(String) } });
    const late = await postJson(`${url}/v1/track`, trackEvent(randomUUID(), 'late'));
    expect(late.status).toBe(503);
    expect(late.body.code).toBe('draining');
    expect(late.headers.get('retry-after')).not.toBeNull();

    proxy.resume();
    const replies = await Promise.all(inFlight);
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await exited).toBe(0);

    const reader = await new TopicReader(createKafka(cfg.kafka, silentLogger(), brokers), [cfg.kafka.topics.events]).start();
    try {
      expect(await reader.events(cfg.kafka.topics.events, prefix, 10)).toHaveLength(10);
    } finally {
      await reader.stop();
    }
  });
});
