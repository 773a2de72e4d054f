// `trackhouse --version` (and -V) prints package.json's version and exits 0, as a user checks
// what is installed: the built CLI, run as a user runs it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAIN } from '../support/cli.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('trackhouse --version', () => {
  it.each(['--version', '-V'])('%s prints the version alone and exits 0', (flag) => {
    const r = spawnSync(process.execPath, [MAIN, flag], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
  });
});
