// runUntilSignal in a real process: signals are sent to a child that runs it around a component
// which reports each phase on stdout.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from '../../test/support/env.js';
import { Counter, Registry } from '../common/metrics.js';
import { Supervised, type RestartPolicy } from './lifecycle.js';

const dir = tempDir('trackhouse-lifecycle-');
afterAll(() => dir.remove());

const LIFECYCLE = pathToFileURL(path.resolve('src/cli/lifecycle.ts')).href;
// .mts: the temp dir has no package.json saying "type": "module", and the fixture awaits at top level.
const FIXTURE = path.join(dir.path, 'component.mts');
writeFileSync(
  FIXTURE,
  `import { runUntilSignal } from ${JSON.stringify(LIFECYCLE)};
const [drainDelayMs, repeatWindowMs, stopHangs, timeoutMs] = process.argv.slice(2).map(Number);
const say = (m: string) => process.stdout.write(m + '\\n');
const log = { info() {}, warn() {}, error(_o: unknown, m: string) { say('error: ' + m); }, debug() {} } as never;
let stops = 0;
// Stands for the servers that keep a real command's event loop alive.
setInterval(() => {}, 1 << 30);
const pending = runUntilSignal(
  {
    drain: () => say('drained'),
    stop: async () => {
      stops++;
      say('stopping ' + stops);
      if (stopHangs) await new Promise(() => {});
    },
  },
  log,
  { timeoutMs: timeoutMs || 60_000, drainDelayMs, repeatWindowMs },
);
say('ready');
const code = await pending;
say('exit ' + code);
process.exit(code);
`,
);

// A command that waits, after every part stopped, for what no part could stop (start: chDB's BI
// statement), longer than SHUTDOWN_TIMEOUT_MS; with disarmCut() or without.
const AFTER_STOP = path.join(dir.path, 'after-stop.mts');
writeFileSync(
  AFTER_STOP,
  `import { Lifecycle } from ${JSON.stringify(LIFECYCLE)};
const [timeoutMs, waitMs, disarm, repeatWindowMs] = process.argv.slice(2).map(Number);
const say = (m: string) => process.stdout.write(m + '\\n');
const log = { info() {}, warn() {}, error(_o: unknown, m: string) { say('error: ' + m); }, debug() {} } as never;
setInterval(() => {}, 1 << 30);
const life = new Lifecycle(log, { timeoutMs, repeatWindowMs });
const stopped = life.untilSignal();
life.add({ name: 'component', stop: async () => say('stopping') });
life.ready();
say('ready');
const code = await stopped;
if (disarm) life.disarmCut();
say(disarm ? 'disarmed' : 'armed');
await new Promise((r) => setTimeout(r, waitMs));
say('exit ' + code);
process.exit(code);
`,
);

// `trackhouse start` after a supervised part gave up (no signal): it arms the cut and stops the
// parts, while the start-up step under way never ends.
const GIVE_UP = path.join(dir.path, 'give-up.mts');
writeFileSync(
  GIVE_UP,
  `import { Lifecycle } from ${JSON.stringify(LIFECYCLE)};
const say = (m: string) => process.stdout.write(m + '\\n');
const log = { info() {}, warn() {}, error(_o: unknown, m: string) { say('error: ' + m); }, debug() {} } as never;
const life = new Lifecycle(log, { timeoutMs: 300 });
void life.untilSignal();
life.add({ name: 'component', stop: async () => say('stopping') });
life.armCut();
await life.stopAll();
say('stopped');
// The step under way: it never ends (nor would a timer keep the process).
await new Promise(() => setInterval(() => {}, 1 << 30));
`,
);

