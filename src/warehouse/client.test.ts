import { describe, expect, it, vi } from 'vitest';
import { capturingLogger } from '../../test/support/log.js';
import { ConfigError } from '../common/errors.js';
import { loadConfig } from '../config/index.js';
import { engineTurns, FIRST_IN_A_ROW, openClickHouse, StatementNotRun } from './client.js';

/** A connection whose every call stays running until the test ends it, recording what starts. */
function fakeEngine() {
  const log: string[] = [];
  const params: unknown[] = [];
  const running: { end: (ok: boolean) => void }[] = [];
  const call = (name: string) => (p?: unknown) =>
    new Promise((resolve, reject) => {
      params.push(p);
      log.push(`${name} ${typeof p === 'object' && p !== null ? (p as { tag: string }).tag : String(p)}`);
      running.push({ end: (ok) => (ok ? resolve(`${name} done`) : reject(new Error(`${name} failed`))) });
    });
  const connection = { query: call('query'), exec: call('exec'), command: call('command'), insert: call('insert'), ping: call('ping'), close: call('close') };
  return { connection, log, params, running };
}

const tick = () => new Promise((r) => setImmediate(r));
const outcome = (p: Promise<unknown>) => p.then((v) => v, (err: Error) => err.message);

describe('engineTurns', () => {
  it('lets one call at a time into the engine, in the order made, a failed one included', async () => {
    const e = fakeEngine();
    const c = engineTurns(e.connection).first;
    const results = [c.insert('rows'), c.query('select'), c.command('alter'), c.close()].map(outcome);
    await tick();
    expect(e.log).toEqual(['insert rows']);
    e.running.shift()!.end(false);
    await tick();
    expect(e.log).toEqual(['insert rows', 'query select']);
    e.running.shift()!.end(true);
    await tick();
    e.running.shift()!.end(true);
    await tick();
    expect(e.log.at(-1)).toBe('close undefined');
    e.running.shift()!.end(true);
    expect(await Promise.all(results)).toEqual(['insert failed', 'query done', 'command done', 'close done']);
    expect(e.running).toHaveLength(0);
  });

  it("runs every waiting call of the first view's before any of the last's, and the last's in their order", async () => {
    const e = fakeEngine();
    const { first, last } = engineTurns(e.connection);
    const results = [last.query('bi-1'), last.query('bi-2'), last.query('bi-3')].map(outcome);
    await tick();
    results.push(outcome(first.insert('sink-1')));
    await tick();
    // bi-1 runs; the sink's insert comes next, ahead of bi-2 and bi-3, which were waiting before it.
    e.running.shift()!.end(true);
    await tick();
    results.push(outcome(first.insert('sink-2')));
    for (let i = 0; i < 4; i++) {
      await tick();
      e.running.shift()!.end(true);
    }
    await Promise.all(results);
    expect(e.log).toEqual(['query bi-1', 'insert sink-1', 'insert sink-2', 'query bi-2', 'query bi-3']);
  });

  it("lets a waiting BI statement go after FIRST_IN_A_ROW of the pipeline's calls in a row, so a busy pipeline does not starve it", async () => {
    const e = fakeEngine();
    const { first, last } = engineTurns(e.connection);
    const results = [first.insert('running'), last.query('bi')];
    for (let i = 0; i < FIRST_IN_A_ROW + 2; i++) results.push(first.insert(`sink-${i}`));
    for (let i = 0; i < results.length; i++) {
      await tick();
      e.running.shift()!.end(true);
    }
    await Promise.all(results);
    const sinks = Array.from({ length: FIRST_IN_A_ROW + 2 }, (_, i) => `insert sink-${i}`);
    expect(e.log).toEqual(['insert running', ...sinks.slice(0, FIRST_IN_A_ROW), 'query bi', ...sinks.slice(FIRST_IN_A_ROW)]);
  });

  it('drops a waiting call whose client left (its abort signal) without it reaching the engine, and keeps the signal from the engine', async () => {
    const e = fakeEngine();
    const { first, last } = engineTurns(e.connection);
    const gone = new AbortController();
    const results = [first.insert({ tag: 'sink' }), last.query({ tag: 'bi-left', abort_signal: gone.signal }), last.query({ tag: 'bi-stays', abort_signal: new AbortController().signal })].map(outcome);
    await tick();
    gone.abort();
    expect(await results[1]).toBe('not run: its abort signal fired before its turn (its client left, or its deadline passed)');
    e.running.shift()!.end(true);
    await tick();
    e.running.shift()!.end(true);
    expect(await Promise.all(results)).toEqual(['insert done', 'not run: its abort signal fired before its turn (its client left, or its deadline passed)', 'query done']);
    expect(e.log).toEqual(['insert sink', 'query bi-stays']);
    // chDB would reject an aborted call at once while computing on, letting the next one in beside it.
    expect(e.params.map((p) => (p as { abort_signal?: unknown }).abort_signal)).toEqual([undefined, undefined]);
    // An already aborted call is refused before it waits.
    const late = last.query({ tag: 'late', abort_signal: AbortSignal.abort() });
    await expect(late).rejects.toBeInstanceOf(StatementNotRun);
    expect(e.log).toHaveLength(2);
  });

  it('closes without waiting for a running BI statement, and refuses the BI statements waiting or sent after', async () => {
    const e = fakeEngine();
    const { first, last, biRunning } = engineTurns(e.connection);
    const results = [last.query({ tag: 'bi-running' }), last.query({ tag: 'bi-waiting' })].map(outcome);
    await tick();
    expect(biRunning()).toBe(true);
    const closed = outcome(first.close());
    await tick();
    // The engine's close is called while the BI statement still runs (chDB defers the destroy).
    expect(e.log).toEqual(['query bi-running', 'close undefined']);
    expect(await results[1]).toBe('not run: the engine closed before its turn');
    await expect(last.query({ tag: 'bi-after' })).rejects.toThrow('not run: the engine closed before its turn');
    e.running[1]!.end(true);
    expect(await closed).toBe('close done');
    e.running[0]!.end(true);
    expect(await results[0]).toBe('query done');
    expect(biRunning()).toBe(false);
  });

  it('lets a pipeline call waiting behind a running BI statement go before it closes', async () => {
    const e = fakeEngine();
    const { first, last } = engineTurns(e.connection);
    const bi = outcome(last.query({ tag: 'bi' }));
    await tick();
    const insert = outcome(first.insert({ tag: 'insert' }));
    const closed = outcome(first.close());
    await tick();
    expect(e.log).toEqual(['query bi']);
    for (let i = 0; i < 3; i++) {
      e.running.shift()!.end(true);
      await tick();
    }
    expect(e.log).toEqual(['query bi', 'insert insert', 'close undefined']);
    expect(await Promise.all([bi, insert, closed])).toEqual(['query done', 'insert done', 'close done']);
  });

  it("waits for a running pipeline call before closing (the sink's last insert)", async () => {
    const e = fakeEngine();
    const { first, biRunning } = engineTurns(e.connection);
    const insert = outcome(first.insert({ tag: 'last-insert' }));
    const closed = outcome(first.close());
    await tick();
    expect(biRunning()).toBe(false);
    expect(e.log).toEqual(['insert last-insert']);
    e.running.shift()!.end(true);
    await tick();
    expect(e.log).toEqual(['insert last-insert', 'close undefined']);
    e.running.shift()!.end(true);
    expect(await Promise.all([insert, closed])).toEqual(['insert done', 'close done']);
  });
});

