// `trackhouse start` whose supervised part (here its ingest child) gives up while start-up is still
// under way (chDB opening, migrations, the view): no signal comes, yet it stops every part,
// frees the data dir and exits 1, as a give-up after start-up does (start-supervised.test.ts);
// and when the start-up step under way then never ends, SHUTDOWN_TIMEOUT_MS cuts it as after a signal.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { LOCAL_KAFKA_VERSION } from '../../src/config/index.js';
import { freePort, startLocalBroker } from '../../src/localkafka/index.js';
import { isAlive, localStartEnv, runCli, type CliProcess } from '../support/cli.js';
import { kafkaBrokers, tempDir, uniqueTopicEnv } from '../support/env.js';

const dir = tempDir('trackhouse-giveup-');
let a: CliProcess | undefined;
let racing: CliProcess | undefined;

afterAll(async () => {
  for (const p of [a, racing]) {
    if (p && p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
  dir.remove();
});

it('exits 1 with the give-up message and a free data dir when its ingest child gives up during start-up', { timeout: 180_000 }, async () => {
  const env = { ...(await localStartEnv(dir.path)), RESTART_GIVE_UP_AFTER: '0', RESTART_STABLE_MS: '600000' };
  a = runCli(['start'], env);
  await a.waitFor('"msg":"ingest ready"');
  const ingestPid = Number(a.logs().find((l) => l.msg === 'ingest ready')?.ingestPid);
  process.kill(ingestPid, 'SIGKILL');
  // The case under test: the crash came before start-up finished (chDB and the view take seconds more).
  expect(a.stdout()).not.toContain('Ctrl-C drains and stops everything');
  const code = await a.exited;
  const why = `${a.stdout().slice(-4000)}\n${a.stderr().slice(-2000)}`;
  expect(code, why).toBe(1);
  expect(a.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('ingest crashed 1 times in a row')), why).toBe(true);
  expect(existsSync(path.join(dir.path, 'trackhouse.lock'))).toBe(false);
  expect(isAlive(Number(a.logs().find((l) => l.msg === 'local Kafka broker ready')?.brokerPid))).toBe(false);
});

/**
 * What `pid` holds of `dir` right now: the data dir lock names it, and chDB's own `status` file
 * (open, with its flock, from chDB's open to its release) is among its open files.
 */
function holdings(pid: number, dir: string): { lock: boolean; chdb: boolean } {
  let lock = false;
  try {
    lock = (JSON.parse(readFileSync(path.join(dir, 'trackhouse.lock'), 'utf8')) as { pid: number }).pid === pid;
  } catch {
    /* absent, or being written */
  }
  const status = path.join(dir, 'clickhouse', 'status');
  let chdb = false;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === status) chdb = true;
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* exited */
  }
  return { lock, chdb };
}

it('keeps the data dir lock until chDB has let go when its ingest child gives up while chDB opens', { timeout: 180_000 }, async () => {
  const own = tempDir('trackhouse-giveup-lock-');
  try {
    const env: Record<string, string> = {
      // The run's broker: no local broker to stop, so the give-up's stop is over at once, before chDB has opened.
      KAFKA_BROKERS: kafkaBrokers().join(','),
      ...(uniqueTopicEnv('giveup-lock') as Record<string, string>),
      TRACKHOUSE_DATA_DIR: own.path,
      BI_PORT: '0',
      BI_NATIVE_PORT: '0',
      LOG_LEVEL: 'info',
      RESTART_GIVE_UP_AFTER: '0',
      RESTART_STABLE_MS: '600000',
    };
    for (const variable of ['INGEST_PORT', 'QUERY_PORT', 'SINK_PORT']) env[variable] = String(await freePort());
    const b = runCli(['start'], env);
    racing = b;
    // The moment `ingest ready` is written, the start is paused (it would import and open chDB
    // next, half a second of work), its ingest child is killed, and the start goes on: the crash
    // is then seen while chDB is still being opened.
    let ingestPid = 0;
    const killed = new Promise<void>((resolve) => {
      let seen = '';
      const onData = (d: Buffer) => {
        seen += d.toString();
        const line = seen.split('\n').find((l) => l.includes('"msg":"ingest ready"'));
        if (line === undefined) return;
        b.child.stdout.off('data', onData);
        process.kill(b.pid, 'SIGSTOP');
        ingestPid = Number((JSON.parse(line) as { ingestPid: number }).ingestPid);
        process.kill(ingestPid, 'SIGKILL');
        void (async () => {
          while (isAlive(ingestPid)) await sleep(5);
          process.kill(b.pid, 'SIGCONT');
          resolve();
        })();
      };
      b.child.stdout.on('data', onData);
    });
    // Until the start exits: once the lock no longer names it, chDB must not hold the folder any
    // more (nor open it later). Sampled every few ms: the lock gone is seen at once (the old code
    // released it while chDB's module was still loading, half a second before it opened).
    let chdbOpened = false;
    let lockGoneAt: number | null = null;
    const heldAfter: number[] = [];
    let exited = false;
    const code = b.exited.then((c) => ((exited = true), c));
    await killed;
    const t0 = performance.now();
    while (!exited) {
      const h = holdings(b.pid, own.path);
      const at = Math.round(performance.now() - t0);
      if (!h.lock && lockGoneAt === null) lockGoneAt = at;
      if (h.chdb) chdbOpened = true;
      if (h.chdb && lockGoneAt !== null) heldAfter.push(at);
      await sleep(2);
    }
    const why = `${b.stdout().slice(-4000)}\n${b.stderr().slice(-2000)}`;
    expect(await code, why).toBe(1);
    expect(b.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('ingest crashed 1 times in a row')), why).toBe(true);
    // The case under test happened: chDB opened after the give-up had stopped the rest.
    expect(chdbOpened, why).toBe(true);
    expect(heldAfter, `the lock file stopped naming the start ${lockGoneAt} ms after the crash, and chDB held ${own.path} after that (ms)\n${why}`).toEqual([]);
    expect(existsSync(path.join(own.path, 'trackhouse.lock'))).toBe(false);
  } finally {
    own.remove();
  }
});

