// Resolves the Apache Kafka broker's jars from Maven Central with mvn, once per version.
//
// A throwaway pom (packaging=pom) lists the broker artifact; the dependency plugin copies its
// runtime closure into <dataDir>/kafka/<version>/<set>/. The Maven repository lives under the
// data dir too (<dataDir>/m2), so nothing is written outside the project; trackhouse makes it 0700
// before mvn runs, as every folder it names (mvn makes a missing one with the umask's mode, 0755,
// and the folder it tightens is one an earlier version left so). A finished set has a marker file;
// concurrent callers (parallel test workers) each resolve into a temp folder and rename it.
import { spawn } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InterruptedError, PrerequisiteError } from '../common/errors.js';
import { makeOwnPrivateDir, makePrivateDir } from '../common/privatedir.js';
import { checkMaven } from './prereq.js';

const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
/** 3.9's broker module brings no logging backend; without one it prints nothing useful. */
const SLF4J = '1.7.36';

export type JarSet = 'broker' | 'tools';

function artifactsFor(set: JarSet, version: string): string[][] {
  const common = [
    ['org.slf4j', 'slf4j-api', SLF4J],
    ['org.slf4j', 'slf4j-reload4j', SLF4J],
  ];
  if (set === 'broker') return [['org.apache.kafka', 'kafka_2.13', version], ...common];
  // ProducerPerformance and friends; large (pulls connect-runtime), so only for benchmarks.
  return [['org.apache.kafka', 'kafka-tools', version], ['org.apache.kafka', 'kafka-clients', version], ...common];
}

function pom(set: JarSet, version: string): string {
  const deps = artifactsFor(set, version)
    .map(
      ([g, a, v]) =>
        `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`,
    )
    .join('\n');
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.trackhouse</groupId>
  <artifactId>kafka-${set}</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`;
}

export function jarDir(dataDir: string, version: string, set: JarSet = 'broker'): string {
  return path.join(dataDir, 'kafka', version, set);
}

/** Whether the jars are resolved already (then neither mvn nor the network is needed). */
export function jarsInstalled(dataDir: string, version: string, set: JarSet = 'broker'): boolean {
  return existsSync(path.join(jarDir(dataDir, version, set), '.complete'));
}

/** Returns the folder holding the jars, resolving them first if needed. */
export async function ensureJars(dataDir: string, version: string, set: JarSet = 'broker'): Promise<string> {
  const dir = jarDir(dataDir, version, set);
  if (jarsInstalled(dataDir, version, set)) return dir;
  checkMaven();
  const work = `${dir}.tmp-${process.pid}-${Date.now()}`;
  makePrivateDir(work);
  const repository = path.join(dataDir, 'm2');
  makeOwnPrivateDir(repository);
  writeFileSync(path.join(work, 'pom.xml'), pom(set, version));
  const args = [
    '-q',
    '-B',
    `-Dmaven.repo.local=${repository}`,
    '-f',
    path.join(work, 'pom.xml'),
    `${DEPENDENCY_PLUGIN}:copy-dependencies`,
    '-DincludeScope=runtime',
    `-DoutputDirectory=${path.join(work, 'libs')}`,
  ];
  const output = await run('mvn', args);
  if (output.code !== 0) {
    rmSync(work, { recursive: true, force: true });
    if (output.interruptedBy !== null) {
      throw new InterruptedError(
        `fetching the Kafka ${version} jars (${set}) with mvn was interrupted (${output.interruptedBy}); ` +
          'nothing was installed, and the next start fetches them again',
      );
    }
    throw new PrerequisiteError(
      `mvn could not resolve Kafka ${version} (${set}) from Maven Central (exit ${output.code}):\n${output.text.slice(-4000)}`,
    );
  }
  writeFileSync(path.join(work, '.complete'), `${new Date().toISOString()}\n`);
  try {
    renameSync(work, dir);
  } catch {
    // Another process finished first; its copy is as good as ours.
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(path.join(dir, '.complete'))) throw new PrerequisiteError(`could not install Kafka jars into ${dir}`);
  }
  return dir;
}

/** Exit codes of a process that ended on SIGHUP, SIGINT or SIGTERM (128 + signal number), as a shell or the JVM reports them. */
const SIGNAL_EXITS: Record<number, NodeJS.Signals> = { 129: 'SIGHUP', 130: 'SIGINT', 143: 'SIGTERM' };

interface RunResult {
  code: number;
  text: string;
  /** The signal that ended it (Ctrl-C in the terminal reaches mvn too), or null. */
  interruptedBy: NodeJS.Signals | null;
}

function run(cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code: code ?? 128, text, interruptedBy: signal ?? (code !== null ? (SIGNAL_EXITS[code] ?? null) : null) }),
    );
  });
}
