// A hard exit (SHUTDOWN_TIMEOUT_MS's cut, a second signal) in a real process whose chDB is running
// a statement, as a BI statement runs on after a stop: it ends at once with its own exit code,
// after the 'exit' listeners (the data dir lock's release). process.exit() there waited for the
// statement to end (Node joins the libuv pool thread it runs on) and then ran libchdb's exit
// handlers beside the engine's threads (SIGSEGV now and then).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';

const dir = tempDir('trackhouse-hardexit-');
const running: number[] = [];
afterAll(() => {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited */
    }
  }
  dir.remove();
});

// .mts: the temp dir has no package.json saying "type": "module", and the fixture awaits at top level.
const BUSY = path.join(dir.path, 'busy.mts');
writeFileSync(
  BUSY,
  `import { createRequire } from 'node:module';
import { exitNow, prepareHardExit } from ${JSON.stringify(pathToFileURL(path.resolve('src/cli/hardexit.ts')).href)};
const { createChdbConnection } = createRequire(${JSON.stringify(path.resolve('package.json'))})('chdb/connection');
const say = (m) => process.stdout.write(m + '\\n');
say('prepared ' + prepareHardExit());
const c = createChdbConnection({ path: process.argv[2] });
// An hour of work on a pool thread, which chDB cannot be told to stop.
const statement = c.query({ query: 'SELECT sum(sleepEachRow(1)) FROM numbers(3600) SETTINGS max_block_size = 1' });
statement.then(() => say('statement ended'), (err) => say('statement failed ' + err.message));
process.on('exit', (code) => say('exit listener ' + code));
say('running');
process.stdin.once('data', () => exitNow(Number(process.argv[3])));
`,
);

function run(code: number): { said: () => string; exited: Promise<{ code: number | null; signal: string | null }>; exit: () => void; started: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', BUSY, path.join(dir.path, `chdb-${code}`), String(code)], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.push(child.pid!);
  let out = '';
  let started!: () => void;
  const startedP = new Promise<void>((resolve) => (started = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('running\n')) started();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (c, signal) => resolve({ code: c, signal })));
  return { said: () => out, exited, exit: () => child.stdin.write('now\n'), started: startedP };
}

for (const code of [1, 130]) {
  it(`exits at once with ${code} while chDB runs a statement, after the 'exit' listeners`, { timeout: 60_000 }, async () => {
    const p = run(code);
    await p.started;
    // The statement is in chDB (on a libuv pool thread) once the call has been made: let it start.
    await new Promise((r) => setTimeout(r, 500));
    p.exit();
    // process.exit() would wait here for the statement's hour: the test's timeout.
    const r = await p.exited;
    expect(r, p.said()).toEqual({ code, signal: null });
    expect(p.said()).toContain('prepared true');
    expect(p.said()).toContain(`exit listener ${code}`);
    expect(p.said()).not.toContain('statement ended');
  });
}
