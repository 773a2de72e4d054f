// `npm start`, then Ctrl-C: a terminal sends SIGINT to the whole foreground process group (npm,
// the script's shell, node). npm forwards the signal to its child again and, if that child died
// of a signal, kills itself with it (exit 130); dash, the script shell here, re-raises a SIGINT it
// got while waiting, even when its child exited 0. The start script therefore `exec`s node (no
// shell left to re-raise) and runUntilSignal counts npm's second copy of the signal as the first.
//
// This runs package.json's real start script with npm, in a scratch package whose `build` does
// nothing and whose dist/cli/main.js is a stand-in that stops through the real runUntilSignal, and
// signals the process group as a terminal does.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/env.js';

const dir = tempDir('trackhouse-npm-start-');
afterAll(() => dir.remove());

describe('npm start, then Ctrl-C to the process group', () => {
  it('drains and exits 0, and npm exits 0 too', async () => {
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    writeFileSync(
      path.join(dir.path, 'package.json'),
      JSON.stringify({ name: 'npm-start-signal', version: '0.0.0', private: true, type: 'module', scripts: { start: scripts.start, build: 'true' } }),
    );
    mkdirSync(path.join(dir.path, 'dist/cli'), { recursive: true });
    const lifecycle = pathToFileURL(path.resolve('dist/cli/lifecycle.js')).href;
    writeFileSync(
      path.join(dir.path, 'dist/cli/main.js'),
      `import { runUntilSignal } from ${JSON.stringify(lifecycle)};
const log = { info() {}, warn() {}, error() {}, debug() {} };
const keepAlive = setInterval(() => {}, 1 << 30);
const pending = runUntilSignal({ stop: async () => { await new Promise((r) => setTimeout(r, 200)); console.log('drained'); } }, log, { timeoutMs: 30000 });
console.log('ready ' + process.argv[2]);
const code = await pending;
clearInterval(keepAlive);
process.exit(code);
`,
    );
    // detached: its own process group, so signalling -pid reaches npm, its shell and node, as a
    // terminal's Ctrl-C does, and nothing else.
    const npm = spawn('npm', ['start'], {
      cwd: dir.path,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    });
    let out = '';
    npm.stdout.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      npm.once('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      while (!out.includes('ready start')) {
        if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(-npm.pid!, 'SIGINT');
      expect(await exited, out).toEqual({ code: 0, signal: null });
      expect(out).toContain('drained');
    } finally {
      if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, 'SIGKILL');
    }
  });
});
