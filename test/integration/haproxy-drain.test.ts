// Two `trackhouse ingest` processes behind HAProxy (Debian's package), health-checked on /readyz
// as chaos/lib/haproxy.ts configures it for `npm run rollout`. One of them gets SIGTERM while
// requests keep coming through HAProxy: HAProxy must take it out of rotation before its port
// closes (the drain delay is there for that), so no request fails; the ones that still reached it
// get 503 + Retry-After, which a client retries. Needs haproxy (.ci/run installs it); skipped,
// saying so, without it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { freePort } from '../../src/localkafka/index.js';
import { Haproxy, haproxyBinary } from '../../chaos/lib/haproxy.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';

const MAIN = path.resolve('dist/cli/main.js');
const HAPROXY = haproxyBinary();
if (!HAPROXY) process.stderr.write('\nSKIPPED: haproxy-drain.test.ts: haproxy is not installed (Debian: apt-get install haproxy; .ci/run installs it)\n\n');

const dir = tempDir('trackhouse-haproxy-');
const children: ChildProcess[] = [];
let haproxy: Haproxy | null = null;
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await haproxy?.stop();
  dir.remove();
});

async function startIngest(port: number, topics: Record<string, string>): Promise<{ proc: ChildProcess; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [MAIN, 'ingest'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      INGEST_PORT: String(port),
      KAFKA_BROKERS: kafkaBrokers().join(','),
      TRACKHOUSE_WRITE_KEYS: 'k:test',
      // Far longer than HAProxy needs to see the 503 (2 checks 200 ms apart): the test never measures it.
      SHUTDOWN_DRAIN_DELAY_MS: '4000',
      SHUTDOWN_TIMEOUT_MS: '30000',
      ...topics,
    },
    stdio: 'ignore',
  });
  children.push(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, exited };
}

describe.skipIf(!HAPROXY)('ingest behind HAProxy', () => {
  it('leaves the rotation before its port closes on SIGTERM: no request fails, the few that reach it get 503 + Retry-After', async () => {
    const topics = uniqueTopicEnv('haproxy') as Record<string, string>;
    const cfg = testConfig(dir.path, topics);
    await ensureTopics(createKafka(cfg.kafka, silentLogger(), kafkaBrokers()), cfg.kafka);
    const ports = [await freePort(), await freePort()];
    const front = await freePort();
    const [a] = await Promise.all(ports.map((p) => startIngest(p, topics)));
    haproxy = new Haproxy(HAPROXY!, path.join(dir.path, 'haproxy.cfg'), path.join(dir.path, 'haproxy.sock'), path.join(dir.path, 'haproxy.log'));
    await haproxy.start({
      backends: [{ name: 'ingest', frontPort: front, servers: ports.map((port, i) => ({ name: `ingest-${i}`, port })) }],
      interMs: 200,
      fall: 2,
      rise: 1,
      retryOn503: false,
    });
    await haproxy.waitStatus('ingest', 'ingest-0', 'UP', 120_000);
    await haproxy.waitStatus('ingest', 'ingest-1', 'UP', 120_000);

    const pool = new Pool(`http://127.0.0.1:${front}`, { connections: 4 });
    const statuses: Record<string, number> = {};
    const failures: string[] = [];
    let withoutRetryAfter = 0;
    let n = 0;
    let stop = false;
    let downBeforeExit: boolean | null = null;
    const load = (async () => {
      while (!stop) {
        try {
          const res = await pool.request({
            method: 'POST',
            path: '/v1/track',
            headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('k:').toString('base64')}` },
            body: JSON.stringify({ userId: 'haproxy-user', event: 'Drained', messageId: `haproxy-${n++}` }),
          });
          await res.body.text();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode === 503 && res.headers['retry-after'] === undefined) withoutRetryAfter++;
        } catch (err) {
          failures.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
        }
      }
    })();
    await sleep(500);
    a!.proc.kill('SIGTERM');
    const down = haproxy.waitStatus('ingest', 'ingest-0', 'DOWN', 60_000).then(() => {
      downBeforeExit ??= true;
    });
    const code = await a!.exited;
    downBeforeExit ??= false;
    await down;
    // A little longer, through the remaining server alone.
    await sleep(500);
    stop = true;
    await load;
    await pool.close();

    expect(code).toBe(0);
    expect(downBeforeExit).toBe(true);
    expect(failures).toEqual([]);
    expect(Object.keys(statuses).filter((s) => s !== '200' && s !== '503')).toEqual([]);
    expect(withoutRetryAfter).toBe(0);
    expect(statuses['200']).toBeGreaterThan(0);
  });
});
