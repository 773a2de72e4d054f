// SIGHUP during start-up, in real processes: held from main.ts's first line (./hangup.ts), then
// either a reload once the command has started (TLS on, Lifecycle) or Node's default, the end of
// the process, as before.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';

const dir = tempDir('trackhouse-hangup-');
afterAll(() => dir.remove());

const url = (file: string) => JSON.stringify(pathToFileURL(path.resolve(file)).href);
const SAY = `const say = (m) => process.stdout.write(m + '\\n');
/** Resolves once a SIGHUP sent now has been delivered (every listener is called in one emit). */
const hangupNow = () => { const p = new Promise((r) => process.once('SIGHUP', r)); process.kill(process.pid, 'SIGHUP'); return p; };
setInterval(() => {}, 1 << 30);
`;

// .mts: the temp dir has no package.json saying "type": "module", and the fixtures await at top level.
const HOLD = path.join(dir.path, 'hold.mts');
writeFileSync(
  HOLD,
  `import { holdHangup, settleHangup } from ${url('src/cli/hangup.ts')};
${SAY}
holdHangup();
await hangupNow();
say('held');
say('settled ' + settleHangup(process.argv[2] === 'reload'));
process.exit(0);
`,
);

// As `trackhouse query` runs it: the Lifecycle first, its parts started (here: when the parent
// says so on stdin), the signal handlers, ready().
const QUERY = path.join(dir.path, 'query.mts');
writeFileSync(
  QUERY,
  `import { Lifecycle } from ${url('src/cli/lifecycle.ts')};
${SAY}
const log = { info(_o, m) { say(m ?? _o); }, warn() {}, error(_o, m) { say('error: ' + m); }, debug() {} };
const life = new Lifecycle(log, { timeoutMs: 10_000, reloadOnHangup: true });
say('starting');
await new Promise((r) => process.stdin.once('data', r));
let reloads = 0;
const exited = life.untilSignal();
life.add({ name: 'query', stop: async () => {}, reload: async () => say('reload ' + ++reloads) });
say('added');
life.ready();
say('ready');
const code = await exited;
say('exit ' + code);
process.exit(code);
`,
);

function run(file: string, args: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  /** Resolves once stdout holds `text` `times` times. */
  const line = (text: string, times = 1) =>
    Promise.race([
      new Promise<void>((resolve) => {
        const check = () => (out.split(text).length > times ? resolve() : waiters.push(check));
        check();
      }),
      exited.then((e) => {
        if (out.split(text).length <= times) throw new Error(`fixture exited (${JSON.stringify(e)}) before printing ${text} x${times}:\n${out}\n${err}`);
      }),
    ]);
  return { child, exited, lines: () => out.split('\n').filter(Boolean), line };
}

describe('SIGHUP before the command has said what it means', () => {
  it('is held, and handed to a command that reloads', async () => {
    const p = run(HOLD, ['reload']);
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.lines()).toEqual(['held', 'settled true']);
  });

  it('ends the process, as Node would have, when the command does not reload', async () => {
    const p = run(HOLD, ['default']);
    expect(await p.exited).toEqual({ code: null, signal: 'SIGHUP' });
    expect(p.lines()).toEqual(['held']);
  });
});

describe('Lifecycle with TLS on: SIGHUP during start-up', () => {
  it('does not end the process; the reload it asks for runs once, after ready(); a SIGHUP then reloads at once', async () => {
    const p = run(QUERY);
    await p.line('starting');
    p.child.kill('SIGHUP');
    await p.line('SIGHUP during start-up');
    p.child.kill('SIGHUP');
    await p.line('SIGHUP during start-up', 2);
    p.child.stdin.write('go\n');
    await p.line('reloaded');
    p.child.kill('SIGHUP');
    await p.line('reloaded', 2);
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    const lines = p.lines();
    // Two SIGHUPs during start-up, one reload for them, after the part had started.
    expect(lines.filter((l) => l.startsWith('reload '))).toEqual(['reload 1', 'reload 2']);
    // Applied by ready(), once the part is in: not when the SIGHUPs came, nor when the part was added.
    const held = lines.slice(lines.indexOf('added'), lines.indexOf('ready') + 1);
    expect(held).toEqual(['added', expect.stringContaining('reloading the TLS certificate files, as asked during start-up'), 'reload 1', 'ready']);
    expect(lines.slice(0, 3)).toEqual(['starting', expect.stringContaining('SIGHUP during start-up'), expect.stringContaining('SIGHUP during start-up')]);
    expect(lines.at(-1)).toBe('exit 0');
  });
});
