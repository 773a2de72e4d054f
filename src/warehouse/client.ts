// The one place that builds a ClickHouse client. Without CLICKHOUSE_URL the ClickHouse engine runs
// in this process (chDB) behind the same @clickhouse/client API, so every query in the project is
// written once for both.
//
// chDB facts that shape the callers (see ../../docs/architecture.md):
// - one data directory per process, and all I/O from the main thread;
// - settings passed with a query stay set on the session for the queries after it, so any
//   setting we rely on (insert_deduplication_token above all) must be passed explicitly every time;
// - the client's `database` option is ignored: chDB works in `default`.
import path from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type Logger as ClickHouseLogger, type WarnLogParams } from '@clickhouse/client';
import { ConfigError, errorMessage, PrerequisiteError, TrackhouseError } from '../common/errors.js';
import { childLogger, type Logger } from '../common/log.js';
import { makeOwnPrivateDir } from '../common/privatedir.js';
import type { ClickHouseConfig } from '../config/index.js';

export type { ClickHouseClient } from '@clickhouse/client';

export interface ClickHouseHandle {
  readonly client: ClickHouseClient;
  /**
   * The same engine for the BI ports' statements: on chDB their calls wait behind every waiting
   * call of `client`'s (engineTurns); on a server, `client` itself.
   */
  readonly biClient: ClickHouseClient;
  /** 'chdb' or 'server', for logs and for the few places that must know (none in SQL). */
  readonly engine: 'chdb' | 'server';
  /** Where chDB keeps its data, or the server URL. */
  readonly location: string;
  /** chDB is running a BI statement, which `close()` does not wait for (at most its time limit). */
  biRunning(): boolean;
  close(): Promise<void>;
  /**
   * After close(): resolves once the engine has let go of the data dir. At once on a server; on
   * chDB when the connection is destroyed, which waits for a BI statement still running. The
   * process must not exit before: see `untilReleased` in ../cli/allinone.ts.
   */
  released(): Promise<void>;
}

/**
 * The client's own log: warnings as one line on stderr; errors not at all, because every error it
 * logs it also throws to the caller, who reports it (the CLI as one line, the servers in their
 * JSON logs), while its default logger prints each one again, over many lines, with a stack.
 */
class WarningsOnly implements ClickHouseLogger {
  trace(): void {}
  debug(): void {}
  info(): void {}
  warn({ module, message }: WarnLogParams): void {
    process.stderr.write(`@clickhouse/client ${module}: ${message}\n`);
  }
  error(): void {}
}

const LOG = { LoggerClass: WarningsOnly, level: ClickHouseLogLevel.WARN };

/**
 * The client's warnings as lines of the command's JSON log. "<Op>: HTTP request error." comes with
 * every call a network failure ends (the sink's /readyz ping every probe while ClickHouse is down),
 * and the caller reports that error itself: debug. Without a log (tests, tools), WarningsOnly.
 */
function clientLog(log: Logger | undefined): { LoggerClass: new () => ClickHouseLogger; level: ClickHouseLogLevel } {
  if (log === undefined) return LOG;
  const out = childLogger(log, { module: 'clickhouse-client' });
  class ToJsonLog implements ClickHouseLogger {
    trace(): void {}
    debug(): void {}
    info(): void {}
    warn({ module, message, err }: WarnLogParams): void {
      const fields = { clientModule: module, ...(err === undefined ? {} : { err: errorMessage(err) }) };
      if (message.endsWith(': HTTP request error.')) out.debug(fields, message);
      else out.warn(fields, message);
    }
    error(): void {}
  }
  return { LoggerClass: ToJsonLog, level: ClickHouseLogLevel.WARN };
}

export function chdbPath(dataDir: string): string {
  return path.join(dataDir, 'clickhouse');
}

/**
 * The client of a ClickHouse server. It parses the URL when made and throws on what it does not
 * take (a URL parameter it does not know, such as `password`): that is a bad setting, named as one,
 * not a stack trace. The config has taken any user and password out of the URL already.
 */
