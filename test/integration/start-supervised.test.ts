// `trackhouse start` keeps itself up: its local broker and its ingest child, killed with -9, come
// back (logged, counted in /metrics, /readyz 503 while down) and events acknowledged afterwards
// are stored; repeated fast crashes end it with a clear message and exit 1. The data dir has one
// owner: a second start on it is refused before it touches anything. And every log line these
// processes wrote is JSON with each key once.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenOf, get, isAlive, localStartEnv, runCli, sendUntilAcked, storedIds, type CliProcess } from '../support/cli.js';
import { tempDir } from '../support/env.js';
import { duplicateKeys, logProblems } from '../support/logkeys.js';

const dir = tempDir('trackhouse-supervised-');
const env: Record<string, string> = {};
let a: CliProcess;
const others: CliProcess[] = [];
let ingestUrl = '';
let queryUrl = '';
let sinkUrl = '';

beforeAll(async () => {
  Object.assign(env, await localStartEnv(dir.path), {
    RESTART_BACKOFF_MS: '300',
    // One crash in a row is restarted; the second within 10 minutes of a start ends it.
    RESTART_GIVE_UP_AFTER: '1',
    RESTART_STABLE_MS: '600000',
  });
  ingestUrl = `http://127.0.0.1:${env.INGEST_PORT}`;
  queryUrl = `http://127.0.0.1:${env.QUERY_PORT}`;
  sinkUrl = `http://127.0.0.1:${env.SINK_PORT}`;
  a = runCli(['start'], env);
  await a.waitFor('Ctrl-C drains and stops everything');
});

