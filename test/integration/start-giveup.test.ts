// `trackhouse start` whose supervised part (here its ingest child) gives up while start-up is still
// under way (chDB opening, migrations, the view): no signal comes, yet it stops every part,
// frees the data dir and exits 1, as a give-up after start-up does (start-supervised.test.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { isAlive, localStartEnv, runCli, type CliProcess } from '../support/cli.js';
import { tempDir } from '../support/env.js';

const dir = tempDir('trackhouse-giveup-');
let a: CliProcess | undefined;

afterAll(async () => {
  if (a && a.child.exitCode === null && a.child.signalCode === null) {
    a.child.kill('SIGKILL');
    await a.exited;
  }
  dir.remove();
});

it('exits 1 with the give-up message and a free data dir when its ingest child gives up during start-up', { timeout: 180_000 }, async () => {
  const env = { ...(await localStartEnv(dir.path)), RESTART_GIVE_UP_AFTER: '0', RESTART_STABLE_MS: '600000' };
  a = runCli(['start'], env);
  await a.waitFor('"msg":"ingest ready"');
  const ingestPid = Number(a.logs().find((l) => l.msg === 'ingest ready')?.ingestPid);
  process.kill(ingestPid, 'SIGKILL');
  // The case under test: the crash came before start-up finished (chDB and the view take seconds more).
  expect(a.stdout()).not.toContain('Ctrl-C drains and stops everything');
  const code = await a.exited;
  const why = `${a.stdout().slice(-4000)}\n${a.stderr().slice(-2000)}`;
  expect(code, why).toBe(1);
  expect(a.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('ingest crashed 1 times in a row')), why).toBe(true);
  expect(existsSync(path.join(dir.path, 'trackhouse.lock'))).toBe(false);
  expect(isAlive(Number(a.logs().find((l) => l.msg === 'local Kafka broker ready')?.brokerPid))).toBe(false);
});
