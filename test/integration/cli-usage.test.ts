// A command line the CLI cannot take (an unknown command or option, a value outside an option's
// choices, a missing argument) exits 2, as a bad setting does (README: import's "2 on a bad
// argument"), with commander's message; help and the version still exit 0. The built CLI, run as
// a user runs it: each case fails before anything connects.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MAIN } from '../support/cli.js';

function run(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('trackhouse usage errors', () => {
  it.each([
    [['import', '--format', 'bogus', 'x.ndjson'], /argument 'bogus' is invalid/],
    [['import', '--rate', 'abc', 'x.ndjson'], /argument 'abc' is invalid/],
    // Every event's source is a key part of the stream's volume: one of 3000 characters crashed it.
    [['import', '--source', 's'.repeat(65), 'x.ndjson'], /--source.*1-64 letters, digits/],
    [['import'], /missing required argument 'inputs'/],
    [['replay', '--from', '2026-11-01', '--bogus'], /unknown option '--bogus'/],
    [['replay'], /required option '--from <start>' not specified/],
    [['bogus'], /unknown command 'bogus'/],
  ])('%j exits 2 with what is wrong', (args, message) => {
    const r = run(...args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it.each([[['--help']], [['import', '--help']], [['--version']]])('%j exits 0', (args) => {
    const r = run(...args);
    expect(r.status, r.stderr).toBe(0);
  });
});