function serverClient(cfg: ClickHouseConfig, url: string, log: Logger | undefined): ClickHouseClient {
  try {
    return createClient({
      url,
      username: cfg.username,
      password: cfg.password,
      database: cfg.database,
      request_timeout: cfg.requestTimeoutMs,
      application: 'trackhouse',
      log: clientLog(log),
    });
  } catch (err) {
    throw new ConfigError(
      `CLICKHOUSE_URL: @clickhouse/client refuses it: ${errorMessage(err)}; give the user and password as http://user:password@host:8123 ` +
        'or in CLICKHOUSE_USER / CLICKHOUSE_PASSWORD, and see its documentation for the URL parameters it takes',
    );
  }
}

/** `log`: the command's, which the client's own warnings join as JSON lines (else plain lines on stderr). */
export async function openClickHouse(cfg: ClickHouseConfig, dataDir: string, log?: Logger): Promise<ClickHouseHandle> {
  if (cfg.url !== null) {
    const client = serverClient(cfg, cfg.url, log);
    return { client, biClient: client, engine: 'server', location: cfg.url, biRunning: () => false, close: () => client.close(), released: async () => {} };
  }
  let createChdbConnection: (opts: { path: string }) => unknown;
  let drainPending: () => Promise<void>;
  try {
    ({ createChdbConnection } = (await import('chdb/connection')) as unknown as {
      createChdbConnection: (opts: { path: string }) => unknown;
    });
    // chDB's own wait for what runs in native code: statements still running and the destruction
    // of a connection that close() deferred behind them (the same module instance as the connection's).
    ({ drainPending } = (await import('chdb')) as unknown as { drainPending: () => Promise<void> });
  } catch (err) {
    throw new PrerequisiteError(
      'CLICKHOUSE_URL is not set, so the in-process ClickHouse engine is used, but it (npm package chdb) is not ' +
        'installed here (the production image leaves it out; chDB is published for Linux x64 only): set CLICKHOUSE_URL ' +
        'to a ClickHouse server, or install the engine with npm ci',
      { cause: err },
    );
  }
  const dir = chdbPath(dataDir);
  // Its parts hold every event: trackhouse's own folder, 0700 even if an earlier version made it 0755.
  makeOwnPrivateDir(dir);
  let connection: unknown;
  try {
    connection = createChdbConnection({ path: dir });
  } catch (err) {
    // chDB binds a data dir to one process; its error says only that the connection failed.
    if ((err as { code?: string }).code === 'CHDB_CONNECTION') {
      throw new PrerequisiteError(
        `could not open the chDB data dir ${dir}: it is most likely in use by another trackhouse process ` +
          '(a running sink or start); stop it first, set TRACKHOUSE_DATA_DIR to another folder, or use a ClickHouse ' +
          'server (CLICKHOUSE_URL), where several processes share one database',
        { cause: err },
      );
    }
    throw err;
  }
  const turns = engineTurns(connection as EngineConnection);
  const clientOf = (c: EngineConnection) => createClient({ connection: c, request_timeout: cfg.requestTimeoutMs, log: clientLog(log) } as Parameters<typeof createClient>[0]);
  const client = clientOf(turns.first);
  return { client, biClient: clientOf(turns.last), engine: 'chdb', location: dir, biRunning: turns.biRunning, close: () => client.close(), released: () => drainPending() };
}

/** The calls of @clickhouse/client's connection contract that run a statement (close waits its turn too). */
const STATEMENT_CALLS = ['query', 'exec', 'command', 'insert', 'ping', 'close'] as const;
type EngineConnection = Record<(typeof STATEMENT_CALLS)[number], (params?: unknown) => Promise<unknown>>;

/** The pipeline's calls run in a row at most this many times while a BI statement waits for its turn. */
export const FIRST_IN_A_ROW = 4;

/** A call that never reached the engine: its abort signal fired first (its client left, its deadline passed), or the engine closed. */
export class StatementNotRun extends TrackhouseError {
  constructor(why: string, cause?: unknown) {
    super('STATEMENT_NOT_RUN', `not run: ${why}`, { retriable: true, cause });
  }
}