afterAll(async () => {
  for (const p of [a, ...others]) {
    if (p && p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
  dir.remove();
});

/** The pid a log line of `a` gave for `field`, the last time `msg` was logged. */
function lastLogged(msg: string, field: string): number {
  const line = a.logs().filter((l) => l.msg === msg).at(-1);
  return Number(line?.[field]);
}

async function restarts(part: string): Promise<number> {
  const m = new RegExp(`^trackhouse_part_restarts_total\\{[^}]*part="${part}"[^}]*\\} (\\d+)`, 'm').exec((await get(`${sinkUrl}/metrics`)).body);
  return m ? Number(m[1]) : NaN;
}

/** Polls the all-in-one's /readyz until it says not ready, then until ready again; the answers that were not. */
async function readyzDownThenUp(guardMs = 150_000): Promise<{ status: number; body: string }[]> {
  const notReady: { status: number; body: string }[] = [];
  const deadline = Date.now() + guardMs;
  for (;;) {
    const r = await get(`${sinkUrl}/readyz`);
    if (r.status !== 200) notReady.push(r);
    else if (notReady.length > 0) return notReady;
    if (Date.now() > deadline) throw new Error(`/readyz did not go down and up again in time: ${JSON.stringify(notReady.at(-1) ?? r)}`);
    await sleep(100);
  }
}

describe('trackhouse start, supervised', () => {
  it('starts its ingest before ClickHouse, the sink and the query API, so a restart takes events first', () => {
    const lines = a.logs();
    const ingestReady = lines.findIndex((l) => l.msg === 'ingest ready');
    const firstMigration = lines.findIndex((l) => l.msg === 'migration applied');
    const firstOfLater = lines.findIndex((l) => l.component === 'sink' || l.component === 'query' || l.component === 'erasures');
    expect(ingestReady).toBeGreaterThan(-1);
    expect(firstMigration).toBeGreaterThan(ingestReady);
    expect(firstOfLater).toBeGreaterThan(ingestReady);
    // Every producer names its partitioner, so kafkajs has no warning about its default for a new user.
    expect(lines.filter((l) => String(l.msg).includes('partitioner'))).toEqual([]);
  });

  it('refuses a second start on the same data dir before touching anything, naming the running one', async () => {
    const state = path.join(dir.path, 'kafka/local/broker.json');
    const stateBefore = readFileSync(state, 'utf8');
    const lockBefore = readFileSync(path.join(dir.path, 'trackhouse.lock'), 'utf8');
    // Its own free ports: a refusal must not come from a port clash.
    const b = runCli(['start'], { ...env, INGEST_PORT: '0', QUERY_PORT: '0', SINK_PORT: '0', LOCAL_KAFKA_PORT: '0', LOCAL_KAFKA_CONTROLLER_PORT: '0' });
    others.push(b);
    expect(await b.exited).not.toBe(0);
    expect(b.stderr()).toContain(`another trackhouse (pid ${a.pid}) is using ${dir.path}`);
    // It did not reach the broker reuse check, nor chDB, nor write anything.
    expect(b.stdout()).not.toContain('reusing the local Kafka broker');
    expect(b.stderr()).not.toMatch(/Cannot lock file|chDB/);
    expect(readFileSync(state, 'utf8')).toBe(stateBefore);
    expect(readFileSync(path.join(dir.path, 'trackhouse.lock'), 'utf8')).toBe(lockBefore);
    expect((await get(`${sinkUrl}/readyz`)).status).toBe(200);
  });

  it('refuses a `trackhouse query` on that data dir too, even with a ClickHouse server: its view lives there', async () => {
    const q = runCli(['query'], { ...env, QUERY_PORT: '0', CLICKHOUSE_URL: 'http://127.0.0.1:1' });
    others.push(q);
    expect(await q.exited).toBe(2);
    expect(q.stderr()).toContain(`another trackhouse (pid ${a.pid}) is using ${dir.path}`);
    expect((await get(`${sinkUrl}/readyz`)).status).toBe(200);
  });

  it('restarts its broker after kill -9, says not ready meanwhile, counts it, and stores what is acknowledged after', { timeout: 300_000 }, async () => {
    const before = await sendUntilAcked(ingestUrl, 'before-broker', 20, 'before-broker');
    expect(await restarts('kafka')).toBe(0);
    const wrapper = lastLogged('local Kafka broker ready', 'brokerPid');
    const jvm = childrenOf(wrapper).find((c) => c.comm === 'java');
    expect(jvm, `the broker JVM under ${wrapper}`).toBeDefined();
    process.kill(jvm!.pid, 'SIGKILL');

    const notReady = await readyzDownThenUp();
    expect(notReady.some((r) => r.status === 503 && r.body.includes('"kafka"'))).toBe(true);
    await a.waitFor('"msg":"kafka restarted"');
    expect(await restarts('kafka')).toBe(1);
    expect(lastLogged('local Kafka broker ready', 'brokerPid')).not.toBe(wrapper);

    const after = await sendUntilAcked(ingestUrl, 'after-broker', 20, 'after-broker');
    expect((await storedIds(queryUrl, 'after-broker', after.length)).sort()).toEqual([...after].sort());
    expect((await storedIds(queryUrl, 'before-broker', before.length)).sort()).toEqual([...before].sort());
  });

  it('restarts its ingest child after kill -9 on the same port, counts it, and stores what is acknowledged after', async () => {
    const first = lastLogged('ingest ready', 'ingestPid');
    expect(isAlive(first)).toBe(true);
    process.kill(first, 'SIGKILL');
    const notReady = await readyzDownThenUp();
    expect(notReady.some((r) => r.status === 503 && r.body.includes('"ingest"'))).toBe(true);
    await a.waitFor('"msg":"ingest restarted"');
    expect(await restarts('ingest')).toBe(1);
    const second = lastLogged('ingest ready', 'ingestPid');
    expect(second).not.toBe(first);
    expect(isAlive(second)).toBe(true);

    const after = await sendUntilAcked(ingestUrl, 'after-ingest', 30, 'after-ingest');
    expect((await storedIds(queryUrl, 'after-ingest', after.length)).sort()).toEqual([...after].sort());
  });

  it('gives up after repeated fast crashes: a clear message, exit 1, the data dir free again', async () => {
    process.kill(lastLogged('ingest ready', 'ingestPid'), 'SIGKILL');
    expect(await a.exited).toBe(1);
    const gaveUp = a.logs().find((l) => typeof l.msg === 'string' && l.msg.startsWith('ingest crashed 2 times in a row'));
    expect(gaveUp, a.stdout().slice(-3000)).toBeDefined();
    expect(gaveUp!.msg).toContain('giving up');
    expect(existsSync(path.join(dir.path, 'trackhouse.lock'))).toBe(false);
    // Its broker and ingest child are gone with it.
    expect(isAlive(lastLogged('local Kafka broker ready', 'brokerPid'))).toBe(false);
    expect(isAlive(lastLogged('ingest ready', 'ingestPid'))).toBe(false);
  });

  it('after a start killed with -9, a start at once on its data dir takes it over, waits for the old parts, runs its own broker, and stores what is acknowledged', { timeout: 300_000 }, async () => {
    const killed = runCli(['start'], env);
    others.push(killed);
    await killed.waitFor('Ctrl-C drains and stops everything');
    const oldBroker = Number(killed.logs().find((l) => l.msg === 'local Kafka broker ready')?.brokerPid);
    process.kill(killed.pid, 'SIGKILL');
    await killed.exited;
    // At once: the old broker and ingest child are still stopping (they see their parent gone).
    const next = runCli(['start'], env);
    others.push(next);
    await next.waitFor('Ctrl-C drains and stops everything');
    const took = next.logs().find((l) => l.msg === 'took the data dir over from a trackhouse that is gone; its parts stop by themselves');
    expect(took?.previousPid).toBe(killed.pid);
    const newBroker = Number(next.logs().find((l) => l.msg === 'local Kafka broker ready')?.brokerPid);
    expect(newBroker).not.toBe(oldBroker);
    expect(isAlive(oldBroker)).toBe(false);
    const after = await sendUntilAcked(ingestUrl, 'after-takeover', 30, 'after-takeover');
    expect((await storedIds(queryUrl, 'after-takeover', after.length)).sort()).toEqual([...after].sort());
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });

  it('wrote every log line as JSON with each key once (kafkajs lines and child processes included)', () => {
    // The checker itself: a repeated key is found at any depth.
    expect(duplicateKeys('{"a":1,"b":{"c":1,"c":2},"a":3}')).toEqual(['b.c', 'a']);
    const banner = (l: string) => !l.startsWith('{');
    const all = [a, ...others].map((p) => logProblems(p.stdout(), banner));
    expect(all.reduce((n, r) => n + r.lines, 0)).toBeGreaterThan(20);
    // The broker kill makes kafkajs log (the lines that carried `component` twice).
    expect(a.logs().some((l) => l.module === 'kafkajs')).toBe(true);
    expect(all.flatMap((r) => r.problems)).toEqual([]);
  });
});
