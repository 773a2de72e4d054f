// runUntilSignal in a real process: signals are sent to a child that runs it around a component
// which reports each phase on stdout.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';

const dir = tempDir('trackhouse-lifecycle-');
afterAll(() => dir.remove());

const LIFECYCLE = pathToFileURL(path.resolve('src/cli/lifecycle.ts')).href;
// .mts: the temp dir has no package.json saying "type": "module", and the fixture awaits at top level.
const FIXTURE = path.join(dir.path, 'component.mts');
writeFileSync(
  FIXTURE,
  `import { runUntilSignal } from ${JSON.stringify(LIFECYCLE)};
const [drainDelayMs, repeatWindowMs, stopHangs] = process.argv.slice(2).map(Number);
const say = (m: string) => process.stdout.write(m + '\\n');
const log = { info() {}, warn() {}, error() {}, debug() {} } as never;
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
  { timeoutMs: 60_000, drainDelayMs, repeatWindowMs },
);
say('ready');
const code = await pending;
say('exit ' + code);
process.exit(code);
`,
);

/** Starts the fixture; `line(text)` waits until its output holds `text`; `exited` is its exit code. */
function start(drainDelayMs: number, repeatWindowMs: number, stopHangs = false) {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(drainDelayMs), String(repeatWindowMs), stopHangs ? '1' : '0'], {
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

  it('exits 130 at once on a second signal after the repeat window', async () => {
    const p = start(0, 0, true);
    await ready(p);
    p.child.kill('SIGINT');
    await p.line('stopping 1');
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(130);
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
