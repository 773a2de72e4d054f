// SHUTDOWN_TIMEOUT_MS is a hard bound: after SIGTERM `ingest`, `sink` and `start` exit within it
// whatever Kafka does (the broker stopped, paused with SIGSTOP, or slow behind a proxy that holds
// every chunk), and `query` does whatever ClickHouse does (a server that never answers). Exit 0
// means nothing was given up; any other code comes with an error line saying what was left.
//
// Uses a broker of its own (this file stops and pauses it), reached through a proxy that can
// delay bytes. The only time asserted is the contract: SHUTDOWN_TIMEOUT_MS plus a generous margin
// for a loaded machine to start and end a process.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_KAFKA_VERSION } from '../../src/config/index.js';
import { freePort, startLocalBroker, type LocalBroker, type LocalBrokerOptions } from '../../src/localkafka/index.js';
import { childrenOf, get, isAlive, runCli, sendBatch, sendUntilAcked, type CliProcess } from '../support/cli.js';
import { kafkaBrokers, tempDir, uniqueTopicEnv } from '../support/env.js';
import { logProblems } from '../support/logkeys.js';
import { KafkaProxy } from './ingest-support.js';

const TIMEOUT_MS = 6_000;
const MARGIN_MS = 10_000;

const dir = tempDir('trackhouse-shutdown-bound-');
let proxy: KafkaProxy;
let broker: LocalBroker;
let brokerOpts: LocalBrokerOptions;
const started: CliProcess[] = [];

beforeAll(async () => {
  proxy = await KafkaProxy.start();
  brokerOpts = {
    dataDir: dir.path,
    cacheDir: path.resolve('.trackhouse'),
    version: LOCAL_KAFKA_VERSION,
    port: await freePort(),
    controllerPort: await freePort(),
    instance: 'bound',
    heapMb: 384,
    properties: { 'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}` },
  };
  broker = await startLocalBroker(brokerOpts);
  proxy.target = broker.port;
});

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await broker?.stop();
  await proxy?.close();
  dir.remove();
});

function run(args: string[], env: Record<string, string>): CliProcess {
  const p = runCli(args, { SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS), LOG_LEVEL: 'info', ...env });
  started.push(p);
  return p;
}

/** SIGTERM, then the exit code and how long it took. */
async function terminate(p: CliProcess): Promise<{ code: number; ms: number }> {
  const t0 = performance.now();
  p.child.kill('SIGTERM');
  const code = await p.exited;
  return { code, ms: performance.now() - t0 };
}

/** An error line saying what a stop gave up on (the lifecycle's bound, ingest's unacknowledged requests, a child's exit). */
function leftLine(p: CliProcess): string | undefined {
  return p
    .stdout()
    .split('\n')
    .find((l) => l.startsWith('{') && /"level":(50|60)/.test(l) && /SHUTDOWN_TIMEOUT_MS \(\d+ ms\) passed|not acknowledged by Kafka|exited with code/.test(l));
}

type Fault = 'stopped' | 'paused' | 'slow';

async function applyFault(fault: Fault): Promise<() => Promise<void>> {
  if (fault === 'stopped') {
    await broker.stop();
    return async () => {
      broker = await startLocalBroker(brokerOpts);
    };
  }
  if (fault === 'paused') {
    const jvm = childrenOf(broker.pid).find((c) => c.comm === 'java')!;
    process.kill(jvm.pid, 'SIGSTOP');
    return async () => {
      process.kill(jvm.pid, 'SIGCONT');
    };
  }
  proxy.delayMs = 3_000;
  return async () => {
    proxy.delayMs = 0;
  };
}

