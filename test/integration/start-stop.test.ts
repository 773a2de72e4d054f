// `trackhouse start` stopped by SIGINT (Ctrl-C) or SIGTERM: its last log line is the final
// "stopped", after every part's own "stopped", and by the time it is written the local broker
// (its wrapper and its JVM) is gone. Its output goes to a file, as with `npm start > start.log`:
// there the final line once came before "part kafka stopped" (pino wrote stdout in libuv's thread
// pool, and process.exit flushed the lines logged after the one still there first).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { childrenOf, isAlive, localStartEnv, MAIN } from '../support/cli.js';
import { tempDir } from '../support/env.js';

const FINAL = '"component":"start","msg":"stopped"}';

let dir: ReturnType<typeof tempDir> | undefined;
let kill = () => {};
afterEach(() => {
  kill();
  dir?.remove();
  dir = undefined;
});

async function startWithLocalBroker() {
  dir = tempDir('trackhouse-start-stop-');
  // Every port 0 (start picks each as it binds it): this test reaches no server, and ports picked
  // here would wait through the broker's start-up, free for another process on the machine to take.
  const ports = { INGEST_PORT: '0', QUERY_PORT: '0', SINK_PORT: '0', LOCAL_KAFKA_PORT: '0', LOCAL_KAFKA_CONTROLLER_PORT: '0' };
  const env = { PATH: process.env.PATH!, HOME: process.env.HOME!, ...(await localStartEnv(dir.path)), ...ports };
  const logFile = path.join(dir.path, 'start.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [MAIN, 'start'], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const text = () => readFileSync(logFile, 'utf8');
  const deadline = Date.now() + 150_000;
  while (!text().includes('Ctrl-C drains and stops everything')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`trackhouse start did not come up:\n${text()}`);
    await sleep(100);
  }
  const logs = () =>
    text()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, text, logs };
}

describe('trackhouse start, stopped by a signal', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`on ${signal}: the final "stopped" is the last line, after every part's, with the broker's wrapper and JVM gone`, { timeout: 240_000 }, async () => {
      const a = await startWithLocalBroker();
      const wrapper = Number(a.logs().find((l) => l.msg === 'local Kafka broker ready')?.brokerPid);
      const jvm = childrenOf(wrapper).find((c) => c.comm === 'java')?.pid;
      expect(jvm, `the broker JVM under ${wrapper}`).toBeDefined();
      a.child.kill(signal);
      // Looked at as soon as the final line is there, the process possibly still exiting.
      let atFinal: { wrapper: boolean; jvm: boolean } | null = null;
      while (atFinal === null && a.child.exitCode === null) {
        if (a.text().includes(FINAL)) atFinal = { wrapper: isAlive(wrapper), jvm: isAlive(jvm!) };
        else await sleep(5);
      }
      expect(await a.exited, a.text()).toBe(0);
      if (atFinal === null) atFinal = { wrapper: isAlive(wrapper), jvm: isAlive(jvm!) };
      expect(atFinal).toEqual({ wrapper: false, jvm: false });
      const stops = a.logs().filter((l) => l.component === 'start' && l.msg === 'stopped').map((l) => l.part ?? 'final');
      expect(stops[0]).toBe('ingest');
      // The data dir lock is no part: it is released after the final line, once chDB has let go.
      expect(stops.slice(-2)).toEqual(['kafka', 'final']);
      // Nothing at all after the final line, the ingest child's lines included.
      expect(a.text().trimEnd().endsWith(FINAL), a.text().slice(-800)).toBe(true);
    });
  }
});
