import { describe, expect, it } from 'vitest';
import { engineTurns, FIRST_IN_A_ROW } from './client.js';

/** A connection whose every call stays running until the test ends it, recording what starts. */
function fakeEngine() {
  const log: string[] = [];
  const running: { end: (ok: boolean) => void }[] = [];
  const call = (name: string) => (params?: unknown) =>
    new Promise((resolve, reject) => {
      log.push(`${name} ${String(params)}`);
      running.push({ end: (ok) => (ok ? resolve(`${name} done`) : reject(new Error(`${name} failed`))) });
    });
  const connection = { query: call('query'), exec: call('exec'), command: call('command'), insert: call('insert'), ping: call('ping'), close: call('close') };
  return { connection, log, running };
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
});