describe('openClickHouse with CLICKHOUSE_URL', () => {
  it('names CLICKHOUSE_URL, in one line, when the client refuses the URL (a parameter it does not know), repeating no value of it', async () => {
    const cfg = loadConfig({ CLICKHOUSE_URL: 'http://clickhouse:8123/?password=Secr3tPw' }).clickhouse;
    const err = await openClickHouse(cfg, '/nonexistent').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      'CLICKHOUSE_URL: @clickhouse/client refuses it: Unknown URL parameters: password; give the user and password as ' +
        'http://user:password@host:8123 or in CLICKHOUSE_USER / CLICKHOUSE_PASSWORD, and see its documentation for the URL parameters it takes',
    );
    expect((err as Error).message).not.toContain('Secr3tPw');
  });

  it('gives the client the user and password taken out of the URL, and shows the URL without them', async () => {
    const ch = await openClickHouse(loadConfig({ CLICKHOUSE_URL: 'http://analyst:Secr3tPw@clickhouse:8123' }).clickhouse, '/nonexistent');
    try {
      expect(ch.location).toBe('http://clickhouse:8123/');
    } finally {
      await ch.close();
    }
  });

  it("writes the client's warnings as lines of the command's JSON log, and a failed call's (its caller reports it) at debug, nothing on stderr", async () => {
    const { log, lines } = capturingLogger('debug');
    const stderr = vi.spyOn(process.stderr, 'write');
    // Over 60 s, the client warns about progress headers when made; port 1: nothing listens.
    const cfg = loadConfig({ CLICKHOUSE_URL: 'http://127.0.0.1:1', CLICKHOUSE_REQUEST_TIMEOUT_MS: '120000' }).clickhouse;
    const ch = await openClickHouse(cfg, '/nonexistent', log.child({ component: 'sink' }));
    try {
      const ping = await ch.client.ping();
      expect(ping.success).toBe(false);
      const written = stderr.mock.calls.map((c) => String(c[0]));
      expect(written.filter((w) => w.includes('@clickhouse/client'))).toEqual([]);
      expect(lines.map((l) => [l.level, l.component, l.module, l.clientModule, String(l.msg).slice(0, 30)])).toEqual([
        [40, 'sink', 'clickhouse-client', 'Config', 'request_timeout is set to 1200'],
        [20, 'sink', 'clickhouse-client', 'Connection', 'Ping: HTTP request error.'],
      ]);
    } finally {
      stderr.mockRestore();
      await ch.close();
    }
  });
});
