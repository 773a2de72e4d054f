// npm run rollout [-- --lb-retries]: a zero-downtime rolling restart, proven. Two `trackhouse
// ingest` and two `trackhouse query` processes sit behind HAProxy on loopback (with one sink, the
// suite's Kafka broker and a shared ClickHouse); under steady load through HAProxy each process
// is restarted in turn (SIGTERM, wait for it to exit, start it again, wait until HAProxy has it
// back), as a rolling deploy does, and the sink last. Counts every request: a refused connection,
// a reset or a 5xx other than 503 is a failed request; a 503 with Retry-After is retried by the
// load generator after that delay and counted as retried. Then proves every acknowledged event
// stored exactly once. Writes chaos/results/rollout-<time>.json and .md.
//
// --lb-retries: HAProxy resends a request that met a 503 or a dropped connection to the other
// server itself (L7 retries), so clients see no 503 at all.
//
// Settings: ROLLOUT_DRAIN_DELAY_MS (SHUTDOWN_DRAIN_DELAY_MS of the processes, 5000),
// ROLLOUT_CHECK_INTER_MS (HAProxy's check interval, 1000), ROLLOUT_RATE (ingest requests/s, 200),
// ROLLOUT_QUERY_RATE (50).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/localkafka/index.js';
import { Haproxy, haproxyBinary } from './lib/haproxy.js';
import { Ledger } from './lib/ledger.js';
import { IngestLoad, QueryLoad } from './lib/load.js';
import { startProc, tailOf, waitReady, type Proc } from './lib/procs.js';
import { CLI, prepareJars, READ_KEY, ROOT, SuiteBroker, SuiteClickHouse, WRITE_KEY, Workspace } from './lib/topology.js';
import { verify, waitCaughtUp } from './lib/verify.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const DRAIN_DELAY_MS = env('ROLLOUT_DRAIN_DELAY_MS', 5_000);
const INTER_MS = env('ROLLOUT_CHECK_INTER_MS', 1_000);
const FALL = 2;
const RISE = 2;
const RATE = env('ROLLOUT_RATE', 200);
const QUERY_RATE = env('ROLLOUT_QUERY_RATE', 50);
const LB_RETRIES = process.argv.includes('--lb-retries');

type Role = 'ingest' | 'query' | 'sink';
interface Instance {
  role: Role;
  name: string;
  port: number;
  proc: Proc | null;
  starts: number;
}

interface Step {
  instance: string;
  /** SIGTERM until HAProxy's checks took it out. */
  lb_down_s: number | null;
  /** SIGTERM until the process exited, and its exit code. */
  exit_s: number;
  exit_code: number;
  /** Start until /readyz 200, then until HAProxy had it back. */
  ready_s: number;
  lb_up_s: number | null;
}

