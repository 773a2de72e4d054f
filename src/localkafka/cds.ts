// Class data sharing (CDS) for the broker's JVM. Kafka loads ~6,000 classes at start; from an
// archive of them (parsed and verified once, mapped at start) the JVM needs ~40% less CPU to be
// ready: 4.7 s instead of 8.0 s measured on 2 busy cores, which is most of a supervised restart
// after a crash (docs/architecture.md, "Recovery after a broker crash").
//
// The archive is made from the broker's own first run, without touching that run: it records the
// classes it loads (-XX:DumpLoadedClassList), and once it is ready a JVM at the lowest priority
// dumps them into an archive beside the jars (a static AppCDS dump, JDK 17). Every later start uses
// it. It is named for the Java build: another JVM makes its own, and a JVM given an archive it
// cannot use (other jars, other build) prints a warning and starts without it (-Xshare:auto).
// Dumping at the broker's exit instead (-XX:ArchiveClassesAtExit) took its stop from 1.3 s to
// 11 s, past what `trackhouse start` allows for its whole stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makePrivateDir } from '../common/privatedir.js';

export interface ClassArchive {
  /** JVM flags for this run: use the archive, or record the classes it loads to make one. */
  readonly flags: string[];
  /** Once the broker is ready: makes the archive from what it recorded, in the background. */
  build(): void;
  /** Resolves when the archive exists (its path), or null when this run did not make one. */
  readonly ready: Promise<string | null>;
  /** Ends a build in progress (the broker stops) and removes its files. */
  cancel(): void;
}

export interface ClassArchiveOptions {
  /** Where the archive lives: beside the jars, so every data dir sharing them shares it. */
  dir: string;
  /** The JVM's build (java -version), part of the archive's name. */
  javaBuild: string;
  /** Exactly the broker's -cp: an archive is only used with the class path it was made with. */
  classpath: string;
  heapMb: number;
}

let made = 0;

export function classArchive(o: ClassArchiveOptions): ClassArchive {
  const dir = path.join(o.dir, 'cds');
  const archive = path.join(dir, `${o.javaBuild.replace(/[^A-Za-z0-9._-]/g, '_')}.jsa`);
  if (existsSync(archive)) {
    return { flags: [`-XX:SharedArchiveFile=${archive}`], build() {}, ready: Promise.resolve(archive), cancel() {} };
  }
  try {
    makePrivateDir(dir);
    accessSync(dir, constants.W_OK);
  } catch {
    // Jars on a read-only file system (an image): start without an archive, as before.
    return { flags: [], build() {}, ready: Promise.resolve(null), cancel() {} };
  }
  // Several brokers may share the jars (tests, chaos): each records and dumps under its own name,
  // and the archive appears by rename, whole.
  const stem = path.join(dir, `.${process.pid}-${++made}-${Date.now()}`);
  const recorded = `${stem}.classlist`;
  const list = `${stem}.snapshot.classlist`;
  const tmp = `${stem}.jsa`;
  let child: ChildProcess | null = null;
  let cancelled = false;
  let settle!: (p: string | null) => void;
  const ready = new Promise<string | null>((resolve) => (settle = resolve));
  const cleanup = () => {
    for (const f of [recorded, list, tmp]) rmSync(f, { force: true });
  };
  return {
    flags: [`-XX:DumpLoadedClassList=${recorded}`],
    ready,
    build() {
      if (cancelled || child) return;
      try {
        // The broker still appends to its list: dump the lines written so far, whole lines only.
        const text = readFileSync(recorded, 'utf8');
        writeFileSync(list, text.slice(0, text.lastIndexOf('\n') + 1));
      } catch {
        cleanup();
        settle(null);
        return;
      }
      const args = [`-Xmx${o.heapMb}m`, '-XX:+UseG1GC', '-Xshare:dump', `-XX:SharedClassListFile=${list}`, `-XX:SharedArchiveFile=${tmp}`, '-cp', o.classpath];
      child = spawn('nice', ['-n', '19', 'java', ...args], { stdio: 'ignore' });
      child.once('error', () => {
        cleanup();
        settle(null);
      });
      child.once('exit', (code) => {
        let done: string | null = null;
        if (code === 0 && !cancelled && existsSync(tmp)) {
          try {
            renameSync(tmp, archive);
            done = archive;
          } catch {
            /* another broker's archive won; this one is removed below */
          }
        }
        cleanup();
        settle(done ?? (existsSync(archive) ? archive : null));
      });
    },
    cancel() {
      if (cancelled) return;
      cancelled = true;
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      else {
        cleanup();
        settle(null);
      }
    },
  };
}
