// Runs one Apache Kafka broker in KRaft mode (combined broker + controller) on 127.0.0.1.
//
// The JVM is started through a tiny sh wrapper whose stdin is a pipe from this process: when
// that pipe closes (stop() or this process dying, even by SIGKILL) the wrapper sends the broker
// SIGTERM, so a crashed test run or Ctrl-C never leaves a broker behind. The broker gets its own
// process group, so a terminal's Ctrl-C reaches us first and we stop Kafka last, after draining.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TrackhouseError } from '../common/errors.js';
import { processRunning } from '../common/process.js';
import { makeOwnPrivateDir, makePrivateDir } from '../common/privatedir.js';
import { ensureJars } from './jars.js';
import { classArchive } from './cds.js';
import { javaRuntime } from './prereq.js';

export interface LocalBrokerOptions {
  dataDir: string;
  /** Where the resolved jars are cached (default: dataDir), so throwaway brokers share one copy. */
  cacheDir?: string;
  version: string;
  /** 0 picks a free port. */
  port: number;
  controllerPort: number;
  /** Folder name under <dataDir>/kafka/ for this broker's data and logs. */
  instance?: string;
  heapMb?: number;
  startTimeoutMs?: number;
  /** Extra server.properties entries (tests use them for small segments, etc.). */
  properties?: Record<string, string | number>;
}

export interface LocalBroker {
  readonly brokers: string[];
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the wrapper's exit code once the broker has ended, asked to or not. */
  readonly exited: Promise<number>;
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL to the broker's process group (the wrapper, the JVM, the watchdog), at once. */
  kill(): void;
  /** The JVM's class archive (./cds.ts): its path once it exists, null if this run made none. */
  readonly classArchive: Promise<string | null>;
}

