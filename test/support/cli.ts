// Runs the built CLI (dist/cli/main.js) as a user does, for tests of whole processes: their
// output, their exit, their children, and the events they take and serve.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processRunning } from '../../src/common/process.js';
import { LOCAL_KAFKA_VERSION } from '../../src/config/index.js';
import { freePort } from '../../src/localkafka/index.js';
import { RUN_TZ } from './env.js';

export const MAIN = path.resolve('dist/cli/main.js');

export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Exit code, or 128 + signal number. */
  readonly exited: Promise<number>;
  /** Resolves once stdout holds `text` (rejects if the process exits first or `guardMs` passes). */
  waitFor(text: string | RegExp, guardMs?: number): Promise<void>;
  /** The JSON log lines of stdout. */
  logs(): Record<string, unknown>[];
}


/** Starts `node dist/cli/main.js <args>` with exactly `env` (plus PATH, HOME and the run's TZ). */
export function runCli(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...RUN_TZ, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // Every signal by its number (SIGABRT 134, SIGSEGV 139), as a shell reports it: a signal missing
  // from a short list read as 128, which looked like an exit code the process chose.
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : osConstants.signals[signal]))));
  const matches = (t: string | RegExp) => (typeof t === 'string' ? out.includes(t) : t.test(out));
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(text, guardMs = 150_000) {
      const deadline = Date.now() + guardMs;
      while (!matches(text)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before printing ${String(text)}:\n${out}\n${err}`);
        if (Date.now() > deadline) throw new Error(`did not print ${String(text)} in time:\n${out}\n${err}`);
        await sleep(100);
      }
    },
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return { unparsable: l };
          }
        }),
  };
}

/**
 * Links the project's Kafka jars into a fresh data dir, so a test's `start` does not run mvn and
 * its broker uses the JVM class archive made beside them (src/localkafka/cds.ts) instead of
 * making one of its own.
 */
export function seedKafkaJars(dataDir: string): void {
  const from = path.resolve('.trackhouse/kafka', LOCAL_KAFKA_VERSION);
  if (!existsSync(from)) return;
  mkdirSync(path.join(dataDir, 'kafka'), { recursive: true });
  symlinkSync(from, path.join(dataDir, 'kafka', LOCAL_KAFKA_VERSION));
}

/**
 * The environment of a `trackhouse start` in `dataDir` with a local broker of its own: the
 * project's Kafka jars linked in (seedKafkaJars), every port free, the SQL ports on free ports
 * too, logs at info. Ports are read back from it (`INGEST_PORT`, ...).
 */
export async function localStartEnv(dataDir: string): Promise<Record<string, string>> {
  seedKafkaJars(dataDir);
  const env: Record<string, string> = { TRACKHOUSE_DATA_DIR: dataDir, BI_PORT: '0', BI_NATIVE_PORT: '0', LOG_LEVEL: 'info' };
  for (const variable of ['INGEST_PORT', 'QUERY_PORT', 'SINK_PORT', 'LOCAL_KAFKA_PORT', 'LOCAL_KAFKA_CONTROLLER_PORT']) env[variable] = String(await freePort());
  return env;
}

/** Child processes of `pid` with their command names. */
export function childrenOf(pid: number): { pid: number; comm: string }[] {
  const r = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [p, ...c] = l.split(/\s+/);
      return { pid: Number(p), comm: c.join(' ') };
    });
}

/** Whether `pid` still runs (a zombie does not): the project's own check. */
export const isAlive = processRunning;

/** POSTs a batch of `n` track events for `user`; the status and the event ids. */
export async function sendBatch(ingestUrl: string, user: string, n: number, tag: string): Promise<{ status: number; ids: string[] }> {
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  const batch = ids.map((id) => ({ type: 'track', messageId: id, userId: user, event: 'Order Completed', properties: { category: 'shoes' }, timestamp: new Date().toISOString() }));
  try {
    const res = await fetch(`${ingestUrl}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('dev-write-key:').toString('base64')}` },
      body: JSON.stringify({ batch }),
      signal: AbortSignal.timeout(60_000),
    });
    await res.arrayBuffer();
    return { status: res.status, ids };
  } catch {
    return { status: 0, ids };
  }
}

/** Sends the batch again until it gets a 200 (a part may still be coming back); its ids. */
export async function sendUntilAcked(ingestUrl: string, user: string, n: number, tag: string, guardMs = 120_000): Promise<string[]> {
  const deadline = Date.now() + guardMs;
  for (;;) {
    const r = await sendBatch(ingestUrl, user, n, tag);
    if (r.status === 200) return r.ids;
    if (Date.now() > deadline) throw new Error(`ingest did not acknowledge ${tag} in time (last status ${r.status})`);
    await sleep(250);
  }
}

/** The event ids the query API holds for `user`, once it holds at least `atLeast` of them. */
export async function storedIds(queryUrl: string, user: string, atLeast: number, guardMs = 120_000): Promise<string[]> {
  const deadline = Date.now() + guardMs;
  let ids: string[] = [];
  for (;;) {
    try {
      const res = await fetch(`${queryUrl}/v1/users/${encodeURIComponent(user)}/events?limit=1000`, { headers: { authorization: 'Bearer dev-read-key' } });
      if (res.ok) ids = ((await res.json()) as { events: { event_id: string }[] }).events.map((e) => e.event_id);
      else await res.arrayBuffer();
    } catch {
      /* the query API may be coming back */
    }
    if (ids.length >= atLeast || Date.now() > deadline) return ids;
    await sleep(250);
  }
}

/** GET a URL: its status and body text (status 0 when nothing answers). */
export async function get(url: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}
