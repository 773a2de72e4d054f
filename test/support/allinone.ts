// `trackhouse start` (the built CLI) on the run's broker, as a user starts it, for the browser
// tests: free ports, fresh topics and data dir; resolves once it prints that it is up.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/localkafka/index.js';
import { kafkaBrokers, RUN_TZ, tempDir, uniqueTopicEnv } from './env.js';

const MAIN = path.resolve('dist/cli/main.js');

export interface AllInOne {
  readonly ingestUrl: string;
  /** http://127.0.0.1:<query port> */
  readonly queryUrl: string;
  /** http://127.0.0.1:<sink port>: its /healthz, /readyz and /metrics. */
  readonly sinkUrl: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** Its exit code, once it exits. */
  readonly exited: Promise<number>;
  output(): string;
  /** Sends `signal` (SIGKILL by default) if still running and waits for the exit; removes the data dir. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Posts a batch to the all-in-one's ingest with the dev write key; the answer, whatever it is.
 * A string is the batch's JSON array text as sent (for numbers JSON.stringify cannot write).
 */
export function postBatch(ingestUrl: string, batch: object[] | string): Promise<Response> {
  return fetch(`${ingestUrl}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('dev-write-key:').toString('base64')}` },
    body: typeof batch === 'string' ? `{"batch":${batch}}` : JSON.stringify({ batch }),
  });
}

/** postBatch, throwing unless the ingest answers 200. */
export async function sendBatch(ingestUrl: string, batch: object[] | string): Promise<void> {
  const res = await postBatch(ingestUrl, batch);
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

const WIDE_SENT = '{"order_id":12345678901234567891,"min":-9223372036854775808,"next":9007199254740993,"count":3,"ratio":0.5}';

/**
 * Properties holding integers a double rounds (a UInt64, Int64's minimum, 2^53 + 1) beside ordinary
 * numbers: `sent` as JSON text (the ingest and the API keep those digits), `rounded` as
 * JSON.parse then JSON.stringify show it.
 */
export const WIDE_PROPERTIES = { sent: WIDE_SENT, rounded: JSON.stringify(JSON.parse(WIDE_SENT)) } as const;

/** The text of the query API's first page of `user`'s events (dev read key). */
export async function userEventsText(queryUrl: string, user: string): Promise<string> {
  const res = await fetch(`${queryUrl}/v1/users/${encodeURIComponent(user)}/events`, { headers: { authorization: 'Bearer dev-read-key' } });
  return res.text();
}

export async function startAllInOne(name: string, env: Record<string, string> = {}): Promise<AllInOne> {
  const dir = tempDir(`trackhouse-${name}-`);
  const ports = { ingest: await freePort(), query: await freePort(), sink: await freePort() };
  const child = spawn(process.execPath, [MAIN, 'start'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...RUN_TZ,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_PARTITIONS: '3',
      ...(uniqueTopicEnv(name) as Record<string, string>),
      TRACKHOUSE_DATA_DIR: dir.path,
      INGEST_PORT: String(ports.ingest),
      QUERY_PORT: String(ports.query),
      SINK_PORT: String(ports.sink),
      // The SQL ports on free ports: the defaults, ClickHouse's 8123 and 9000, are one port for every test at once.
      BI_PORT: '0',
      BI_NATIVE_PORT: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null) {
      child.kill(signal);
      await exited;
    }
    dir.remove();
  };
  const deadline = Date.now() + 150_000;
  while (!output.includes('Ctrl-C drains and stops everything')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`trackhouse start ${child.exitCode !== null ? `exited with ${child.exitCode}` : 'did not come up'}:\n${output}`);
    }
    await sleep(100);
  }
  return { ingestUrl: `http://127.0.0.1:${ports.ingest}`, queryUrl: `http://127.0.0.1:${ports.query}`, sinkUrl: `http://127.0.0.1:${ports.sink}`, child, exited, output: () => output, stop };
}

const DAY_MS = 86_400_000;

/**
 * Returns at once when at least `needMs` is left of the current UTC day, else once the next day
 * has begun: for a suite that sends events and then reads "today" (the dashboard's top events),
 * which a run crossing midnight UTC would find empty from then on.
 */
export async function withinOneUtcDay(needMs: number): Promise<void> {
  const left = DAY_MS - (Date.now() % DAY_MS);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 1_000));
}