/** Starts the fixture; `line(text)` waits until its output holds `text`; `exited` is its exit code. */
function start(drainDelayMs: number, repeatWindowMs: number, stopHangs = false, timeoutMs = 0, fixture?: { afterStopWaitMs: number; disarm: boolean }) {
  const args =
    fixture === undefined
      ? [FIXTURE, String(drainDelayMs), String(repeatWindowMs), stopHangs ? '1' : '0', String(timeoutMs)]
      : [AFTER_STOP, String(timeoutMs), String(fixture.afterStopWaitMs), fixture.disarm ? '1' : '0', String(repeatWindowMs)];
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = (text: string) =>
    Promise.race([
      new Promise<void>((resolve) => {
        const check = () => (out.includes(text) ? resolve() : waiters.push(check));
        check();
      }),
      exited.then((code) => {
        if (!out.includes(text)) throw new Error(`fixture exited (${code}) before printing ${text}:\n${out}\n${err}`);
      }),
    ]);
  return { child, exited, out: () => out, line };
}

/** The signal handlers are installed once the fixture printed `ready`. */
const ready = (p: ReturnType<typeof start>) => p.line('ready');

describe('runUntilSignal', () => {
  it('drains, waits the drain delay, then stops once, and exits 0', async () => {
    const p = start(200, 1_000);
    await ready(p);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.out().split('\n').filter(Boolean)).toEqual(['ready', 'drained', 'stopping 1', 'exit 0']);
  });

  it('counts the same signal delivered twice at once (npm forwarding a Ctrl-C) as one', async () => {
    const p = start(0, 60_000);
    await ready(p);
    p.child.kill('SIGINT');
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    expect(p.out()).toContain('stopping 1');
    expect(p.out()).not.toContain('stopping 2');
  });

  it('exits 1 at SHUTDOWN_TIMEOUT_MS when a stop never ends, naming the part and what it leaves', async () => {
    const p = start(0, 60_000, true, 300);
    await ready(p);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(1);
    expect(p.out()).toContain('stopping 1');
    expect(p.out()).toContain('error: SHUTDOWN_TIMEOUT_MS (300 ms) passed before component stopped; exiting with code 1. Left: component: its stop did not finish');
    expect(p.out()).not.toContain('exit ');
  });

  it('exits 130 at once on a second signal after the repeat window', async () => {
    const p = start(0, 0, true);
    await ready(p);
    p.child.kill('SIGINT');
    await p.line('stopping 1');
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(130);
  });

  it('lets a command wait past SHUTDOWN_TIMEOUT_MS after every part stopped once it disarms the cut, and still cuts it otherwise', async () => {
    const waited = start(0, 0, false, 1_000, { afterStopWaitMs: 3_000, disarm: true });
    const cut = start(0, 0, false, 1_000, { afterStopWaitMs: 3_000, disarm: false });
    await Promise.all([ready(waited), ready(cut)]);
    waited.child.kill('SIGTERM');
    cut.child.kill('SIGTERM');
    expect(await waited.exited).toBe(0);
    expect(waited.out().split('\n').filter(Boolean)).toEqual(['ready', 'stopping', 'disarmed', 'exit 0']);
    expect(await cut.exited).toBe(1);
    expect(cut.out()).toContain('error: SHUTDOWN_TIMEOUT_MS (1000 ms) passed');
  });

  it('still exits 130 at once on a second signal while the command waits with the cut disarmed', async () => {
    // The wait (start: a BI statement chDB runs on) outlasts the test: only the second signal ends it.
    const p = start(0, 0, false, 1_000, { afterStopWaitMs: 600_000, disarm: true });
    // A regression that ignores the second signal fails by the test's timeout: the fixture must not wait on.
    onTestFinished(() => {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    });
    await ready(p);
    p.child.kill('SIGTERM');
    await p.line('disarmed');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(130);
    expect(p.out()).not.toContain('exit ');
  });
});

describe('Lifecycle.armCut', () => {
  it('exits 1 at SHUTDOWN_TIMEOUT_MS after a stop no signal asked for, when a start-up step never ends', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', GIVE_UP], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(out.split('\n').filter(Boolean)).toEqual([
      'stopping',
      'stopped',
      'error: SHUTDOWN_TIMEOUT_MS (300 ms) passed while a start-up step was still running; exiting with code 1.',
    ]);
  });
});

