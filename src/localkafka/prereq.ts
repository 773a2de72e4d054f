// Checks for the tools the local Kafka needs, with messages that say what to install.
import { spawnSync } from 'node:child_process';
import { PrerequisiteError } from '../common/errors.js';

export const MIN_JAVA = 17;

export interface PrereqOptions {
  /**
   * Whether the message may offer KAFKA_BROKERS as the way out (true for the CLI; the
   * integration tests always run their own broker, so there it would mislead).
   */
  offerCluster?: boolean;
}

const orCluster = (o: PrereqOptions) => (o.offerCluster === false ? '' : ', or set KAFKA_BROKERS to use an existing cluster');

export interface JavaRuntime {
  major: number;
  /** The runtime's build as `java -version` says it (e.g. 17.0.15+6-Debian-1deb12u1). */
  build: string;
}

let checked: JavaRuntime | null = null;

/**
 * The java on PATH, checked once per process: a supervised broker restart does not pay for
 * another `java -version` (a JVM start, on the event loop of the process that restarts it).
 */
export function javaRuntime(options: PrereqOptions = {}): JavaRuntime {
  if (checked) return checked;
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new PrerequisiteError(
      `java was not found on PATH: the local Kafka broker needs Java ${MIN_JAVA} or newer ` +
        `(for example: apt install openjdk-17-jre-headless)${orCluster(options)}`,
      { cause: r.error },
    );
  }
  const text = `${r.stderr}${r.stdout}`;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (!(major >= MIN_JAVA)) {
    throw new PrerequisiteError(
      `java on PATH is version ${Number.isNaN(major) ? 'unknown' : major}; the local Kafka broker needs ${MIN_JAVA} or newer` +
        ` (for example: apt install openjdk-17-jre-headless)${orCluster(options)}`,
    );
  }
  const build = /Runtime Environment[^(]*\(build ([^)]+)\)/.exec(text)?.[1] ?? text.split('\n')[0]!.trim();
  checked = { major, build };
  return checked;
}

export function checkJava(options: PrereqOptions = {}): number {
  return javaRuntime(options).major;
}

export function checkMaven(options: PrereqOptions = {}): void {
  const r = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new PrerequisiteError(
      'mvn (Apache Maven) was not found on PATH: it fetches the Kafka broker jars from Maven Central ' +
        `on first use (for example: apt install maven)${orCluster(options)}`,
      { cause: r.error },
    );
  }
}
