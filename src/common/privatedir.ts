// Folders that hold personal data (events in chDB's files and in the view, the local broker's
// Kafka logs, the stream's state, the cookieless secret's folder) are readable by the user who
// runs trackhouse only. Every folder trackhouse makes is 0700; what it then writes inside
// (chDB's, LMDB's, Kafka's own files, made with the umask's modes) is out of other users' reach.
//
// A folder that exists already is the operator's unless trackhouse names it itself (a subfolder
// of its data dir: clickhouse, view, stream, kafka, sink, m2): trackhouse tightens only those
// (makeOwnPrivateDir), so a folder someone made and pointed it at keeps the mode they gave it.
import { chmodSync, mkdirSync, statSync } from 'node:fs';

/** rwx for the owner, nothing for group and others. */
export const PRIVATE_DIR_MODE = 0o700;

/** The permission bits group and others have on `dir` (0 when private). */
export function openBits(dir: string): number {
  return statSync(dir).mode & 0o077;
}

/** `mode` as chmod takes it, for log lines: 0755. */
export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** Creates `dir` and each missing parent 0700 (less the umask). An existing folder keeps its mode. */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * makePrivateDir for a folder trackhouse names itself, which only it makes: one an earlier version
 * made 0755 loses group's and others' bits. Returns the mode it had when it changed it, else null.
 * A folder another user owns (chmod: EPERM) is left as it is: that user chose its mode.
 */
export function makeOwnPrivateDir(dir: string): number | null {
  makePrivateDir(dir);
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  try {
    chmodSync(dir, mode & 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return null;
    throw err;
  }
  return mode;
}