describe.each<Fault>(['stopped', 'paused', 'slow'])('SIGTERM with the broker %s', (fault) => {
  it('ingest, sink and start each exit within SHUTDOWN_TIMEOUT_MS; non-zero only with a line saying what was left', { timeout: 300_000 }, async () => {
    const kafka = { KAFKA_BROKERS: `127.0.0.1:${proxy.port}`, ...uniqueTopicEnv(`bound-${fault}`) } as Record<string, string>;
    const sinkDir = tempDir('trackhouse-bound-sink-');
    const startDir = tempDir('trackhouse-bound-start-');
    try {
      const ports = { ingest: await freePort(), sink: await freePort(), startIngest: await freePort(), startQuery: await freePort(), startSink: await freePort() };
      const ingest = run(['ingest'], { ...kafka, INGEST_PORT: String(ports.ingest), TRACKHOUSE_WRITE_KEYS: 'dev-write-key:dev' });
      const sink = run(['sink'], { ...kafka, TRACKHOUSE_DATA_DIR: sinkDir.path, SINK_PORT: String(ports.sink) });
      const start = run(['start'], {
        ...kafka,
        TRACKHOUSE_DATA_DIR: startDir.path,
        INGEST_PORT: String(ports.startIngest),
        QUERY_PORT: String(ports.startQuery),
        SINK_PORT: String(ports.startSink),
        BI_PORT: '0',
        BI_NATIVE_PORT: '0',
      });
      await ingest.waitFor('ingest listening');
      await sink.waitFor('sink ops endpoints listening');
      await start.waitFor('Ctrl-C drains and stops everything');
      const ingestUrl = `http://127.0.0.1:${ports.ingest}`;
      const startUrl = `http://127.0.0.1:${ports.startIngest}`;
      await sendUntilAcked(ingestUrl, 'u1', 50, `${fault}-a`);
      await sendUntilAcked(startUrl, 'u2', 50, `${fault}-b`);

      const heal = await applyFault(fault);
      // Requests in flight when the signal comes: sent before anything noticed the fault, they
      // wait for a Kafka that does not answer (stopped: refused at once).
      const inFlight = [sendBatch(ingestUrl, 'u1', 50, `${fault}-c`), sendBatch(startUrl, 'u2', 50, `${fault}-d`)];
      try {
        // Wait until the processes know Kafka is gone (their kafkajs clients are in retry loops
        // then, which is what held the all-in-one open): ingest's readiness probe says so first.
        if (fault !== 'slow') {
          for (const url of [ingestUrl, startUrl]) {
            const deadline = Date.now() + 120_000;
            while ((await get(`${url}/readyz`)).status === 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
          }
        }
        const [i, s, a] = await Promise.all([terminate(ingest), terminate(sink), terminate(start)]);
        for (const [name, p, r] of [
          ['ingest', ingest, i],
          ['sink', sink, s],
          ['start', start, a],
        ] as const) {
          const why = `${name}: exit ${r.code} after ${Math.round(r.ms)} ms\n${p.stdout().slice(-4000)}\n${p.stderr().slice(-2000)}`;
          console.info(`broker ${fault}: ${name} exit ${r.code} after ${Math.round(r.ms)} ms${r.code !== 0 ? `: ${leftLine(p)?.slice(0, 400)}` : ''}`);
          expect(r.ms, why).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
          if (r.code !== 0) expect(leftLine(p), why).toBeDefined();
          expect(logProblems(p.stdout(), (l) => !l.startsWith('{')).problems, why).toEqual([]);
        }
        // start's ingest child is not left behind.
        const child = Number(start.logs().find((l) => l.msg === 'ingest ready')?.ingestPid);
        expect(child).toBeGreaterThan(0);
        expect(isAlive(child)).toBe(false);
        // Every request got an answer: a 200 (Kafka acknowledged it) or a refusal, never silence.
        for (const r of await Promise.all(inFlight)) expect([0, 200, 503]).toContain(r.status);
      } finally {
        await heal();
      }
    } finally {
      sinkDir.remove();
      startDir.remove();
    }
  });
});

describe('SIGTERM with ClickHouse not answering', () => {
  it('query exits within SHUTDOWN_TIMEOUT_MS while a query waits on a server that never answers', { timeout: 120_000 }, async () => {
    const held: http.ServerResponse[] = [];
    // Answers the start-up check (SELECT 1); holds every other statement forever.
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (/SELECT 1\b/.test(decodeURIComponent(req.url ?? '') + body)) {
          res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
          res.end('{"1":1}\n');
        } else held.push(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const queryDir = tempDir('trackhouse-bound-query-');
    try {
      const port = await freePort();
      const query = run(['query'], {
        TRACKHOUSE_DATA_DIR: queryDir.path,
        CLICKHOUSE_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        QUERY_PORT: String(port),
        TRACKHOUSE_READ_KEYS: 'k',
        // The query API's view reads the events topic: a real broker, the test run's.
        KAFKA_BROKERS: kafkaBrokers().join(','),
        ...uniqueTopicEnv('bound-query'),
      });
      await query.waitFor('query API started');
      const waiting = fetch(`http://127.0.0.1:${port}/v1/users/u1/events`, { headers: { authorization: 'Bearer k' } }).then(
        (r) => r.status,
        () => 0,
      );
      while (held.length === 0) await new Promise((r) => setTimeout(r, 50));
      const r = await terminate(query);
      const why = `exit ${r.code} after ${Math.round(r.ms)} ms\n${query.stdout().slice(-3000)}\n${query.stderr().slice(-2000)}`;
      expect(r.ms, why).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      if (r.code !== 0) expect(leftLine(query), why).toBeDefined();
      await waiting;
      expect((await get(`http://127.0.0.1:${port}/readyz`)).status).toBe(0);
    } finally {
      for (const res of held) res.destroy();
      server.close();
      queryDir.remove();
    }
  });
});

/**
 * `trackhouse start` on free ports with the BI HTTP port on, once every part runs: the hosted
 * stream starts after the view caught up, and a stop during its group join waits for that join
 * (5.5 s on a loaded CI host), which is not what these tests check.
 */
async function startWithBiPort(dataDir: string, tag: string) {
  const ports = { ingest: await freePort(), query: await freePort(), sink: await freePort(), bi: await freePort() };
  const start = run(['start'], {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    ...uniqueTopicEnv(tag),
    TRACKHOUSE_DATA_DIR: dataDir,
    INGEST_PORT: String(ports.ingest),
    QUERY_PORT: String(ports.query),
    SINK_PORT: String(ports.sink),
    BI_PORT: String(ports.bi),
    BI_NATIVE_PORT: 'off',
  });
  await start.waitFor('Ctrl-C drains and stops everything');
  await start.waitFor('stream processor running');
  return { start, ports };
}

describe('SIGTERM while chDB runs a BI statement', () => {
  it('start stops every part without waiting for it, keeps the data dir lock until it ends, and exits 0', { timeout: 180_000 }, async () => {
    const startDir = tempDir('trackhouse-bound-bi-');
    try {
      const { start, ports } = await startWithBiPort(startDir.path, 'bound-bi');
      // Longer than SHUTDOWN_TIMEOUT_MS, within the BI statements' own limit (30 s); chDB cannot stop it.
      const statement = fetch(`http://127.0.0.1:${ports.bi}/?max_block_size=1`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('default:dev-read-key').toString('base64')}` },
        body: 'SELECT sum(sleepEachRow(1)) FROM numbers(12)',
      }).then(
        (r) => r.status,
        () => 0,
      );
      await new Promise((r) => setTimeout(r, 1_500));
      const terminated = terminate(start);
      // start's own last line, not its ingest child's (which says "stopped" first).
      await start.waitFor(new RegExp(`"pid":${start.pid},"component":"start","msg":"stopped"\\}`), 60_000);
      // Every part stopped while the statement runs on; the process has not exited (it did, at
      // once, and died of SIGSEGV now and then as chDB tore down under the statement: exit 139,
      // reported as 128 before cli.ts named every signal), and the folder is still this process's.
      expect(isAlive(start.pid)).toBe(true);
      const lockFile = path.join(startDir.path, 'trackhouse.lock');
      const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number };
      expect(lock.pid).toBe(start.pid);
      const r = await terminated;
      const why = `exit ${r.code} after ${Math.round(r.ms)} ms\n${start.stdout().slice(-4000)}\n${start.stderr().slice(-2000)}`;
      expect(r.code, why).toBe(0);
      expect(leftLine(start), why).toBeUndefined();
      expect(start.logs().filter((l) => l.level === 40).map((l) => l.msg), why).toEqual([
        'a BI statement is still running in chDB, which cannot stop it: the process exits when it ends (within its time limit)',
      ]);
      // It exited once the statement had ended, and gave the folder up then.
      expect(start.logs().at(-1)?.msg, why).toBe('the BI statement ended and chDB let go of the data dir: exiting');
      expect(existsSync(lockFile)).toBe(false);
      // The client of the BI port was let go when the port closed.
      expect(await statement).not.toBe(200);
    } finally {
      startDir.remove();
    }
  });

  it('a second signal while start waits for the statement exits 130 at once, not when the statement ends, and frees the data dir', { timeout: 180_000 }, async () => {
    const startDir = tempDir('trackhouse-bound-bi2-');
    try {
      const { start, ports } = await startWithBiPort(startDir.path, 'bound-bi2');
      // 28 s, within the BI statements' own limit (30 s); chDB cannot stop it.
      const statementMs = 28_000;
      const statementSent = performance.now();
      void fetch(`http://127.0.0.1:${ports.bi}/?max_block_size=1`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('default:dev-read-key').toString('base64')}` },
        body: `SELECT sum(sleepEachRow(1)) FROM numbers(${statementMs / 1000})`,
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_500));
      start.child.kill('SIGTERM');
      await start.waitFor(new RegExp(`"pid":${start.pid},"component":"start","msg":"stopped"\\}`), 60_000);
      expect(isAlive(start.pid)).toBe(true);
      // Past the window in which a repeated signal counts once (REPEAT_WINDOW_MS).
      await new Promise((r) => setTimeout(r, 1_500));
      start.child.kill('SIGTERM');
      const code = await start.exited;
      const exitedAfterMs = performance.now() - statementSent;
      const why = `exit ${code} ${Math.round(exitedAfterMs)} ms after the statement was sent\n${start.stdout().slice(-4000)}\n${start.stderr().slice(-2000)}`;
      // 130, not 139: libchdb's exit handlers did not run beside the statement (src/cli/hardexit.ts).
      expect(code, why).toBe(130);
      expect(start.logs().some((l) => l.msg === 'second signal: exiting now'), why).toBe(true);
      // It did not wait for the statement (process.exit() did: Node joins the pool thread it runs on).
      // Its end is seconds away from the exit; no machine is that slow to end a process.
      expect(exitedAfterMs, why).toBeLessThan(statementMs);
      expect(start.logs().some((l) => l.msg === 'the BI statement ended and chDB let go of the data dir: exiting'), why).toBe(false);
      // The lock's exit handler ran before the process ended.
      expect(existsSync(path.join(startDir.path, 'trackhouse.lock')), why).toBe(false);
    } finally {
      startDir.remove();
    }
  });
});
