// Helpers for the ingest integration tests: an ingest edge on a free port against the run's real
// broker, HTTP calls, and a reader that collects what landed in the topics.
import net from 'node:net';
import type { Consumer, IHeaders, Kafka } from 'kafkajs';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config, Env } from '../../src/config/index.js';
import { startIngest, type IngestHandle } from '../../src/ingest/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { EventCodec, type EventRecord } from '../../src/schema/index.js';
import { kafkaBrokers, tempDir, testConfig } from '../support/env.js';

export const WRITE_KEY = 'test-write-key';
export const BASIC = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;

export interface TestIngest {
  config: Config;
  kafka: Kafka;
  url: string;
  handle: IngestHandle;
  registry: ReturnType<typeof createRegistry>;
  close(): Promise<void>;
}

export async function startTestIngest(env: Env = {}, brokers: string[] = kafkaBrokers()): Promise<TestIngest> {
  const dir = tempDir('trackhouse-ingest-');
  const config = testConfig(dir.path, { KAFKA_BROKERS: brokers.join(','), ...env });
  const kafka = createKafka(config.kafka, silentLogger(), brokers);
  const registry = createRegistry('ingest', false);
  let handle: IngestHandle;
  try {
    await ensureTopics(kafka, config.kafka);
    handle = await startIngest({ config, log: silentLogger(), registry, brokers });
  } catch (err) {
    dir.remove();
    throw err;
  }
  return {
    config,
    kafka,
    url: `http://127.0.0.1:${handle.port}`,
    handle,
    registry,
    close: async () => {
      await handle.stop();
      dir.remove();
    },
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function post(url: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', authorization: BASIC, ...headers },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
}

export const postJson = (url: string, value: unknown, headers?: Record<string, string>) => post(url, JSON.stringify(value), headers);

export interface Landed {
  topic: string;
  partition: number;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

/** Collects every record of some topics from the beginning, for tests to wait on. */
export class TopicReader {
  readonly records: Landed[] = [];
  readonly codec = new EventCodec();
  private consumer: Consumer | undefined;
  private wakeups: (() => void)[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: string[],
  ) {}

  async start(): Promise<this> {
    const consumer = this.kafka.consumer({ groupId: `reader-${Math.random().toString(36).slice(2)}`, maxWaitTimeInMs: 100 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        this.records.push({
          topic,
          partition,
          key: message.key === null ? null : message.key.toString(),
          value: message.value ?? Buffer.alloc(0),
          headers: headerText(message.headers),
        });
        for (const w of this.wakeups.splice(0)) w();
      },
    });
    return this;
  }

  /** Records of `topic` for which `pick` holds, once at least `count` of them have arrived. */
  async waitFor(topic: string, count: number, pick: (r: Landed) => boolean = () => true, timeoutMs = 60_000): Promise<Landed[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.filter((r) => r.topic === topic && pick(r));
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`only ${found.length} of ${count} records arrived in ${topic}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.wakeups.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Decoded events of the events topic whose event_id starts with `prefix`. */
  async events(topic: string, prefix: string, count: number): Promise<(EventRecord & { key: string | null; partition: number })[]> {
    const landed = await this.waitFor(topic, count, (r) => this.codec.decode(r.value).event_id.startsWith(prefix));
    return landed.map((r) => ({ ...this.codec.decode(r.value), key: r.key, partition: r.partition }));
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

function headerText(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k] = String(Array.isArray(v) ? v[0] : v);
  return out;
}

/** A realistic track call, as analytics-node would send it. */
export function trackEvent(id: string, userId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'track',
    messageId: id,
    userId,
    event: 'Order Completed',
    properties: { orderId: `o-${id}`, total: 99.5, currency: 'EUR', category: 'shoes' },
    context: { library: { name: 'analytics-node', version: '3.1.0' }, ip: '203.0.113.7' },
    timestamp: new Date().toISOString(),
    ...extra,
  };
}

export async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** Sum of a metric's samples whose label text contains every `labels` fragment. */
export function metricValue(text: string, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels.every((l) => line.includes(l))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * A TCP proxy in front of a broker that the test can pause: while paused, what the broker sends
 * back (produce acknowledgements) is held, so requests stay in flight as long as the test wants.
 * The broker must advertise the proxy's port, so clients never connect around it.
 */
export class KafkaProxy {
  target = 0;
  /** Each chunk, both ways, is held this long before it is passed on (a slow network or broker). */
  delayMs = 0;
  private paused = false;
  private held: [net.Socket, Buffer][] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<KafkaProxy> {
    let proxy: KafkaProxy | undefined;
    const server = net.createServer((client) => proxy!.connect(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new KafkaProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  private connect(client: net.Socket): void {
    const upstream = net.connect({ host: '127.0.0.1', port: this.target });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    // Timers of equal delay fire in the order they were set, so bytes keep their order.
    const pass = (to: net.Socket, d: Buffer) => {
      if (this.delayMs === 0) to.write(d);
      else setTimeout(() => to.destroyed || to.write(d), this.delayMs);
    };
    client.on('data', (d) => pass(upstream, d));
    upstream.on('data', (d) => {
      if (this.paused) this.held.push([client, d]);
      else pass(client, d);
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const [s, d] of this.held.splice(0)) if (!s.destroyed) s.write(d);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