describe('Supervised', () => {
  /** A fake run: `crash(code)` ends it unasked; stop() ends it asked. */
  function fakeRun() {
    let end!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (end = resolve));
    return { exited, crash: (code: number) => end(code), stop: async () => end(0), stops: 0 };
  }
  function setup(policy: RestartPolicy) {
    const runs: ReturnType<typeof fakeRun>[] = [];
    const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
    const at = (level: string) => (fields: Record<string, unknown>, msg: string) => lines.push({ level, fields, msg });
    const log = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as never;
    const registry = new Registry();
    const restarts = new Counter({ name: 'trackhouse_part_restarts_total', help: 'h', labelNames: ['part'] as const, registers: [registry] });
    let gaveUp: string | null = null;
    const launched = () => runs.at(-1)!;
    const supervised = Supervised.start({
      name: 'ingest',
      log,
      policy,
      restarts,
      onGiveUp: (m) => (gaveUp = m),
      launch: async () => {
        runs.push(fakeRun());
        return launched();
      },
    });
    const count = async () => (await restarts.get()).values.find((v) => v.labels.part === 'ingest')?.value ?? 0;
    return { supervised, runs, lines, count, gaveUp: () => gaveUp };
  }
  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise((r) => setTimeout(r, 5));
  };

  it('restarts a first crash at once, then with doubling backoff, counts each restart, and is not ready while down', async () => {
    const s = setup({ backoffMs: 20, backoffMaxMs: 50, giveUpAfter: 10, stableMs: 60_000 });
    const part = await s.supervised;
    await expect(part.readiness.check()).resolves.toBeUndefined();
    for (let n = 1; n <= 4; n++) {
      s.runs.at(-1)!.crash(137);
      await until(() => s.lines.some((l) => l.msg === 'ingest exited unexpectedly; restarting it' && l.fields.crashesInARow === n));
      if (n === 2) await expect(part.readiness.check()).rejects.toThrow('ingest is down (exit code 137); restarting it');
      await until(() => s.runs.length === n + 1);
      await until(() => s.lines.filter((l) => l.msg === 'ingest restarted').length === n);
    }
    expect(s.lines.filter((l) => l.msg === 'ingest exited unexpectedly; restarting it').map((l) => l.fields.restartInMs)).toEqual([0, 20, 40, 50]);
    expect(await s.count()).toBe(4);
    await expect(part.readiness.check()).resolves.toBeUndefined();
    await part.stop();
    expect(s.gaveUp()).toBeNull();
  });

  it('gives up after more than giveUpAfter fast crashes in a row, with a message saying so', async () => {
    const s = setup({ backoffMs: 1, backoffMaxMs: 1, giveUpAfter: 2, stableMs: 60_000 });
    const part = await s.supervised;
    for (let n = 1; n <= 3; n++) {
      s.runs.at(-1)!.crash(1);
      if (n < 3) await until(() => s.runs.length === n + 1);
    }
    await until(() => s.gaveUp() !== null);
    expect(s.gaveUp()).toMatch(/^ingest crashed 3 times in a row, each within 60000 ms of its start \(last exit code 1\); giving up/);
    expect(s.runs).toHaveLength(3);
    expect(await s.count()).toBe(2);
    await expect(part.readiness.check()).rejects.toThrow('gave up');
  });

  it('counts a part that ran longer than stableMs as a first crash again', async () => {
    const s = setup({ backoffMs: 1, backoffMaxMs: 1, giveUpAfter: 1, stableMs: 0 });
    const part = await s.supervised;
    for (let n = 1; n <= 3; n++) {
      s.runs.at(-1)!.crash(1);
      await until(() => s.runs.length === n + 1);
    }
    expect(s.gaveUp()).toBeNull();
    await part.stop();
  });

  it('does not restart a part that exits because it was drained or stopped', async () => {
    const s = setup({ backoffMs: 1, backoffMaxMs: 1, giveUpAfter: 5, stableMs: 60_000 });
    const part = await s.supervised;
    part.drain();
    await part.stop();
    await new Promise((r) => setTimeout(r, 20));
    expect(s.runs).toHaveLength(1);
    expect(s.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('Lifecycle.reloadAll (what SIGHUP runs with TLS on)', () => {
  it('reloads every part that can, goes on past one that fails, and says so', async () => {
    const { Lifecycle } = await import('./lifecycle.js');
    const errors: unknown[] = [];
    const log = { info() {}, warn() {}, debug() {}, error: (o: unknown) => errors.push(o) } as never;
    const life = new Lifecycle(log, { timeoutMs: 1_000 });
    const reloaded: string[] = [];
    life.add({ name: 'query', stop: async () => {}, reload: async () => void reloaded.push('query') });
    life.add({ name: 'sink', stop: async () => {} });
    life.add({ name: 'bad', stop: async () => {}, reload: () => Promise.reject(new Error('TLS_CERT_FILE: nope')) });
    life.add({ name: 'ingest', stop: async () => {}, reload: async () => void reloaded.push('ingest') });
    life.ready();
    expect(await life.reloadAll()).toBe(false);
    expect(reloaded).toEqual(['query', 'ingest']);
    expect(errors).toHaveLength(1);
    await life.stopAll();
    // Once stopping, nothing reloads.
    expect(await life.reloadAll()).toBe(true);
    expect(reloaded).toEqual(['query', 'ingest']);
  });
});

describe('Lifecycle stop order', () => {
  it('drains and stops a stopFirst part before every other part, whenever it was added', async () => {
    const { Lifecycle } = await import('./lifecycle.js');
    const log = { info() {}, warn() {}, debug() {}, error() {} } as never;
    const life = new Lifecycle(log, { timeoutMs: 1_000 });
    const seen: string[] = [];
    const part = (name: string) => ({ name, drain: () => void seen.push(`drain ${name}`), stop: async () => void seen.push(`stop ${name}`) });
    // The all-in-one's order: broker, ingest (early, stop first), then chDB, query, sink.
    life.add(part('kafka'));
    life.add(part('ingest'), { stopFirst: true });
    life.add(part('clickhouse'));
    life.add(part('query'));
    life.add(part('sink'));
    life.ready();
    expect(await life.stopAll(true)).toBe(true);
    expect(seen).toEqual([
      'drain ingest',
      'drain sink',
      'drain query',
      'drain clickhouse',
      'drain kafka',
      'stop ingest',
      'stop sink',
      'stop query',
      'stop clickhouse',
      'stop kafka',
    ]);
  });
});

describe('Lifecycle stop during start-up, not asked by a signal', () => {
  it('stops a part that a start-up step under way adds after the stop finished (a supervised part gave up meanwhile)', async () => {
    const { Lifecycle, StartAborted } = await import('./lifecycle.js');
    const log = { info() {}, warn() {}, debug() {}, error() {} } as never;
    const life = new Lifecycle(log, { timeoutMs: 1_000 });
    const seen: string[] = [];
    const part = (name: string) => ({ name, stop: async () => void seen.push(`stop ${name}`) });
    life.add(part('kafka'));
    // `start`'s give-up: every part so far stopped while the next step (opening chDB) ran on.
    expect(await life.stopAll()).toBe(true);
    // That step ends and adds its part, which tells it to stop starting...
    expect(() => life.add(part('clickhouse'))).toThrow(StartAborted);
    // ...and the start-up's error path stops what it started.
    expect(await life.stopAll()).toBe(true);
    expect(seen).toEqual(['stop kafka', 'stop clickhouse']);
  });
});