const round = (ms: number) => Math.round(ms / 100) / 10;
const say = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] rollout: ${msg}\n`);

async function main(): Promise<void> {
  const binary = haproxyBinary();
  if (!binary) {
    process.stdout.write('rollout skipped: haproxy is not installed (Debian: apt-get install haproxy)\n');
    return;
  }
  if (DRAIN_DELAY_MS < (FALL + 1) * INTER_MS) {
    say(`note: ROLLOUT_DRAIN_DELAY_MS=${DRAIN_DELAY_MS} is shorter than (fall + 1) x inter = ${(FALL + 1) * INTER_MS} ms: HAProxy may still send to a stopped process`);
  }
  await prepareJars();
  const ws = new Workspace('rollout');
  const broker = new SuiteBroker(ws);
  const clickhouse = new SuiteClickHouse(ws);
  const haproxy = new Haproxy(binary, ws.path('haproxy.cfg'), ws.path('haproxy.sock'), ws.path('haproxy.log'));
  const instances: Instance[] = [];
  const stopAll = async () => {
    await Promise.all(instances.map((i) => i.proc?.stop(30_000)));
    await haproxy.stop();
    await clickhouse.stop();
    await broker.stop();
    ws.dispose();
  };
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));

  try {
    await Promise.all([broker.start(), clickhouse.start()]);
    const fronts = { ingest: await freePort(), query: await freePort() };
    for (const [role, names] of [
      ['sink', ['sink']],
      ['ingest', ['ingest-a', 'ingest-b']],
      ['query', ['query-a', 'query-b']],
    ] as const) {
      for (const name of names) instances.push({ role, name, port: await freePort(), proc: null, starts: 0 });
    }
    const baseEnv: Record<string, string> = {
      ...(Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TRACKHOUSE_|KAFKA_|CLICKHOUSE_|INGEST_|QUERY_|SINK_|SHUTDOWN_)/.test(k))) as Record<string, string>),
      HOST: '127.0.0.1',
      TRACKHOUSE_DATA_DIR: ws.dir,
      TRACKHOUSE_WRITE_KEYS: `${WRITE_KEY}:rollout`,
      TRACKHOUSE_READ_KEYS: READ_KEY,
      KAFKA_BROKERS: broker.brokers,
      CLICKHOUSE_URL: clickhouse.url,
      SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      SHUTDOWN_TIMEOUT_MS: String(Math.max(15_000, DRAIN_DELAY_MS * 2)),
      // Behind the proxy the socket's peer is HAProxy.
      INGEST_CLIENT_IP: 'forwarded',
    };
    const migrate = startProc('migrate', process.execPath, [CLI, 'migrate'], baseEnv, ws.path('migrate.log'));
    if ((await migrate.exited) !== 0) throw new Error(`migrate failed:\n${tailOf(migrate.logFile)}`);

    const start = async (i: Instance) => {
      const portVar = i.role === 'ingest' ? 'INGEST_PORT' : i.role === 'query' ? 'QUERY_PORT' : 'SINK_PORT';
      // Each query process keeps its own view in its own data dir, as each pod has its own volume.
      const own: Record<string, string> = i.role === 'query' ? { TRACKHOUSE_DATA_DIR: ws.path(i.name) } : {};
      i.proc = startProc(i.name, process.execPath, [CLI, i.role], { ...baseEnv, ...own, [portVar]: String(i.port) }, ws.path(`${i.name}-${++i.starts}.log`));
      const p = i.proc;
      const t0 = performance.now();
      try {
        await waitReady(i.name, [`http://127.0.0.1:${i.port}/readyz`], 120_000, () => !p.running());
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${tailOf(p.logFile)}`);
      }
      return performance.now() - t0;
    };
    await Promise.all(instances.map(start));
    const backend = (role: 'ingest' | 'query') => ({
      name: role,
      frontPort: fronts[role],
      servers: instances.filter((i) => i.role === role).map((i) => ({ name: i.name, port: i.port })),
    });
    await haproxy.start({ backends: [backend('ingest'), backend('query')], interMs: INTER_MS, fall: FALL, rise: RISE, retryOn503: LB_RETRIES });
    for (const i of instances) if (i.role !== 'sink') await haproxy.waitStatus(i.role, i.name, 'UP', 30_000);
    say(`HAProxy on ${fronts.ingest} (ingest) and ${fronts.query} (query), checks every ${INTER_MS} ms, fall ${FALL}, rise ${RISE}; drain delay ${DRAIN_DELAY_MS} ms${LB_RETRIES ? '; L7 retries on' : ''}`);

    const ledger = new Ledger('rollout');
    const ingestLoad = new IngestLoad({ url: `http://127.0.0.1:${fronts.ingest}`, ledger, writeKey: WRITE_KEY, connections: 16, ratePerS: RATE, batch: 10 });
    const queryLoad = new QueryLoad({ url: `http://127.0.0.1:${fronts.query}`, readKey: READ_KEY, users: ledger.users, connections: 4, ratePerS: QUERY_RATE });
    ingestLoad.start();
    queryLoad.start();
    await sleep(5_000);

    const steps: Step[] = [];
    for (const i of instances.filter((x) => x.role !== 'sink').concat(instances.filter((x) => x.role === 'sink'))) {
      const t0 = performance.now();
      say(`SIGTERM ${i.name} (pid ${i.proc!.pid})`);
      const proc = i.proc!;
      process.kill(proc.pid, 'SIGTERM');
      const lbDown = i.role === 'sink' ? Promise.resolve(null) : haproxy.waitStatus(i.role, i.name, 'DOWN', 60_000).then((ms) => round(ms));
      const code = await proc.exited;
      const exitS = round(performance.now() - t0);
      const downS = await lbDown;
      const ready = await start(i);
      const upS = i.role === 'sink' ? null : round(await haproxy.waitStatus(i.role, i.name, 'UP', 60_000));
      const step: Step = { instance: i.name, lb_down_s: downS, exit_s: exitS, exit_code: code, ready_s: round(ready), lb_up_s: upS };
      steps.push(step);
      say(`${i.name}: out of HAProxy after ${downS ?? '-'} s, exited ${code} after ${exitS} s; ready ${step.ready_s} s after start, back in HAProxy ${upS ?? '-'} s later`);
      await sleep(3_000);
    }
    await sleep(5_000);
    await Promise.all([ingestLoad.stop(), queryLoad.stop()]);
    const { acked } = ledger.counts();
    say(`load stopped: ${acked} events acknowledged; proving them`);
    const queryUrl = `http://127.0.0.1:${fronts.query}`;
    const settled = await waitCaughtUp(queryUrl, READ_KEY, ledger, acked, 180_000);
    const verdict = await verify(queryUrl, READ_KEY, ledger);

    const ing = ingestLoad.counters;
    const qry = queryLoad.counters;
    const nonRetriable = (c: typeof ing) => Object.values(c.otherStatus).reduce((s, n) => s + n, 0);
    const failures: string[] = [];
    if (ing.failedTotal > 0 || nonRetriable(ing) > 0) failures.push(`ingest: ${ing.failedTotal} failed requests, ${nonRetriable(ing)} answered neither 200 nor 503`);
    if (qry.failedTotal > 0 || nonRetriable(qry) > 0) failures.push(`query: ${qry.failedTotal} failed requests, ${nonRetriable(qry)} answered neither 200 nor 503`);
    if (verdict.lost > 0) failures.push(`${verdict.lost} acknowledged events lost`);
    if (verdict.doubled > 0) failures.push(`${verdict.doubled} events doubled`);
    if (steps.some((s) => s.exit_code !== 0)) failures.push('a process did not exit 0 on SIGTERM');

    const result = {
      started: new Date().toISOString(),
      command: `npm run rollout${LB_RETRIES ? ' -- --lb-retries' : ''}`,
      load_avg: os.loadavg(),
      settings: { drain_delay_ms: DRAIN_DELAY_MS, check_inter_ms: INTER_MS, fall: FALL, rise: RISE, lb_retries: LB_RETRIES, ingest_rate: RATE, query_rate: QUERY_RATE },
      steps,
      ingest: ing.summary(),
      query: qry.summary(),
      verdict,
      settled_s: settled,
      failures,
      status: failures.length === 0 ? 'pass' : 'fail',
    };
    const md = [
      `# trackhouse rolling restart behind HAProxy, ${result.started}`,
      '',
      `Command: \`${result.command}\`; load average ${result.load_avg.map((x) => x.toFixed(2)).join(' ')}; drain delay ${DRAIN_DELAY_MS} ms, HAProxy checks /readyz every ${INTER_MS} ms (fall ${FALL}, rise ${RISE})${LB_RETRIES ? ', L7 retries on 503 / dropped connections' : ''}.`,
      '',
      `**${result.status.toUpperCase()}**${failures.length ? `: ${failures.join('; ')}` : ''}`,
      '',
      '| | requests | 200 | 503 retried | failed (refused / reset / timeout / other) | other status | p50 ms | p99 ms | max ms |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...([['ingest', ing], ['query', qry]] as const).map(
        ([n, c]) =>
          `| ${n} | ${c.requests} | ${c.ok} | ${c.retried503} | ${c.failedTotal} (${c.failed.refused} / ${c.failed.reset} / ${c.failed.timeout} / ${c.failed.other}) | ${JSON.stringify(c.otherStatus)} | ${c.percentile(50).toFixed(1)} | ${c.percentile(99).toFixed(1)} | ${c.percentile(100).toFixed(1)} |`,
      ),
      '',
      `Events: ${verdict.acked} acknowledged, ${verdict.stored} stored, ${verdict.lost} lost, ${verdict.doubled} doubled (rollups ${verdict.rollups.event.events} / ${verdict.rollups.category.events} / ${verdict.rollups.group.events}).`,
      '',
      '| restarted | out of HAProxy after SIGTERM (s) | exited after (s) | exit code | ready after start (s) | back in HAProxy after (s) |',
      '| --- | --- | --- | --- | --- | --- |',
      ...steps.map((s) => `| ${s.instance} | ${s.lb_down_s ?? '-'} | ${s.exit_s} | ${s.exit_code} | ${s.ready_s} | ${s.lb_up_s ?? '-'} |`),
      '',
    ].join('\n');
    const out = path.join(ROOT, 'chaos', 'results');
    mkdirSync(out, { recursive: true });
    const stamp = `rollout-${result.started.replace(/[:.]/g, '-')}`;
    writeFileSync(path.join(out, `${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(path.join(out, `${stamp}.md`), `${md}\n`);
    process.stdout.write(`${md}\nwritten: chaos/results/${stamp}.md\n`);
    process.exitCode = failures.length === 0 ? 0 : 1;
  } finally {
    await stopAll();
  }
}

await main();
