// The Go and Java programs that drive Segment's and PostHog's backend SDKs
// (test/support/sdk-go/, test/support/sdk-java/; the versions pinned in go.mod and pom.xml), for
// test/integration/ingest-jvm-go-sdks.test.ts: built here, run with the ingest URL, a write key
// and a run id, their report read back as JSON lines. The same builds serve the programs driving
// ClickHouse's JDBC driver (test/support/jdbc-java/) and its Go client (test/support/clickhouse-go/),
// for sql-port.test.ts, and the one driving Segment's analytics-kotlin on the JVM
// (test/support/sdk-kotlin/), for ingest-kotlin-sdk.test.ts.
//
// Everything they fetch or build lives under .trackhouse/sdk-clients/ (Go's module cache and
// build cache, the Maven repository, the compiled probe), so a second run is fast and $HOME is
// untouched. Each half is skipped, saying why, where it cannot be built: Java's without javac (the
// broker needs only a Java runtime) or, until the SDK jars are cached, mvn; Go's without go.
// (Loaded by test/support/prereqs.ts outside vitest too: no vitest imports here.)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { runChild } from './child.js';

export const SDK_CLIENTS_DIR = path.resolve('.trackhouse/sdk-clients');
const GO_SOURCE = path.resolve('test/support/sdk-go');
const JAVA_SOURCE = path.resolve('test/support/sdk-java');
/** The dependency plugin, by version: Maven's default one differs between Maven releases. */
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/** `go version`'s answer, or null when there is no go on PATH. */
export function goVersion(): string | null {
  const r = spawnSync('go', ['version'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A Go program the tests build against the modules pinned in its folder's go.mod. */
export interface GoProgram {
  /** Its folder: go.mod, go.sum and main.go. */
  source: string;
  /** The binary's name under .trackhouse/sdk-clients/go/bin/. */
  name: string;
  /** What it drives and which test needs it, for the message saying why it is skipped. */
  what: string;
}

export const GO_SDK_PROBE: GoProgram = {
  source: GO_SOURCE,
  name: 'sdk-go',
  what: "the test driving Segment's and PostHog's Go SDKs (ingest-jvm-go-sdks, its Go suite)",
};

export const CLICKHOUSE_GO_PROBE: GoProgram = {
  source: path.resolve('test/support/clickhouse-go'),
  name: 'clickhouse-go',
  what: "the test driving ClickHouse's Go client, as Grafana's plugin does (sql-port, its clickhouse-go case)",
};

export const METRICS_GO_PROBE: GoProgram = {
  source: path.resolve('test/support/metrics-go'),
  name: 'metrics-go',
  what: "the test checking /metrics with Prometheus' own parsers and promlint (metrics-prometheus)",
};

/** The oldest Go the program's modules build with: its go.mod's `go` line, as [major, minor]. */
function minimumGo(program: GoProgram): [number, number] {
  const m = /^go (\d+)\.(\d+)/m.exec(readFileSync(path.join(program.source, 'go.mod'), 'utf8'));
  if (m === null) throw new Error(`${path.join(program.source, 'go.mod')} has no go line`);
  return [Number(m[1]), Number(m[2])];
}

/** Why `program` cannot be built here (no go, or one older than its modules need), or null. */
export function goProblem(program: GoProgram): string | null {
  const version = goVersion();
  const [major, minor] = minimumGo(program);
  const wanted = `Go ${major}.${minor} or newer from https://go.dev/dl/; its modules come from the Go module proxy into .trackhouse/sdk-clients/go`;
  if (version === null) return `${program.what} is SKIPPED: go is not on PATH (install ${wanted})`;
  const m = /go(\d+)\.(\d+)/.exec(version);
  if (m === null || Number(m[1]) < major || (Number(m[1]) === major && Number(m[2]) < minor)) {
    return `${program.what} is SKIPPED: ${version} is older than its modules need (install ${wanted})`;
  }
  return null;
}

/** Go's caches under .trackhouse/; module files writable, so `rm -rf .trackhouse` works. */
function goEnv(): NodeJS.ProcessEnv {
  const go = path.join(SDK_CLIENTS_DIR, 'go');
  return {
    ...process.env,
    GOPATH: path.join(go, 'path'),
    GOMODCACHE: path.join(go, 'path', 'pkg', 'mod'),
    GOCACHE: path.join(go, 'cache'),
    GOFLAGS: '-modcacherw -buildvcs=false',
    // go.mod's `go` line must not make an older go download a newer toolchain.
    GOTOOLCHAIN: 'local',
  };
}

/** Builds a Go program (go's build cache makes a second build a cache hit); its path. */
export async function buildGo(program: GoProgram): Promise<string> {
  const out = path.join(SDK_CLIENTS_DIR, 'go', 'bin', program.name);
  const r = await runChild('go', ['build', '-mod=readonly', '-o', out, '.'], { cwd: program.source, env: goEnv() });
  if (r.code !== 0) throw new Error(`go build of ${path.relative(process.cwd(), program.source)} failed (exit ${r.code}):\n${r.text.slice(-4000)}`);
  return out;
}

/** A Java program the tests compile and run against jars pinned in its folder's pom.xml. */
export interface JavaProgram {
  /** Its folder: pom.xml and <main>.java. */
  source: string;
  /** Its class (and file) name. */
  main: string;
  /** What it drives and which test needs it, for the messages saying why it is skipped. */
  what: string;
}

export const SDK_PROBE: JavaProgram = {
  source: JAVA_SOURCE,
  main: 'Probe',
  what: "the test driving Segment's and PostHog's Java SDKs (ingest-jvm-go-sdks, its Java suite)",
};

export const KOTLIN_SDK_PROBE: JavaProgram = {
  source: path.resolve('test/support/sdk-kotlin'),
  main: 'KotlinProbe',
  what: "the test driving Segment's Android SDK core, analytics-kotlin, on the JVM (ingest-kotlin-sdk)",
};

export const JDBC_PROBE: JavaProgram = {
  source: path.resolve('test/support/jdbc-java'),
  main: 'JdbcProbe',
  what: "the test driving ClickHouse's JDBC driver (sql-port, its JDBC case)",
};

/** Whether `mvn` runs here (what fetches a test's jars from Maven Central on first use). */
export function mvnOnPath(): boolean {
  return spawnSync('mvn', ['-v'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
}

/** Why `program` cannot be built here (javac or, with its jars not yet cached, mvn missing), or null. */
export function javaProblem(program: JavaProgram): string | null {
  if (spawnSync('javac', ['-version'], { stdio: 'ignore', timeout: 30_000 }).status !== 0) {
    return (
      `${program.what} is SKIPPED: javac is not on PATH, and ` +
      'its probe is compiled against the jars it drives (install a JDK, not only a Java runtime; for example: apt install openjdk-17-jdk-headless)'
    );
  }
  if (javaClasspath(program) === null && !mvnOnPath()) {
    return `${program.what} is SKIPPED: mvn is not on PATH, and it fetches its jars from Maven Central on first use (for example: apt install maven)`;
  }
  return null;
}

/** The file naming the program's jars, one per version of its pom.xml (a changed pin resolves again). */
function classpathFile(program: JavaProgram): string {
  const pom = createHash('sha256').update(readFileSync(path.join(program.source, 'pom.xml'))).digest('hex').slice(0, 16);
  return path.join(SDK_CLIENTS_DIR, 'java', `classpath-${program.main}-${pom}.txt`);
}

/** The jars' classpath when resolved already and every jar is still there; else null. */
function javaClasspath(program: JavaProgram): string | null {
  const file = classpathFile(program);
  if (!existsSync(file)) return null;
  const cp = readFileSync(file, 'utf8').trim();
  return cp !== '' && cp.split(path.delimiter).every((jar) => existsSync(jar)) ? cp : null;
}

/**
 * Resolves the program's jars (mvn, once per pom.xml) and compiles it against them; the
 * classpath that runs it (`java -cp <it> <main> ...`).
 */
export async function buildJava(program: JavaProgram): Promise<string> {
  const problem = javaProblem(program);
  if (problem !== null) throw new Error(problem);
  const where = path.relative(process.cwd(), program.source);
  let cp = javaClasspath(program);
  if (cp === null) {
    const file = classpathFile(program);
    mkdirSync(path.dirname(file), { recursive: true });
    const partial = `${file}.tmp-${process.pid}`;
    const args = ['-q', '-B', `-Dmaven.repo.local=${path.join(SDK_CLIENTS_DIR, 'm2')}`, '-f', path.join(program.source, 'pom.xml'),
      `${DEPENDENCY_PLUGIN}:build-classpath`, `-Dmdep.outputFile=${partial}`];
    const r = await runChild('mvn', args);
    if (r.code !== 0) throw new Error(`mvn could not resolve the jars of ${where}/pom.xml (exit ${r.code}):\n${r.text.slice(-4000)}`);
    renameSync(partial, file);
    cp = javaClasspath(program);
    if (cp === null) throw new Error(`mvn wrote no usable classpath to ${file}`);
  }
  const classes = path.join(SDK_CLIENTS_DIR, 'java', program.main, 'classes');
  const r = await runChild('javac', ['-encoding', 'UTF-8', '-d', classes, '-cp', cp, path.join(program.source, `${program.main}.java`)]);
  if (r.code !== 0) throw new Error(`javac could not compile ${where}/${program.main}.java (exit ${r.code}):\n${r.text.slice(-4000)}`);
  return [classes, cp].join(path.delimiter);
}

/** One line a probe printed: what an SDK reported. */
export interface SdkReport {
  sdk: string;
  /** A message's callback: success or failure (with `error`). */
  callback?: 'success' | 'failure';
  message?: string;
  error?: string | null;
  /** A call the SDK refused before sending. */
  enqueue_error?: string;
  /** posthog-java: a batch's size and whether its sender says it was taken. */
  batch?: number;
  sent?: boolean;
  closed?: boolean;
  unanswered?: number;
  /** posthog-go's resending client: the requests it made. */
  requests?: number;
}

/** Runs a built probe (`command` and its leading arguments) with the ingest URL, key and run id; what it reported. */
export async function runProbe<T = SdkReport>(command: string[], url: string, writeKey: string, runId: string, timeoutMs = 120_000): Promise<T[]> {
  const [cmd, ...lead] = command;
  const r = await runChild(cmd!, [...lead, url, writeKey, runId], { timeoutMs });
  if (r.code !== 0) throw new Error(`${command.join(' ')} exited with ${r.code}:\n${r.stderr.slice(-4000)}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
