// Log lines reach stdout in the order they were logged, the last ones before process.exit
// included: every command ends with process.exit (cli/main.ts), and `trackhouse start` once said
// "part kafka stopped" after its final "stopped".
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';

const dir = tempDir('trackhouse-log-');
afterAll(() => dir.remove());

const FIXTURE = path.join(dir.path, 'exit.mts');
// libuv's thread pool (one thread here) busy with a hash, as chDB's and the file system's work
// keep it busy in the all-in-one: a write handed to it would wait there past process.exit.
writeFileSync(
  FIXTURE,
  `import { pbkdf2 } from 'node:crypto';
import { createLogger } from ${JSON.stringify(pathToFileURL(path.resolve('src/common/log.ts')).href)};
const start = createLogger('info', { component: 'start' });
const other = createLogger('info', { component: 'sink' });
pbkdf2('x', 'y', 300_000, 32, 'sha256', () => {});
start.info({ part: 'kafka' }, 'stopped');
other.info('sink line');
start.info('stopped');
process.exit(0);
`,
);

describe('createLogger', () => {
  it('writes every line before process.exit, in the order logged, across loggers', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE], { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.component, l.part ?? null, l.msg])).toEqual([
      ['start', 'kafka', 'stopped'],
      ['sink', null, 'sink line'],
      ['start', null, 'stopped'],
    ]);
  });
});
