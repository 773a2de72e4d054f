// ensureJars with a stand-in `mvn` on PATH: a fetch ended by a signal (Ctrl-C reaches mvn too)
// says it was interrupted; a real failure says mvn could not resolve the jars.
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { InterruptedError, PrerequisiteError } from '../common/errors.js';
import { ensureJars, jarDir } from './index.js';
import { tempDir } from '../../test/support/env.js';

const dir = tempDir('trackhouse-jars-');
afterAll(() => dir.remove());
afterEach(() => vi.unstubAllEnvs());

/** A fake mvn that answers `mvn -v` and does `body` for the real call. */
function fakeMvn(name: string, body: string): void {
  const bin = path.join(dir.path, name);
  mkdirSync(bin, { recursive: true });
  const file = path.join(bin, 'mvn');
  writeFileSync(file, `#!/bin/sh\nif [ "$1" = "-v" ]; then echo "Apache Maven 3.9 (fake)"; exit 0; fi\n${body}\n`);
  chmodSync(file, 0o755);
  vi.stubEnv('PATH', `${bin}${path.delimiter}${process.env.PATH}`);
}

describe('ensureJars when mvn does not finish', () => {
  it.each([
    ['killed by SIGINT', 'kill -INT $$', 'SIGINT'],
    ['exiting 130 after SIGINT, as the JVM does', 'exit 130', 'SIGINT'],
    ['exiting 143 after SIGTERM', 'exit 143', 'SIGTERM'],
  ])('says the fetch was interrupted when mvn was %s', async (name, body, signal) => {
    fakeMvn(name.replace(/\W+/g, '-'), body);
    const data = path.join(dir.path, `data-${signal}-${name.length}`);
    const err = await ensureJars(data, '3.9.2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as Error).message).toBe(
      `fetching the Kafka 3.9.2 jars (broker) with mvn was interrupted (${signal}); nothing was installed, and the next start fetches them again`,
    );
    expect(existsSync(jarDir(data, '3.9.2'))).toBe(false);
  });

  it('says mvn could not resolve Kafka, with its output, when it fails on its own', async () => {
    fakeMvn('fails', 'echo "Could not transfer artifact org.apache.kafka:kafka_2.13"; exit 1');
    const err = await ensureJars(path.join(dir.path, 'data-fail'), '3.9.2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrerequisiteError);
    expect((err as Error).message).toMatch(/^mvn could not resolve Kafka 3\.9\.2 \(broker\) from Maven Central \(exit 1\):\nCould not transfer artifact/);
  });
});

describe('ensureJars and the Maven repository it names (<data dir>/m2)', () => {
  /** As mvn does: the local repository made (mkdir -p, the usual umask) if missing, then a fetch. */
  const MAKES_REPOSITORY = [
    'umask 022',
    'for a in "$@"; do case "$a" in -Dmaven.repo.local=*) mkdir -p "${a#-Dmaven.repo.local=}/org/apache/kafka" ;; esac; done',
    'exit 1',
  ].join('\n');
  const modeOf = (p: string) => statSync(p).mode & 0o777;

  it('makes it 0700 before mvn runs, as every folder trackhouse makes', async () => {
    fakeMvn('makes-repository', MAKES_REPOSITORY);
    const data = path.join(dir.path, 'data-m2-new');
    await ensureJars(data, '3.9.2').catch(() => undefined);
    expect(modeOf(path.join(data, 'm2'))).toBe(0o700);
    // mvn made what is inside: the folder above keeps it from other users.
    expect(existsSync(path.join(data, 'm2', 'org', 'apache', 'kafka'))).toBe(true);
  });

  it('takes group and others off one an earlier version left 0755', async () => {
    fakeMvn('makes-repository-old', MAKES_REPOSITORY);
    const data = path.join(dir.path, 'data-m2-old');
    mkdirSync(path.join(data, 'm2'), { recursive: true });
    chmodSync(path.join(data, 'm2'), 0o755);
    await ensureJars(data, '3.9.2').catch(() => undefined);
    expect(modeOf(path.join(data, 'm2'))).toBe(0o700);
  });
});
