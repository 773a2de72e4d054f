// SIGTERM of the built CLI with SHUTDOWN_DRAIN_DELAY_MS: for that long the port stays open, and a
// probe on a new connection (as a load balancer or the kubelet makes) gets 503 from /readyz, and a
// new API request 503 + Retry-After + Connection: close; then the process stops and exits 0.
// Before, query and sink closed their port as soon as the stop began (a new probe got a refused
// connection), and ingest kept it open only while requests were in flight.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';

const MAIN = path.resolve('dist/cli/main.js');
/** Long enough that the probes below surely fall inside it; the test never measures it. */
const DRAIN_DELAY_MS = '5000';

const dir = tempDir('trackhouse-drain-');
afterAll(() => dir.remove());

let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
});

interface Running {
  port: number;
  exited: Promise<number | null>;
}

/** Starts `trackhouse <command>` and resolves once the JSON log line `message` gave its port. */
async function startCli(command: string, message: string, env: Record<string, string>): Promise<Running> {
  if (!existsSync(MAIN)) throw new Error('dist/cli/main.js is missing: run npm run build first (npm test does)');
  const proc = spawn(process.execPath, [MAIN, command], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      SHUTDOWN_DRAIN_DELAY_MS: DRAIN_DELAY_MS,
      SHUTDOWN_TIMEOUT_MS: '60000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes(message)) continue;
        const entry = JSON.parse(line) as { port?: number; url?: string };
        resolve(entry.port ?? Number(new URL(entry.url!).port));
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => reject(new Error(`trackhouse ${command} exited (${code}) before listening:\n${out}`)));
  });
  return { port, exited };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * One request on a connection of its own, as a fresh probe makes it. It asks for keep-alive, as
 * load balancers and clients do, so a server that closes the connection must say so (uWS leaves
 * `Connection: close` out when the request itself carried it).
 */
function request(port: number, method: string, urlPath: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  }).finally(() => agent.destroy());
}

/**
 * SIGTERM, then /readyz on new connections until it says 503 (the signal takes a moment to land),
 * then on a few more new connections: each must still be accepted and answered 503. (One early
 * probe can be accepted just before a port closes, so a single 503 would prove little.)
 */
async function terminateAndProbe(run: Running): Promise<Answer> {
  expect((await request(run.port, 'GET', '/readyz')).status).toBe(200);
  child!.kill('SIGTERM');
  let ready = await request(run.port, 'GET', '/readyz');
  for (let i = 0; i < 100 && ready.status !== 503; i++) {
    await sleep(20);
    ready = await request(run.port, 'GET', '/readyz');
  }
  expect(ready.status).toBe(503);
  for (let i = 0; i < 3; i++) {
    await sleep(100);
    ready = await request(run.port, 'GET', '/readyz');
    expect(ready.status).toBe(503);
  }
  return ready;
}

describe('drain delay on SIGTERM', () => {
  it('query: a new probe gets 503 from /readyz and a new request 503 + Retry-After + Connection: close, then exit 0', async () => {
    const dataDir = path.join(dir.path, 'query');
    // The events table, for the pages the view cannot answer yet.
    const migrated = spawnSync(process.execPath, [MAIN, 'migrate'], { env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', TRACKHOUSE_DATA_DIR: dataDir } });
    expect(migrated.status, migrated.stderr?.toString()).toBe(0);
    // The query API reads its view of the events topic from Kafka.
    const topics = uniqueTopicEnv('drain') as Record<string, string>;
    const run = await startCli('query', '"query API listening"', {
      ...topics,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      QUERY_PORT: '0',
      TRACKHOUSE_READ_KEYS: 'test-read-key',
      TRACKHOUSE_DATA_DIR: dataDir,
    });
    // Ready once its (empty) view has caught up.
    for (let i = 0; i < 600 && (await request(run.port, 'GET', '/readyz')).status !== 200; i++) await sleep(100);
    const ready = await terminateAndProbe(run);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, checks: { draining: expect.any(String) } });
    const late = await request(run.port, 'GET', '/v1/users/u1/events', { authorization: 'Bearer test-read-key' });
    expect(late.status).toBe(503);
    expect(late.body).toMatchObject({ error: 'draining' });
    expect(late.headers['retry-after']).toBeDefined();
    expect(late.headers.connection).toBe('close');
    expect(await run.exited).toBe(0);
  });

  it('sink: a new probe gets 503 from /readyz on SINK_PORT, then exit 0', async () => {
    const topics = uniqueTopicEnv('drain') as Record<string, string>;
    const cfg = testConfig(dir.path, topics);
    await ensureTopics(createKafka(cfg.kafka, silentLogger(), kafkaBrokers()), cfg.kafka);
    const run = await startCli('sink', 'sink ops endpoints listening', {
      ...topics,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      SINK_PORT: '0',
      SINK_WORKERS: '1',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, 'sink'),
    });
    const ready = await terminateAndProbe(run);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, checks: { draining: expect.any(String) } });
    expect(await run.exited).toBe(0);
  });

  it.each(['1', '2'])('ingest (INGEST_THREADS=%s) with no request in flight: a new probe gets 503 and a new request 503 draining, then exit 0', async (threads) => {
    const topics = uniqueTopicEnv('drain') as Record<string, string>;
    const run = await startCli('ingest', 'ingest listening', {
      ...topics,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_PARTITIONS: '1',
      INGEST_PORT: '0',
      INGEST_THREADS: threads,
      TRACKHOUSE_WRITE_KEYS: 'test-write-key:test',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, 'ingest'),
    });
    const ready = await terminateAndProbe(run);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, checks: { draining: expect.any(String) } });
    const late = await request(
      run.port,
      'POST',
      '/v1/track',
      { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('test-write-key:').toString('base64')}` },
      JSON.stringify({ userId: 'u1', event: 'Late' }),
    );
    expect(late.status).toBe(503);
    expect(late.body).toMatchObject({ code: 'draining' });
    expect(late.headers['retry-after']).toBeDefined();
    expect(late.headers.connection).toBe('close');
    expect(await run.exited).toBe(0);
  });
});
