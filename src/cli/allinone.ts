// `trackhouse start`: the whole pipeline on one machine, for a first run and for development.
//
//   this process  : supervisor; local Kafka (child JVM) unless KAFKA_BROKERS; migrations;
//                   sink + query API (they share this process: chDB binds one data dir per
//                   process; the query API's view builds in a thread of its own)
//   child process : `trackhouse ingest` (its own event loop and INGEST_THREADS threads, so the
//                   HTTP hot path never waits behind a sink batch)
//
// Start order: the broker, the topics, the ingest child (so events are taken again within seconds
// of a restart), then chDB and migrations, the erasure list, the query API, the sink.
// Ctrl-C (SIGINT) or SIGTERM drains in data-flow order: ingest stops taking requests and
// flushes to Kafka, the sink inserts and commits what it holds, the query API stops, ClickHouse
// closes, and Kafka stops last. Before that every part says not ready at once and, only when
// SHUTDOWN_DRAIN_DELAY_MS is set (there is no load balancer to tell on a developer's machine,
// and Ctrl-C should be quick), keeps its port open that long first.
//
// The data dir is locked first (./datadirlock.ts), before the broker reuse check and chDB. The
// local broker and the ingest child are supervised (lifecycle.ts, Supervised): a crash is logged,
// restarted with backoff and counted in trackhouse_part_restarts_total{part} on the sink's
// /metrics, whose /readyz says 503 while a part is down.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkClickHouse, createSqlEngine, openClickHouse, serveNativePort, serveSqlPort, type BiPort, type BiPortOptions, type ClickHouseHandle } from '../warehouse/index.js';
import { ConfigError, errorMessage, InterruptedError, TrackhouseError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { claimPort, probeListen } from '../common/listen-errors.js';
import { VERSION } from '../common/version.js';
import { lowerBulkThreads, THREAD } from '../common/threads.js';
import { Counter, createRegistry, type Registry } from '../common/metrics.js';
import { currentEnv, DEV_ADMIN_KEY, loadConfig, withDevKeys, type Config } from '../config/index.js';
import { createKafka, ensureTopics, explainKafkaError } from '../kafka/index.js';
import {
  clearBrokerState,
  findRunningBroker,
  freePort,
  portIsFree,
  startLocalBroker,
  stopBrokerGroup,
  writeBrokerState,
  type LocalBroker,
} from '../localkafka/index.js';
import { dataDirCookielessSecret } from './cookielesssecret.js';
import { auditMigrations } from './audit.js';
import { migrateExclusively } from './migrations.js';
import { clickhousePart, erasuresPart, hostedStream, queryComponent, sinkComponent, streamRules } from './components.js';
import { lockDataDir } from './datadirlock.js';
import { Lifecycle, StartAborted, Supervised, type Incarnation, type Part } from './lifecycle.js';
import { chooseLocalPorts } from './localports.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** Nice of the all-in-one's bulk threads (sink, chDB, stream): 10 weighs 110 against nice 0's 1024, about a tenth of a contended core. */
const BULK_NICE = 10;

export async function startAllInOne(): Promise<number> {
  const base = loadConfig();
  const keys = withDevKeys(base.keys);
  const exposed = devKeysRefusal(base.http.host, keys);
  if (exposed !== null) throw new ConfigError(exposed);
  const config: Config = Object.freeze({ ...base, keys: { write: keys.write, read: keys.read, admin: keys.admin } });
  const log = createLogger(config.logLevel, { component: 'start' });
  // Before anything looks at the data dir: a second start on it stops here, having touched nothing.
  const lock = lockDataDir(config.dataDir, 'trackhouse start', { chosen: config.dataDirChosen, log });
  // A bad rules file stops the start before anything runs.
  streamRules(config, config.stream.inQuery);
  const life = new Lifecycle(log, { timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.allInOneDrainDelayMs, reloadOnHangup: config.tls.files !== null });
  // The lock is no part of the Lifecycle: it is released once, in the `finally` below, after chDB
  // has let go of the folder (untilReleased: a BI statement it runs ends) or was never opened, so a
  // new start meanwhile is told who holds the folder. A part's stop could not know that: a
  // supervised part giving up during start-up stops the parts while openClickHouse is still under
  // way (`ch` not set yet), and the lock, released then, was free while this process opened chDB
  // (start-giveup.test.ts). A hard cut (SHUTDOWN_TIMEOUT_MS, a second signal) ends the process
  // without the `finally`: the lock's exit handler releases it then.
  let ch: ClickHouseHandle | null = null;
  // Installed first, so Ctrl-C during start-up also stops whatever already runs.
  const signalled = life.untilSignal();
  const componentLog = (component: string) => createLogger(config.logLevel, { component });
  const sinkRegistry = createRegistry('sink');
  const supervision = supervisionOf(config, log, sinkRegistry, life);

  try {
    // After a start that was killed, its ingest child may hold INGEST_PORT for a moment more.
    if (lock.previous !== null) log.info({ previousPid: lock.previous }, 'took the data dir over from a trackhouse that is gone; its parts stop by themselves');
    const biPorts = await claimHttpPorts(config, log, lock.previous === null ? 0 : PREVIOUS_RUN_GRACE_MS);
    const { brokers, broker } = await kafkaFor(config, log, life, supervision);
    const kafka = createKafka(config.kafka, log, brokers);
    await ensureTopics(kafka, config.kafka).catch((err: unknown) => {
      // Only a cluster named by KAFKA_BROKERS can be misconfigured; the local broker was just started here.
      throw config.kafka.brokers.length > 0 ? explainKafkaError(err, config.kafka, brokers) : err;
    });
    life.checkpoint();

    // The ingest child starts as soon as the topics exist: it needs only Kafka, and taking events
    // again is what a restart (after a crash, a kill -9, a broker incident) should give back first.
    // Opening chDB, migrations, the erasure list, the view and the sink take tens of seconds more.
    // It still drains and stops before every other part (stopFirst), as data enters there.
    const ingestPort = config.http.ingestPort === 0 ? await freePort() : config.http.ingestPort;
    const sinkPort = config.http.sinkPort === 0 ? await freePort() : config.http.sinkPort;
    const ingest = await Supervised.start({
      ...supervision,
      name: 'ingest',
      ifCut: 'killed; requests it had not answered get no answer (none of them was acknowledged)',
      launch: () => startIngestChild(config, brokers, ingestPort, log, () => life.stopRequested),
    });
    life.add(ingest, { stopFirst: true });

    // The sink's work (its decode threads, chDB's insert and merge threads) and the stream share
    // this process with the view: at a lower priority, what a fresh event waits on goes first
    // when the cores are short (measured: docs/architecture/view.md, "Freshness"). Called before
    // chDB runs anything or a worker thread of ours starts: Node's threads are the ones already
    // there (see lowerBulkThreads). (Its timer is unref'd: it ends with the process.)
    await lowerBulkThreads([THREAD.sinkDecode, THREAD.stream], BULK_NICE);
    const opened = await openClickHouse(config.clickhouse, config.dataDir, log);
    ch = opened;
    life.add(clickhousePart(opened, log));
    await checkClickHouse(opened, config.clickhouse);
    await auditMigrations(kafka, config, await migrateExclusively({ config, ch: opened, kafka, log }), 'start', opened.location, log);
    life.checkpoint();
    // The query API's /metrics, which the SQL port's statements are counted on too.
    const queryRegistry = createRegistry('query');
    // BI tools read the tables through them (the same engine gate and metrics); they stop just
    // before ClickHouse closes.
    const sqlEngine = biPorts.http === null && biPorts.native === null ? null : await createSqlEngine(opened.biClient, { registry: queryRegistry });
    // Each BI port (ClickHouse's HTTP interface, its native protocol) on the one engine, a part of its own.
    const biPort = async (serve: (o: BiPortOptions) => Promise<BiPort>, port: number | null, portVariable: string, name: string): Promise<BiPort | null> => {
      if (sqlEngine === null || port === null) return null;
      const p = await serve({ engine: sqlEngine, host: config.http.host, port, portVariable, readKeys: config.keys.read, log: componentLog('sql'), tls: config.tls.files });
      life.add({ name, ifCut: 'closed with its connections', stop: async () => p.close(), reload: () => p.reloadTls() });
      return p;
    };
    const sqlPort = await biPort(serveSqlPort, biPorts.http, 'BI_PORT', 'SQL port');
    const nativePort = await biPort(serveNativePort, biPorts.native, 'BI_NATIVE_PORT', 'native SQL port');

    // The rest in data-flow order from the back, so they stop as data flows: (ingest,) sink, query.
    // Ports were chosen first so the query's dashboard knows where the ingest and the sink answer.
    // The stream component (live volume, alerts) is hosted by the query API: its routes on the query port.
    const stream = hostedStream({ config, brokers, log: componentLog('stream'), registry: queryRegistry });
    // One erasure list for the sink and the query API: an erasure applies to both at once.
    const erasures = await erasuresPart(kafka, config, componentLog('erasures'));
    life.add(erasures.part);
    const queryConfig = withDashboardTargets(config, ingestPort, sinkPort);
    const query = await queryComponent({ config: queryConfig, brokers, clickhouse: opened.client, log: componentLog('query'), registry: queryRegistry, stream, erasures: erasures.reader });
    life.add(query);
    const sinkConfig: Config = Object.freeze({ ...config, http: Object.freeze({ ...config.http, sinkPort }) });
    const sink = await sinkComponent({ config: sinkConfig, kafka, clickhouse: opened.client, log: componentLog('sink'), registry: sinkRegistry, erasures: erasures.reader });
    if (broker) sink.addCheck(broker.readiness);
    sink.addCheck(ingest.readiness);
    life.add(sink);

    life.ready();
    printBanner(config, keys, { ingestPort, queryPort: query.port, sinkPort: sink.port, sqlPort, nativePort, brokers });
    return await Promise.race([signalled, supervision.gaveUp]);
  } catch (err) {
    await life.stopAll();
    // Ctrl-C reaches the tools we run too (mvn fetching the broker's jars): that step did not
    // fail, it was stopped, like the rest. After a supervised part gave up during start-up, the
    // step under way may also fail for real (the stop closed the Kafka or chDB it was using):
    // that is the give-up's doing, which says why, and the exit is the give-up's 1, not 2.
    if (life.stopRequested && (err instanceof InterruptedError || supervision.givenUp())) {
      if (err instanceof InterruptedError) {
        if (!(err instanceof StartAborted)) log.info(err.message);
      } else log.info({ err: errorMessage(err) }, 'a start-up step failed after the give-up stopped what it used');
      // Stopped by a signal, or by a supervised part that gave up during start-up: no signal comes then.
      return await Promise.race([signalled, supervision.gaveUp]);
    }
    throw err;
  } finally {
    // Every part has stopped (or start-up failed and stopped them), and no start-up step is under
    // way (one that was has ended: this is its return or throw), so chDB is open only if `ch` is
    // set. Released here only, then main.ts exits.
    await untilReleased(ch, life, log);
    lock.release();
  }
}

/**
 * Waits until chDB has let go of the data dir, so the process exits only then. process.exit()
 * runs libchdb's exit handlers and static destructors, which tear the engine down; when a BI
 * statement was still running at the stop (chDB cannot stop one), they ran as it ended, while the
 * engine's threads were still at work, and the process died of SIGSEGV about once in 20-30 stops
 * on a loaded 2-core machine, after logging "stopped". Awaited here, chDB destroys the connection
 * from JavaScript once the statement ends, as after any stop, and only then does the process exit
 * (and give up the lock). Outside SHUTDOWN_TIMEOUT_MS, and not bounded here: the statement's own
 * time limit bounds it, and process.exit() would wait for it all the same (Node joins the libuv
 * pool thread the statement runs on). A second signal still exits at once: ./hardexit.ts.
 */
async function untilReleased(ch: ClickHouseHandle | null, life: Lifecycle, log: Logger): Promise<void> {
  if (ch === null) return;
  const running = ch.biRunning();
  life.disarmCut();
  const t0 = performance.now();
  await ch.released();
  if (running) log.info({ waitedMs: Math.round(performance.now() - t0) }, 'the BI statement ended and chDB let go of the data dir: exiting');
}

/**
 * A port another process serves (another trackhouse start, say) stops the start here, in a
 * second, rather than after the broker, chDB and the view have started; each part claims its
 * port again as it listens. Returns the SQL ports to serve for BI tools, each or null: none with a
 * ClickHouse server (BI tools connect to it), with BI_PORT=off (BI_NATIVE_PORT=off), or when the
 * default port is taken (a ClickHouse server of the user's own, most likely: said, and the start goes on).
 */
async function claimHttpPorts(config: Config, log: Logger, waitMs: number): Promise<{ http: number | null; native: number | null }> {
  const { host, ingestPort, queryPort, sinkPort } = config.http;
  const ports: [number | null, string][] = [
    [ingestPort, 'INGEST_PORT'],
    [queryPort, 'QUERY_PORT'],
    [sinkPort, 'SINK_PORT'],
    [config.tls.files ? config.tls.ingestPort : null, 'INGEST_TLS_PORT'],
    [config.tls.files ? config.tls.queryPort : null, 'QUERY_TLS_PORT'],
  ];
  const deadline = Date.now() + waitMs;
  for (const [i, [port, variable]] of ports.entries()) {
    if (port === null) continue;
    for (;;) {
      try {
        await claimPort(host, port, variable);
        break;
      } catch (err) {
        if (Date.now() >= deadline) throw await withOtherPortsTaken(err, host, ports.slice(i + 1));
        await sleep(100);
      }
    }
  }
  return { http: await sqlPortToServe(config, log, 'BI_PORT'), native: await sqlPortToServe(config, log, 'BI_NATIVE_PORT') };
}

/**
 * `err` (a port in use), naming the ports after it that are in use too: a second trackhouse holds
 * them all, and named one at a time each needed another failed start to find.
 */
async function withOtherPortsTaken(err: unknown, host: string, rest: readonly [number | null, string][]): Promise<unknown> {
  if (!(err instanceof ConfigError) || err.details.reason !== 'EADDRINUSE') return err;
  const taken: string[] = [];
  for (const [port, variable] of rest) {
    if (port !== null && port !== 0 && (await probeListen(host, port)) === 'EADDRINUSE') taken.push(`${variable}=${port}`);
  }
  if (taken.length === 0) return err;
  const also = taken.length === 1 ? `${taken[0]} is in use too: give it a free port as well` : `${taken.join(', ')} are in use too: give each a free port as well`;
  return new ConfigError(`${err.message}. ${also}`, { ...err.details, alsoInUse: taken });
}

/**
 * How long a start that took the data dir over from a killed one waits for that one's ports: its
 * ingest child sees the parent gone and stops within a second (measured: 0.25-0.5 s after kill -9).
 */
const PREVIOUS_RUN_GRACE_MS = 10_000;

/** The SQL ports `start` serves for BI tools, by the variable that sets each. */
const BI_PORTS = {
  BI_PORT: { of: (c: Config) => c.http.biPort, what: 'the read-only SQL port for BI tools' },
  BI_NATIVE_PORT: { of: (c: Config) => c.http.biNativePort, what: "the read-only SQL port for BI tools in ClickHouse's native protocol" },
} as const;

/** A SQL port `start` serves (BI_PORT, or BI_NATIVE_PORT), claimed (see claimHttpPorts), or null. */
export async function sqlPortToServe(config: Config, log: Pick<Logger, 'warn'>, variable: keyof typeof BI_PORTS = 'BI_PORT'): Promise<number | null> {
  const bi = config.clickhouse.url === null ? BI_PORTS[variable].of(config) : null;
  if (bi === null) return null;
  if (bi.explicit) {
    await claimPort(config.http.host, bi.port, variable);
    return bi.port;
  }
  if ((await probeListen(config.http.host, bi.port)) === 'EADDRINUSE') {
    log.warn({ port: bi.port }, `port ${bi.port} is in use, so ${BI_PORTS[variable].what} is not served; set ${variable} to a free port (0 picks one), or ${variable}=off to say none`);
    return null;
  }
  return bi.port;
}

/** What every supervised part shares: the policy, the counter, and giving up (stop all, exit 1). */
function supervisionOf(config: Config, log: Logger, registry: Registry, life: Lifecycle) {
  const restarts = new Counter({
    name: 'trackhouse_part_restarts_total',
    help: 'Restarts of a crashed part of trackhouse start (kafka: the local broker; ingest: the ingest child process)',
    labelNames: ['part'] as const,
    registers: [registry],
  });
  for (const part of ['kafka', 'ingest']) restarts.inc({ part }, 0);
  let giveUp!: (code: number) => void;
  const gaveUp = new Promise<number>((resolve) => (giveUp = resolve));
  let given = false;
  return {
    log,
    policy: config.restart,
    restarts,
    gaveUp,
    /** A part gave up and started the stop (not a signal). */
    givenUp: () => given,
    onGiveUp: () => {
      if (life.stopRequested) return;
      given = true;
      // The same bound as a signal's stop: a part's stop or a start-up step under way (waiting
      // for a broker that does not answer) that never ends is cut at SHUTDOWN_TIMEOUT_MS, exit 1.
      life.armCut();
      void life.stopAll().then(() => giveUp(1));
    },
  };
}

/**
 * The dashboard reads the ingest's and the sink's /readyz and /metrics: here they are this
 * process's own parts, unless DASHBOARD_INGEST_URL / DASHBOARD_SINK_URL say otherwise.
 */
function withDashboardTargets(config: Config, ingestPort: number, sinkPort: number): Config {
  const host = loopbackFor(config.http.host);
  return Object.freeze({
    ...config,
    dashboard: Object.freeze({
      ...config.dashboard,
      // With TLS on INGEST_PORT the dashboard reads it over HTTPS, trusting what Node trusts
      // (NODE_EXTRA_CA_CERTS for a private CA); INGEST_TLS_PORT keeps INGEST_PORT plain for it.
      ingestUrl: config.dashboard.ingestUrl ?? `${ingestHttps(config) ? 'https' : 'http'}://${host}:${ingestPort}`,
      sinkUrl: config.dashboard.sinkUrl ?? `http://${host}:${sinkPort}`,
    }),
  });
}

/** INGEST_PORT speaks HTTPS: TLS files set and no INGEST_TLS_PORT. */
function ingestHttps(config: Config): boolean {
  return config.tls.files !== null && config.tls.ingestPort === null;
}

/** The same for QUERY_PORT. */
function queryHttps(config: Config): boolean {
  return config.tls.files !== null && config.tls.queryPort === null;
}

/** 127.0.0.0/8 and ::1; BlockList also matches IPv4-mapped IPv6 (::ffff:127.0.0.1, ::ffff:7f00:1). */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether only this machine reaches `host` (HOST): `localhost`, or an address (an IPv6 one maybe
 * in brackets) in LOOPBACK, however it is spelled. Read as an address, not matched as text.
 */
function loopbackOnly(host: string): boolean {
  if (host === 'localhost') return true;
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(address);
  if (family === 0 || (family === 4 && address !== host)) return false;
  return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Why `trackhouse start` may not take the dev keys on `host`, or null. They are in the README, so
 * on an address other machines reach anyone there could read every event and, with the admin
 * key, erase users.
 */
export function devKeysRefusal(host: string, keys: ReturnType<typeof withDevKeys>): string | null {
  if (loopbackOnly(host)) return null;
  const unset = [
    ...(keys.devWrite ? ['TRACKHOUSE_WRITE_KEYS'] : []),
    ...(keys.devRead ? ['TRACKHOUSE_READ_KEYS'] : []),
    ...(keys.devAdmin ? ['TRACKHOUSE_ADMIN_KEYS'] : []),
  ];
  if (unset.length === 0) return null;
  return (
    `HOST=${host} is reachable from other machines, and ${unset.join(', ')} ${unset.length === 1 ? 'is' : 'are'} unset, ` +
    'so the published dev keys would be taken there (the admin key erases data); set them, or HOST=127.0.0.1'
  );
}

/** An address to reach a server listening on `host` from this machine. */
function loopbackFor(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

async function kafkaFor(
  config: Config,
  log: Logger,
  life: Lifecycle,
  supervision: ReturnType<typeof supervisionOf>,
): Promise<{ brokers: string[]; broker: Supervised | null }> {
  if (config.kafka.brokers.length > 0) return { brokers: config.kafka.brokers, broker: null };
  const running = await findRunningBroker(config.dataDir);
  if (running?.owner === 'start') {
    // The broker of a start that is gone (this one holds the data dir): it stops by itself once it
    // sees that, within a second; reusing it would leave this start without Kafka then.
    log.info({ brokerPid: running.pid }, 'waiting for the local Kafka broker of the previous start, which is gone, to stop');
    await stopBrokerGroup(running.pid);
    clearBrokerState(config.dataDir, running.pid);
  } else if (running) {
    // One started by `trackhouse kafka run`: it belongs to that command, which stops it.
    log.info({ port: running.port, brokerPid: running.pid }, 'reusing the local Kafka broker already running for this data dir');
    return { brokers: [`127.0.0.1:${running.port}`], broker: null };
  }
  const local = config.kafka.local;
  const { port, controllerPort, notices } = await chooseLocalPorts(local, portIsFree, freePort);
  for (const n of notices) log[n.level](n.fields, n.message);
  log.info({ version: local.version }, 'starting the local Kafka broker (first run fetches its jars with mvn)');
  // Every run on the same ports: the clients keep the address they were given.
  const launch = async (): Promise<Incarnation> => {
    const broker: LocalBroker = await startLocalBroker({ dataDir: config.dataDir, version: local.version, port, controllerPort });
    writeBrokerState(config.dataDir, { pid: broker.pid, port: broker.port, version: local.version, startedAt: new Date().toISOString(), owner: 'start' });
    log.info({ brokers: broker.brokers, log: broker.logFile, brokerPid: broker.pid }, 'local Kafka broker ready');
    // A crash may leave the wrapper's watchdog or the JVM behind (the wrapper killed): clear the group.
    void broker.exited.then(() => broker.kill());
    return {
      exited: broker.exited,
      kill: () => broker.kill(),
      stop: async () => {
        await broker.stop();
        clearBrokerState(config.dataDir, broker.pid);
      },
    };
  };
  const broker = await Supervised.start({
    ...supervision,
    name: 'kafka',
    ifCut: 'killed (SIGKILL), so it cannot outlive this process in the data dir; it recovers its log at the next start, and what it acknowledged is kept',
    launch,
  });
  life.add(broker);
  return { brokers: [`127.0.0.1:${port}`], broker };
}

/**
 * Runs `trackhouse ingest` as a child process and resolves once it answers /readyz. Its stop
 * bound is ours less a margin, so it gives up (and says what it left) before we would kill it.
 */
async function startIngestChild(config: Config, brokers: string[], port: number, log: Logger, aborted: () => boolean): Promise<Incarnation> {
  const childTimeoutMs = Math.max(100, config.shutdownTimeoutMs - Math.min(1_000, Math.floor(config.shutdownTimeoutMs / 5)));
  const env = {
    ...currentEnv(),
    KAFKA_BROKERS: brokers.join(','),
    INGEST_PORT: String(port),
    SHUTDOWN_TIMEOUT_MS: String(childTimeoutMs),
    SHUTDOWN_DRAIN_DELAY_MS: String(Math.min(config.allInOneDrainDelayMs, childTimeoutMs - 1)),
    TRACKHOUSE_WRITE_KEYS: [...config.keys.write].map(([k, s]) => `${k}:${s}`).join(','),
    // The same on every (re)start of the child: PostHog cookieless visitors keep their id of the day.
    INGEST_COOKIELESS_SECRET: config.ingest.cookielessSecret ?? dataDirCookielessSecret(config.dataDir),
  };
  // Its own process group, so a terminal's Ctrl-C reaches only us and we drain in order; the
  // IPC channel makes it stop if we die.
  const child: ChildProcess = spawn(process.execPath, [MAIN, 'ingest'], { env, detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let running = true;
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false;
      resolve(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1));
    }),
  );
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const deadline = Date.now() + 60_000;
  // Our own child on this machine: its certificate need not name this address, so not verified here.
  while (!(await answers(`${ingestHttps(config) ? 'https' : 'http'}://${loopbackFor(config.http.host)}:${port}/readyz`))) {
    if (!running) throw new TrackhouseError('INGEST_FAILED', `trackhouse ingest exited during start (code ${await exited}); see its log above`);
    if (aborted()) {
      child.kill('SIGTERM');
      await exited;
      throw new StartAborted();
    }
    if (Date.now() > deadline) {
      kill();
      throw new TrackhouseError('INGEST_FAILED', `trackhouse ingest did not become ready on port ${port} within 60 s`);
    }
    await sleep(100);
  }
  log.info({ port, ingestPid: child.pid }, 'ingest ready');
  // One SIGTERM only: a second one, a second later, would make the child exit at once.
  let terminated = false;
  const terminate = () => {
    if (running && !terminated) child.kill('SIGTERM');
    terminated = true;
  };
  return {
    exited,
    drain: terminate,
    kill,
    // It reloads its certificate files itself on SIGHUP (`trackhouse ingest` with TLS on).
    reload: async () => {
      if (running) child.kill('SIGHUP');
    },
    stop: async () => {
      if (!running && !terminated) return;
      terminate();
      const code = await exited;
      // It exits non-zero when it gave up on something, having logged what.
      if (code !== 0) throw new TrackhouseError('INGEST_UNCLEAN_STOP', `the ingest process exited with code ${code} (its log above says what it left)`);
    },
  };
}

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function printBanner(config: Config, keys: ReturnType<typeof withDevKeys>, p: BannerPorts): void {
  process.stdout.write(`${bannerLines(config, keys, p).join('\n')}\n`);
}

interface BannerPorts {
  ingestPort: number;
  queryPort: number;
  sinkPort: number;
  sqlPort: { port: number; secure: boolean } | null;
  nativePort: { port: number; secure: boolean } | null;
  brokers: string[];
}

/** The banner's lines: the URLs, the keys (a configured read or admin key never: stdout ends up in logs). */
export function bannerLines(config: Config, keys: ReturnType<typeof withDevKeys>, p: BannerPorts): string[] {
  const host = loopbackFor(config.http.host);
  const writeKey = [...keys.write.keys()][0]!;
  // A configured read key is a secret (the write key is in every page that sends events): the
  // example names it only when it is the dev key.
  const readKey = keys.devRead ? [...keys.read][0]! : '<read key>';
  const ingest = `${ingestHttps(config) ? 'https' : 'http'}://${host}:${p.ingestPort}`;
  const query = `${queryHttps(config) ? 'https' : 'http'}://${host}:${p.queryPort}`;
  const lines = [
    '',
    `trackhouse ${VERSION} is running (Node.js ${process.versions.node})`,
    '',
    `  ingest   ${ingest}      (Segment HTTP Tracking API: /v1/track, /v1/batch, ...)`,
    `  query    ${query}      (/v1/users/{userId}/events, /v1/rollups/daily${config.stream.inQuery ? ', /v1/volume, /v1/alerts' : ''})`,
    `  browser  ${query}/dashboard      (the dashboard: enter the read key below)`,
    `  sink     http://${host}:${p.sinkPort}      (/metrics, /readyz)`,
    `  kafka    ${p.brokers.join(',')}${config.kafka.brokers.length === 0 ? '   (local broker, data in ' + config.dataDir + '/kafka)' : ''}`,
    `  schemas  ${query}/registry      (Confluent schema registry API of ${config.kafka.topics.events}, for Kafka tools: the read key as user name)`,
    `  data     ${config.clickhouse.url ?? `${config.dataDir}/clickhouse (chDB, in this process)`}`,
    ...(p.sqlPort === null
      ? []
      : [`  sql      ${p.sqlPort.secure ? 'https' : 'http'}://${host}:${p.sqlPort.port}      (ClickHouse HTTP interface for BI tools, read-only: any user name, the read key as password)`]),
    ...(p.nativePort === null
      ? []
      : [`  native   ${host}:${p.nativePort.port}${p.nativePort.secure ? ' (TLS)' : ''}      (ClickHouse native protocol, as Grafana's ClickHouse plugin speaks it by default; read-only, the read key as password)`]),
    '',
    keys.devWrite ? `  write key  ${writeKey}   (dev key: set TRACKHOUSE_WRITE_KEYS for real ones)` : `  write key  ${writeKey} (from TRACKHOUSE_WRITE_KEYS)`,
    keys.devRead ? `  read key   ${readKey}    (dev key: set TRACKHOUSE_READ_KEYS for real ones)` : `  read key   (from TRACKHOUSE_READ_KEYS)`,
    keys.devAdmin ? `  admin key  ${DEV_ADMIN_KEY}   (dev key: set TRACKHOUSE_ADMIN_KEYS for real ones; erasure and the audit trail)` : `  admin key  (from TRACKHOUSE_ADMIN_KEYS)`,
    '',
    '  Try it:',
    `    curl -u '${writeKey}:' -H 'Content-Type: application/json' \\`,
    `      -d '{"userId":"user-1","event":"Signed Up","properties":{"plan":"pro","category":"signup"}}' \\`,
    `      ${ingest}/v1/track`,
    `    curl -H 'Authorization: Bearer ${readKey}' '${query}/v1/users/user-1/events'`,
    '',
    '  Ctrl-C drains and stops everything.',
    '',
  ];
  return lines;
}
