// Helpers of the stream (volume and alerts) integration tests: a real HTTP receiver for the
// webhooks, events written to the run's real broker, `trackhouse alerts` as a child process.
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { Env } from '../../src/config/index.js';
import { EventCodec, type EventRecord } from '../../src/schema/index.js';
import { kafkaBrokers, uniqueTopicEnv } from '../support/env.js';
import { eventRecord } from '../support/events.js';
import { spawnWithPort, type PortProcess } from '../support/portproc.js';

const codec = new EventCodec();
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Call {
  /** The request's path and query. */
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: {
    id: string;
    rule: string;
    status: 'alert' | 'recovered';
    group: { by: string; key: string | null };
    value: number;
    window: { start: string; end: string };
  };
  /** What the receiver answered. */
  answered: number;
}

/**
 * How the receiver answers one call: a status; `close` (the socket destroyed once the body is
 * read, no answer); `hang` (never answers: the sender's timeout decides); a redirect to `location`.
 */
export type Answer = number | 'close' | 'hang' | { redirect: 301 | 302 | 307 | 308; location: string };

export interface Receiver {
  readonly url: string;
  readonly calls: Call[];
  /** Requests being answered now, and the most there ever were at once. */
  readonly open: { now: number; max: number };
  /** How to answer the next calls, in order; 200 once they are used up. */
  failNext(...answers: Answer[]): void;
  /** Answers every call left hanging (and still connected) with `status`; returns how many. */
  release(status?: number): number;
  waitFor(n: number, what?: string, timeoutMs?: number): Promise<Call[]>;
  close(): Promise<void>;
}

/** A real webhook receiver on a free port. */
export async function startReceiver(): Promise<Receiver> {
  const calls: Call[] = [];
  const script: Answer[] = [];
  const open = { now: 0, max: 0 };
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    open.max = Math.max(open.max, ++open.now);
    res.on('close', () => open.now--);
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const answer = script.shift() ?? 200;
      const answered = typeof answer === 'number' ? answer : answer === 'close' || answer === 'hang' ? 0 : answer.redirect;
      calls.push({ url: req.url ?? '', headers: req.headers, raw, body: JSON.parse(raw) as Call['body'], answered });
      if (answer === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      if (answer === 'close') return void req.socket.destroy();
      if (typeof answer === 'object') res.setHeader('location', answer.location);
      res.statusCode = answered;
      res.end(answered === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    calls,
    open,
    failNext: (...s) => script.push(...s),
    release(status = 200) {
      const n = hanging.size;
      for (const res of hanging) {
        res.statusCode = status;
        res.end('late');
      }
      hanging.clear();
      return n;
    },
    async waitFor(n, what = `${n} webhook calls`, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      while (calls.length < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${calls.length}: ${calls.map((c) => c.raw).join('\n')}`);
        await sleep(50);
      }
      return calls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Topic, group and store names no other test uses. */
export function streamEnv(dir: string, extra: Env = {}): Env {
  const id = randomBytes(4).toString('hex');
  return {
    ...uniqueTopicEnv('stream'),
    KAFKA_BROKERS: kafkaBrokers().join(','),
    KAFKA_PARTITIONS: '3',
    KAFKA_TOPIC_ALERTS: `stream-${id}.alerts`,
    KAFKA_TOPIC_ALERTS_LEASE: `stream-${id}.alerts.lease`,
    ALERTS_LEADER_GROUP: `stream-${id}-leader`,
    ALERTS_LEASE_SESSION_TIMEOUT_MS: '6000',
    TRACKHOUSE_DATA_DIR: dir,
    STREAM_DIR: path.join(dir, 'stream'),
    STREAM_PORT: '0',
    HOST: '127.0.0.1',
    TRACKHOUSE_READ_KEYS: 'test-read-key',
    LOG_LEVEL: 'silent',
    STREAM_FETCH_MAX_WAIT_MS: '50',
    STREAM_IDLE_GRACE_MS: '2000',
    ALERTS_WEBHOOK_BACKOFF_BASE_MS: '50',
    ALERTS_WEBHOOK_BACKOFF_MAX_MS: '200',
    ...extra,
  };
}

export function writeRules(dir: string, rules: unknown[]): string {
  const file = path.join(dir, `rules-${randomBytes(3).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify({ rules }));
  return file;
}

/** An event at time `t` (event time and arrival), of `user`, with properties. */
export function event(t: number, over: Partial<EventRecord> = {}): EventRecord {
  return eventRecord({ event_id: randomUUID(), event: 'Order Completed', user_id: 'user-1', timestamp: t, received_at: t, ...over });
}

/** Writes events keyed by user (as the edge does), and rejected records with their headers. */
export async function send(kafka: Kafka, topic: string, events: readonly EventRecord[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: e.user_id ?? e.anonymous_id, value: codec.encode(e) })) });
  } finally {
    await producer.disconnect();
  }
}

export async function sendRejected(kafka: Kafka, topic: string, records: readonly { source: string; code: string; at: number }[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: records.map((r) => ({ key: null, value: Buffer.from('{"bad":true}'), headers: { error_code: r.code, reason: 'test', source: r.source, endpoint: '/v1/track', received_at: new Date(r.at).toISOString() } })),
    });
  } finally {
    await producer.disconnect();
  }
}

export async function getJson<T = any>(url: string, key = 'test-read-key'): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as T };
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export type AlertsChild = PortProcess;

/** `trackhouse alerts` as its own process (the TypeScript sources, through tsx). */
export function spawnAlerts(env: Env): AlertsChild {
  return spawnWithPort(['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'alerts'], {
    cwd: root,
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    portLine: '"alerts listening"',
  });
}