/**
 * chDB runs one statement at a time, and a call waiting for its turn inside chDB holds one of
 * libuv's pool threads (four by default), which the view's and the stream's LMDB commits and
 * every file system call of the process need too. Four BI statements (or three and a sink insert)
 * held the whole pool, and the per-user API's fresh events waited up to 30 s, a BI statement's
 * time limit. So the calls wait their turn here, in JavaScript, and at most one is in chDB.
 *
 * Two views of the one connection, with one queue: `first`'s calls (the pipeline's: the sink's
 * inserts, the query API, migrations) go before any waiting call of `last`'s (the BI ports'), so
 * a sink insert waits for at most the one statement running, not for every BI statement queued.
 * A busy pipeline does not starve the BI ports: after FIRST_IN_A_ROW of its calls in a row, one
 * waiting BI statement goes.
 *
 * A call's `abort_signal` (its client left, its deadline passed) takes it out of the queue; the
 * signal never reaches chDB, which would reject an aborted call at once while it computes on,
 * letting the next call in beside it. `close` refuses the waiting BI calls, and does not wait for
 * a running one: chDB destroys the connection once that statement ends (`released()`).
 */
export function engineTurns<C extends EngineConnection>(connection: C): { first: C; last: C; biRunning(): boolean } {
  interface Turn {
    start(): void;
    refuse(why: string, cause?: unknown): void;
  }
  const waiting: [Turn[], Turn[]] = [[], []];
  let busy = false;
  /** The lane of the call in chDB, while `busy`. */
  let runningLane: 0 | 1 = 0;
  let closed = false;
  /** `first`'s calls run in a row while one of `last`'s waited: after FIRST_IN_A_ROW, one of `last`'s goes, so neither starves. */
  let inARow = 0;
  const next = () => {
    const lastsTurn = waiting[1].length > 0 && (waiting[0].length === 0 || inARow >= FIRST_IN_A_ROW);
    const turn = lastsTurn ? waiting[1].shift() : waiting[0].shift();
    inARow = lastsTurn || waiting[1].length === 0 ? 0 : inARow + 1;
    if (turn === undefined) busy = false;
    else turn.start();
  };
  const view = (lane: 0 | 1): C => {
    const wrapped = Object.create(connection) as C;
    for (const name of STATEMENT_CALLS) {
      const call = connection[name].bind(connection);
      wrapped[name] = (params?: unknown) =>
        new Promise((resolve, reject) => {
          const signal = (params as { abort_signal?: AbortSignal } | undefined)?.abort_signal;
          const own = signal === undefined ? params : { ...(params as object), abort_signal: undefined };
          const turn: Turn = {
            start() {
              signal?.removeEventListener('abort', left);
              runningLane = lane;
              void Promise.resolve().then(() => call(own)).then(resolve, reject).finally(next);
            },
            refuse(why, cause) {
              signal?.removeEventListener('abort', left);
              reject(new StatementNotRun(why, cause));
            },
          };
          function left() {
            const queue = waiting[lane];
            const at = queue.indexOf(turn);
            if (at >= 0) {
              queue.splice(at, 1);
              turn.refuse(ABORTED, signal!.reason);
            }
          }
          if (signal?.aborted) return turn.refuse(ABORTED, signal.reason);
          if (lane === 1 && closed) return turn.refuse(ENGINE_CLOSED);
          if (name === 'close') {
            closed = true;
            for (const t of waiting[1].splice(0)) t.refuse(ENGINE_CLOSED);
            // The pipeline stops before the engine closes, so only a BI statement is running:
            // chDB destroys the connection once it ends. A pipeline call still waiting goes first.
            if (busy && runningLane === 1 && waiting[0].length === 0) return void Promise.resolve().then(() => call(own)).then(resolve, reject);
          }
          if (!busy) {
            busy = true;
            turn.start();
            return;
          }
          waiting[lane].push(turn);
          signal?.addEventListener('abort', left, { once: true });
        });
    }
    return wrapped;
  };
  return { first: view(0), last: view(1), biRunning: () => busy && runningLane === 1 };
}

const ABORTED = 'its abort signal fired before its turn (its client left, or its deadline passed)';
const ENGINE_CLOSED = 'the engine closed before its turn';
