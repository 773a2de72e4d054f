import { describe, expect, it } from 'vitest';
import { oneStatementAtATime } from './client.js';

/** A connection whose every call stays running until the test ends it, recording what runs when. */
function fakeEngine() {
  const log: string[] = [];
  const running: { name: string; end: (ok: boolean) => void }[] = [];
  const call = (name: string) => (params?: unknown) =>
    new Promise((resolve, reject) => {
      log.push(`start ${name} ${String(params)}`);
      running.push({ name, end: (ok) => (ok ? resolve(`${name} done`) : reject(new Error(`${name} failed`))) });
    });
  const connection = { query: call('query'), exec: call('exec'), command: call('command'), insert: call('insert'), ping: call('ping'), close: call('close') };
  return { connection, log, running };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('oneStatementAtATime', () => {
  it('lets one call at a time into the engine, in the order made, a failed one included', async () => {
    const e = fakeEngine();
    const c = oneStatementAtATime(e.connection);
    const results = [c.insert('rows'), c.query('select'), c.command('alter'), c.close()].map((p) => p.then((v) => v, (err: Error) => err.message));
    await tick();
    expect(e.log).toEqual(['start insert rows']);
    e.running.shift()!.end(false);
    await tick();
    expect(e.log).toEqual(['start insert rows', 'start query select']);
    e.running.shift()!.end(true);
    await tick();
    e.running.shift()!.end(true);
    await tick();
    expect(e.log.at(-1)).toBe('start close undefined');
    e.running.shift()!.end(true);
    expect(await Promise.all(results)).toEqual(['insert failed', 'query done', 'command done', 'close done']);
    expect(e.running).toHaveLength(0);
  });
});
