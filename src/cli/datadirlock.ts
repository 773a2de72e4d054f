// One owner per data dir: `<dataDir>/trackhouse.lock` names the process that uses the folder
// (its local broker, its chDB files). It is taken first, before anything else looks at the folder,
// so a second `trackhouse start` neither reuses the first one's broker nor reaches chDB's own lock
// (`Cannot lock file .../status`); it says who holds the folder and stops, having touched nothing.
//
// The file is created with O_EXCL. A lock whose process is gone (kill -9, a crash, a reboot) is
// stale and taken over: the holder is alive only if its pid runs (a zombie, killed and not yet
// reaped, does not) and, where /proc tells, that process started when the lock says (a pid reused
// by another program is not a holder). Taking
// over renames the stale file away first, so two processes racing for it cannot both win.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { TrackhouseError } from '../common/errors.js';
import { makeOwnPrivateDir, octal, openBits, PRIVATE_DIR_MODE } from '../common/privatedir.js';
import { processRunning, procStat } from '../common/process.js';

export const LOCK_FILE = 'trackhouse.lock';

interface LockContent {
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), when known. */
  startTicks: number | null;
  command: string;
  since: string;
}

export class DataDirInUseError extends TrackhouseError {
  constructor(
    readonly dir: string,
    readonly holder: number,
  ) {
    super('DATA_DIR_IN_USE', `another trackhouse (pid ${holder}) is using ${dir}; stop it first, or set TRACKHOUSE_DATA_DIR to another folder`);
  }
}

/**
 * The data dir cannot be created or written (a read-only root filesystem, as in the image; a path
 * through a file; no permission): said with the variable to change, not as a raw fs stack trace.
 */
export class DataDirUnusableError extends TrackhouseError {
  constructor(
    readonly dir: string,
    cause: NodeJS.ErrnoException,
  ) {
    super('DATA_DIR_UNUSABLE', `cannot use ${dir} as the data dir (${cause.message}); set TRACKHOUSE_DATA_DIR to a writable folder`, {
      cause,
      details: { dir, errno: cause.code },
    });
  }
}

export interface DataDirLock {
  readonly file: string;
  /** The pid of a holder that was gone and whose lock this one took over, or null: its parts may still be stopping. */
  readonly previous: number | null;
  /** Removes the lock file if it is still ours. Idempotent; also run on process exit. */
  release(): void;
}

function alive(holder: LockContent): boolean {
  if (!processRunning(holder.pid)) return false;
  if (holder.startTicks === null) return true;
  const now = procStat(holder.pid)?.startTicks ?? null;
  return now === null || now === holder.startTicks;
}

function read(file: string): LockContent | null {
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockContent>;
    return typeof c.pid === 'number' ? { pid: c.pid, startTicks: c.startTicks ?? null, command: c.command ?? '', since: c.since ?? '' } : null;
  } catch {
    return null; // absent, half written or not ours: the caller decides
  }
}

export interface DataDirOptions {
  /**
   * TRACKHOUSE_DATA_DIR was set (the default when not told): a folder that exists there may be
   * the operator's, and keeps its mode. Unset, it is trackhouse's own `.trackhouse`, and one an
   * earlier version made readable by others is made 0700.
   */
  chosen?: boolean;
  /** Told when the folder was tightened, or left readable by others. */
  log?: { info(obj: object, msg: string): void };
}

/**
 * The data dir, made 0700 (the events under it are personal data) if missing. An existing one is
 * tightened only when it is trackhouse's default; the operator's keeps its mode, with a log line:
 * trackhouse's own folders in it (clickhouse, view, stream, kafka) are 0700 whatever its mode.
 */
function privateDataDir(dataDir: string, opts: DataDirOptions): void {
  try {
    if (mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE }) !== undefined) return;
    if (openBits(dataDir) === 0) return;
    // makeOwnPrivateDir leaves a folder another user owns (null).
    const was = opts.chosen === false ? makeOwnPrivateDir(dataDir) : null;
    if (was !== null) {
      opts.log?.info({ dataDir, was: octal(was) }, 'data dir made readable by its owner only (0700)');
      return;
    }
    opts.log?.info(
      { dataDir, mode: octal(statSync(dataDir).mode) },
      'data dir readable by other users, left as it is (TRACKHOUSE_DATA_DIR may name your folder); the folders trackhouse keeps data in are 0700: chmod 700 it if nothing else needs it',
    );
  } catch (err) {
    throw new DataDirUnusableError(dataDir, err as NodeJS.ErrnoException);
  }
}

/**
 * Takes `<dataDir>/trackhouse.lock` for this process, or throws DataDirInUseError naming the live
 * holder. `command` is recorded for a person reading the file. Makes the folder first (0700).
 */
export function lockDataDir(dataDir: string, command: string, opts: DataDirOptions = {}): DataDirLock {
  privateDataDir(dataDir, opts);
  const file = path.join(dataDir, LOCK_FILE);
  const mine: LockContent = { pid: process.pid, startTicks: procStat(process.pid)?.startTicks ?? null, command, since: new Date().toISOString() };
  let previous: number | null = null;
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DataDirUnusableError(dataDir, err as NodeJS.ErrnoException);
      if (attempt >= 5) throw err;
      const holder = read(file);
      if (holder === null) {
        // Being written by its creator right now, or garbage left by a crash mid-write.
        const age = Date.now() - statMtime(file);
        if (age < 2_000) continue;
      } else if (holder.pid === process.pid) {
        throw new Error(`${file} is already held by this process`);
      } else if (alive(holder)) {
        throw new DataDirInUseError(dataDir, holder.pid);
      }
      takeOver(file, holder);
      previous = holder?.pid ?? previous;
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(mine)}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      if (read(file)?.pid === process.pid) rmSync(file, { force: true });
    };
    // A hard exit (SHUTDOWN_TIMEOUT_MS, an uncaught error) still leaves the folder free.
    process.on('exit', release);
    return { file, previous, release };
  }
}

/** Moves a stale lock aside; if what was moved turns out to be a live holder's, puts it back. */
function takeOver(file: string, stale: LockContent | null): void {
  const aside = `${file}.stale.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else moved it first: try again from the top
  }
  const moved = read(aside);
  if (moved !== null && stale !== null && moved.pid !== stale.pid && alive(moved)) {
    // Another process took it over between our read and our rename: it is theirs.
    try {
      renameSync(aside, file);
    } catch {
      /* cannot happen while we hold the aside name; the next attempt reports what it finds */
    }
    return;
  }
  rmSync(aside, { force: true });
}

function statMtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * The commands that open chDB (sink, query, migrate, replay without CLICKHOUSE_URL) own the data
 * dir while they run; with a ClickHouse server they leave it alone. Released on exit.
 */
export function lockChdbDataDir(
  config: { clickhouse: { url: string | null }; dataDir: string; dataDirChosen: boolean },
  command: string,
  log?: DataDirOptions['log'],
): DataDirLock | null {
  return config.clickhouse.url === null ? lockDataDir(config.dataDir, command, { chosen: config.dataDirChosen, log }) : null;
}