export class LocalKafkaError extends TrackhouseError {
  constructor(message: string, cause?: unknown) {
    super('LOCAL_KAFKA_FAILED', message, { cause });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function clusterIdFor(dir: string): string {
  const file = path.join(dir, 'cluster.id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  // Kafka's Uuid: 16 random bytes, URL-safe base64 without padding. Like Kafka's own
  // Uuid.randomUuid, never start with '-': the storage tool would read it as an option.
  let id = randomBytes(16).toString('base64url');
  while (id.startsWith('-')) id = randomBytes(16).toString('base64url');
  writeFileSync(file, `${id}\n`);
  return id;
}

function serverProperties(o: { port: number; controllerPort: number; logDirs: string }, extra: Record<string, string | number>): string {
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${o.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${o.port}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': o.logDirs,
    'num.partitions': 6,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 6,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    // After a crash the restarted node's controller gives the dead incarnation a fresh session when
    // it becomes active and refuses the new registration until that session times out
    // (DUPLICATE_BROKER_REGISTRATION); the broker asks again every heartbeat interval. With the
    // default 9 s that wait was half of a supervised restart; 3 s / 500 ms measured 3.1-3.3 s from
    // the controller's activation to the registration, 1.5 s / 250 ms 1.7-1.8 s. The broker
    // heartbeats its own controller in the same JVM; should a stall outlast the session, the
    // broker is fenced and unfenced at its next heartbeat (produce retried meanwhile, nothing lost).
    'broker.heartbeat.interval.ms': 250,
    'broker.session.timeout.ms': 1500,
    // Log recovery after a crash runs beside that wait: two threads on two cores.
    'num.recovery.threads.per.data.dir': 2,
    'auto.create.topics.enable': 'false',
    // Durability comes from acks=all on one replica; fsync per batch would only measure the disk.
    'log.flush.interval.messages': Number.MAX_SAFE_INTEGER,
    ...extra,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

const LOG4J = `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=\${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
`;

/** Watchdog wrapper: forwards stdin EOF (our exit) as SIGTERM to the JVM, then waits for it. */
const WRAPPER = [
  'exec 3<&0', // keep the pipe: background jobs get /dev/null as stdin unless told otherwise
  'java "$@" </dev/null & jpid=$!',
  "trap 'kill -TERM $jpid 2>/dev/null' TERM INT",
  '(cat <&3 >/dev/null; kill -TERM $jpid 2>/dev/null) & wpid=$!',
  'exec 3<&-',
  'wait $jpid; code=$?',
  'while kill -0 $jpid 2>/dev/null; do wait $jpid; code=$?; done',
  'kill $wpid 2>/dev/null',
  'exit $code',
].join('\n');

export async function startLocalBroker(opts: LocalBrokerOptions): Promise<LocalBroker> {
  const java = javaRuntime();
  const libs = await ensureJars(opts.cacheDir ?? opts.dataDir, opts.version, 'broker');
  const dir = path.join(opts.dataDir, 'kafka', opts.instance ?? 'local');
  const logsDir = path.join(dir, 'logs');
  const logDirs = path.join(dir, 'data');
  // Kafka's logs hold every event: `<dataDir>/kafka` is trackhouse's own folder, 0700 even if an
  // earlier version made it 0755.
  makeOwnPrivateDir(path.join(opts.dataDir, 'kafka'));
  makePrivateDir(logsDir);
  makePrivateDir(logDirs);

  const port = opts.port === 0 ? await freePort() : opts.port;
  let controllerPort = opts.controllerPort === 0 ? await freePort() : opts.controllerPort;
  while (controllerPort === port) controllerPort = await freePort();
  for (const [p, variable] of [
    [port, 'LOCAL_KAFKA_PORT'],
    [controllerPort, 'LOCAL_KAFKA_CONTROLLER_PORT'],
  ] as const) {
    if (!(await portIsFree(p))) {
      throw new LocalKafkaError(
        `${variable}=${p} is already in use on 127.0.0.1; stop what holds it, set ${variable} to a free port ` +
          `(0 picks one), or set KAFKA_BROKERS to use a running cluster`,
      );
    }
  }

  const propsFile = path.join(dir, 'server.properties');
  writeFileSync(propsFile, serverProperties({ port, controllerPort, logDirs }, opts.properties ?? {}));
  const log4jFile = path.join(dir, 'log4j.properties');
  writeFileSync(log4jFile, LOG4J);

  // The real path: data dirs that link the jars in (chaos, tests) then share one class archive.
  const libsDir = realpathSync(path.join(libs, 'libs'));
  const classpath = `${libsDir}${path.sep}*`;
  const heapMb = opts.heapMb ?? 512;
  const jvm = [
    `-Xms${heapMb}m`,
    `-Xmx${heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${log4jFile}`,
    `-Dkafka.logs.dir=${logsDir}`,
    '-cp',
    classpath,
  ];
  const cds = classArchive({ dir: path.dirname(libsDir), javaBuild: java.build, classpath, heapMb });

  const clusterId = clusterIdFor(dir);
  // Formatted storage has meta.properties (format -g would leave it as it is): one JVM start
  // fewer for every later start, and for a restart after a crash.
  if (!existsSync(path.join(logDirs, 'meta.properties'))) {
    const format = await runJava([...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile, '-g']);
    if (format.code !== 0) {
      throw new LocalKafkaError(`formatting Kafka storage in ${logDirs} failed (exit ${format.code}):\n${format.text.slice(-3000)}`);
    }
  }

  const outFile = path.join(logsDir, 'stdout.log');
  const out = openSync(outFile, 'a');
  const child = spawn('sh', ['-c', WRAPPER, 'kafka', ...cds.flags, ...jvm, 'kafka.Kafka', propsFile], {
    stdio: ['pipe', out, out],
    detached: true,
  });
  closeSync(out);
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  let running = true;
  void exited.then(() => {
    running = false;
    cds.cancel();
  });

  const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
  while (true) {
    if (!running) {
      cds.cancel();
      throw new LocalKafkaError(`the Kafka broker exited during start; see ${path.join(logsDir, 'server.log')}:\n${tail(outFile)}`);
    }
    if (await brokerAnswers(port)) break;
    if (Date.now() > deadline) {
      cds.cancel();
      await stopChild(child, exited, 10_000);
      throw new LocalKafkaError(`the Kafka broker did not answer on 127.0.0.1:${port} in time; see ${logsDir}`);
    }
    await sleep(200);
  }
  cds.build();

  return {
    brokers: [`127.0.0.1:${port}`],
    port,
    pid: child.pid!,
    logFile: path.join(logsDir, 'server.log'),
    exited,
    stop: (timeoutMs = 30_000) => stopChild(child, exited, timeoutMs),
    kill: () => killGroup(child),
    classArchive: cds.ready,
  };
}

/**
 * Stops a broker this process did not start, by the pid of its wrapper (the leader of its process
 * group, as broker.json records it): SIGTERM to the group, then waits until it has gone; SIGKILL
 * after 20 s.
 */
export async function stopBrokerGroup(pid: number): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (processRunning(pid)) {
    if (Date.now() > deadline) {
      signalGroup(pid, 'SIGKILL');
      break;
    }
    await sleep(100);
  }
}

/** Signals the process group led by `pid`; one already gone is not an error. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone already */
  }
}

function killGroup(child: ChildProcess): void {
  child.stdin?.end();
  signalGroup(child.pid!, 'SIGKILL');
}

async function stopChild(child: ChildProcess, exited: Promise<number>, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin?.end();
  const timer = setTimeout(() => killGroup(child), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * True once the broker answers a Metadata request on its client port with itself as a broker.
 * A bare TCP connect is not enough: the socket opens before the broker can serve requests.
 */
export async function brokerAnswers(port: number): Promise<boolean> {
  // ApiVersions would do too; Metadata v1 with no topics proves the broker registered itself.
  const clientId = Buffer.from('trackhouse-probe');
  const body = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length + 4);
  let o = 0;
  o = body.writeInt32BE(body.length - 4, o);
  o = body.writeInt16BE(3, o); // api key: Metadata
  o = body.writeInt16BE(1, o); // version 1
  o = body.writeInt32BE(1, o); // correlation id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  body.writeInt32BE(0, o); // zero topics
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write(body));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4) return;
      const size = buf.readInt32BE(0);
      if (buf.length < 4 + size) return;
      // correlation id (4) then broker array count (4): at least one broker means ready.
      done(size >= 8 && buf.readInt32BE(4) === 1 && buf.readInt32BE(8) >= 1);
    });
  });
}

function runJava(args: string[]): Promise<{ code: number; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, text }));
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '';
  }
}