it('exits 1 at SHUTDOWN_TIMEOUT_MS, freeing the data dir, when its ingest child gives up while a start-up step waits on a broker that does not answer', { timeout: 180_000 }, async () => {
  const own = tempDir('trackhouse-giveup-hang-');
  // A broker of the test's own, to pause: the start's Kafka steps then wait without end (kafkajs's
  // requests time out after 30 s each, and are tried again).
  const broker = await startLocalBroker({ dataDir: path.join(own.path, 'broker'), cacheDir: '.trackhouse', version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0 });
  let paused = false;
  try {
    const dataDir = path.join(own.path, 'data');
    const env: Record<string, string> = {
      KAFKA_BROKERS: broker.brokers.join(','),
      TRACKHOUSE_DATA_DIR: dataDir,
      BI_PORT: '0',
      BI_NATIVE_PORT: '0',
      LOG_LEVEL: 'info',
      RESTART_GIVE_UP_AFTER: '0',
      RESTART_STABLE_MS: '600000',
      SHUTDOWN_TIMEOUT_MS: '3000',
    };
    for (const variable of ['INGEST_PORT', 'QUERY_PORT', 'SINK_PORT']) env[variable] = String(await freePort());
    const last = Math.max(...readdirSync('clickhouse').filter((f) => /^\d+_.*\.sql$/.test(f)).map((f) => Number(f.split('_')[0])));
    const c = runCli(['start'], env);
    racing = c;
    // At `ingest ready` (the topics made) the broker is paused, the start held meanwhile so it
    // reaches no Kafka step first. Once the last migration is applied, the next step writes the
    // audit record, on Kafka: it waits on the paused broker, and the ingest child is killed then.
    let ingestPid = 0;
    let seen = '';
    let handled = 0;
    c.child.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      const lines = seen.split('\n');
      for (; handled < lines.length - 1; handled++) {
        const line = lines[handled]!;
        if (line.includes('"msg":"ingest ready"')) {
          process.kill(c.pid, 'SIGSTOP');
          process.kill(-broker.pid, 'SIGSTOP');
          paused = true;
          ingestPid = Number((JSON.parse(line) as { ingestPid: number }).ingestPid);
          process.kill(c.pid, 'SIGCONT');
        } else if (line.includes('"msg":"migration applied"') && (JSON.parse(line) as { version: number }).version === last) {
          process.kill(ingestPid, 'SIGKILL');
        }
      }
    });
    const code = await c.exited;
    const why = `${c.stdout().slice(-4000)}\n${c.stderr().slice(-2000)}`;
    expect(code, why).toBe(1);
    expect(c.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('ingest crashed 1 times in a row')), why).toBe(true);
    expect(
      c.logs().some((l) => l.msg === 'SHUTDOWN_TIMEOUT_MS (3000 ms) passed while a start-up step was still running; exiting with code 1.'),
      why,
    ).toBe(true);
    // The cut, not the step's own end (kafkajs gave up on the paused broker after ~30 s, and the
    // old code exited 1 then, without this line; a step with no time limit of its own, such as mvn
    // fetching the jars, kept it forever): the audit step had not finished when the process exited.
    expect(c.logs().some((l) => l.msg === 'the migrations applied could not be written to the audit trail'), why).toBe(false);
    // The lock's exit handler released it: a new start may take the folder.
    expect(existsSync(path.join(dataDir, 'trackhouse.lock'))).toBe(false);
  } finally {
    if (paused) process.kill(-broker.pid, 'SIGCONT');
    await broker.stop();
    own.remove();
  }
});
