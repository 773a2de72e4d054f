// Start-up failures of the built CLI, as an operator meets them: one line on stderr that names the
// setting to change, exit code 2, no stack trace. Each case runs `node dist/cli/main.js <command>`
// as a child process.
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../src/common/http.js';
import { freePort } from '../../src/common/serve.js';
import { loadUws } from '../../src/common/uws.js';
import { runChild, type RunResult } from '../support/child.js';
import { MAIN } from '../support/cli.js';
import { kafkaBrokers, tempDir, uniqueTopicEnv } from '../support/env.js';

/**
 * Runs the command to its end. One still running after a minute (it started where it should have
 * refused) is killed, so a failing case reports exit code 137 instead of leaving a server behind.
 */
function run(command: string, env: Record<string, string>): Promise<RunResult> {
  if (!existsSync(MAIN)) throw new Error('dist/cli/main.js is missing: run npm run build first (npm test does)');
  return runChild(process.execPath, [MAIN, command], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    timeoutMs: 60_000,
  });
}

/** What main.ts prints for a TrackhouseError: `trackhouse: <message>`, and no stack frames. */
function expectCleanFailure(o: RunResult, ...mentions: (string | RegExp)[]): void {
  expect(o.code, o.stderr).toBe(2);
  expect(o.stderr).toMatch(/^trackhouse: /m);
  expect(o.stderr).not.toMatch(/^\s+at /m);
  for (const m of mentions) expect(o.stderr).toMatch(m);
}

/** A port held by a plain listener for the whole file. */
let held: net.Server;
let busyPort = 0;
/** A port held by a uWebSockets.js app of this process (SO_REUSEPORT) for the whole file. */
let uwsHeld: Listening;
let uwsBusyPort = 0;
const dir = tempDir('trackhouse-startup-');
/** A port nothing listens on (taken from the kernel, then released). */
let closedPort = 0;

beforeAll(async () => {
  held = net.createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  busyPort = (held.address() as net.AddressInfo).port;
  uwsBusyPort = await freePort('127.0.0.1');
  uwsHeld = await listen(loadUws().App(), '127.0.0.1', uwsBusyPort);
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await new Promise<void>((resolve) => held.close(() => resolve()));
  uwsHeld.closeAll();
  dir.remove();
});

describe('an address the servers cannot listen on', () => {
  it('query with HOST=256.1.1.1 names HOST and says what to set', async () => {
    const o = await run('query', {
      HOST: '256.1.1.1',
      QUERY_PORT: '0',
      TRACKHOUSE_READ_KEYS: 'k',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, 'host'),
    });
    expectCleanFailure(o, /HOST=256\.1\.1\.1 is not an address of this machine/, /0\.0\.0\.0/);
  });
});

describe('the dev keys on an address other machines reach', () => {
  it('start with HOST=0.0.0.0 and no keys names the key settings, before it reaches Kafka', async () => {
    const o = await run('start', {
      HOST: '0.0.0.0',
      INGEST_PORT: '0',
      QUERY_PORT: '0',
      SINK_PORT: '0',
      BI_PORT: 'off',
      BI_NATIVE_PORT: 'off',
      // Nothing listens there: a start that went on would stop at Kafka, naming KAFKA_BROKERS.
      KAFKA_BROKERS: `127.0.0.1:${closedPort}`,
      TRACKHOUSE_DATA_DIR: path.join(dir.path, 'dev-keys'),
    });
    expectCleanFailure(o, /HOST=0\.0\.0\.0 is reachable from other machines/, /TRACKHOUSE_WRITE_KEYS, TRACKHOUSE_READ_KEYS, TRACKHOUSE_ADMIN_KEYS are unset/);
  });
});

// Held by node:net, the servers' own listen fails. Held by another uWebSockets.js server (a second
// trackhouse), it would succeed: both bind with SO_REUSEPORT and the kernel would split the
// connections between the two processes, so the port is claimed before the listen.
describe.each([
  { holder: 'a plain listener', busy: () => busyPort },
  { holder: 'another uWebSockets.js server (SO_REUSEPORT, as a second trackhouse)', busy: () => uwsBusyPort },
])('a port held by $holder', ({ holder, busy }) => {
  const tag = holder.startsWith('a plain') ? 'plain' : 'uws';

  it('query on a busy QUERY_PORT names QUERY_PORT', async () => {
    const o = await run('query', {
      QUERY_PORT: String(busy()),
      TRACKHOUSE_READ_KEYS: 'k',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, `query-port-${tag}`),
    });
    expectCleanFailure(o, new RegExp(`QUERY_PORT=${busy()} is already in use`), /set QUERY_PORT to a free port/);
  });

  it('ingest on a busy INGEST_PORT names INGEST_PORT', async () => {
    const o = await run('ingest', {
      ...(uniqueTopicEnv('startup') as Record<string, string>),
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_PARTITIONS: '1',
      INGEST_PORT: String(busy()),
      TRACKHOUSE_WRITE_KEYS: 'k:s',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, `ingest-port-${tag}`),
    });
    expectCleanFailure(o, new RegExp(`INGEST_PORT=${busy()} is already in use`));
  });

  it('ingest with INGEST_THREADS=2 on a busy INGEST_PORT names INGEST_PORT too', async () => {
    const o = await run('ingest', {
      ...(uniqueTopicEnv('startup') as Record<string, string>),
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_PARTITIONS: '1',
      INGEST_THREADS: '2',
      INGEST_PORT: String(busy()),
      TRACKHOUSE_WRITE_KEYS: 'k:s',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, `ingest-threads-port-${tag}`),
    });
    expectCleanFailure(o, new RegExp(`INGEST_PORT=${busy()} is already in use`));
  });

  it('start (the all-in-one) on a busy QUERY_PORT names it before it starts a broker', async () => {
    const dataDir = path.join(dir.path, `start-port-${tag}`);
    const o = await run('start', { QUERY_PORT: String(busy()), INGEST_PORT: '0', SINK_PORT: '0', TRACKHOUSE_DATA_DIR: dataDir });
    expectCleanFailure(o, new RegExp(`QUERY_PORT=${busy()} is already in use`));
    expect(existsSync(path.join(dataDir, 'kafka'))).toBe(false);
  });

  it('start on a busy BI_PORT, set on purpose, names it before it starts a broker', async () => {
    const dataDir = path.join(dir.path, `start-bi-port-${tag}`);
    const o = await run('start', { BI_PORT: String(busy()), QUERY_PORT: '0', INGEST_PORT: '0', SINK_PORT: '0', TRACKHOUSE_DATA_DIR: dataDir });
    expectCleanFailure(o, new RegExp(`BI_PORT=${busy()} is already in use`));
    expect(existsSync(path.join(dataDir, 'kafka'))).toBe(false);
  });

  it('start on a busy BI_NATIVE_PORT, set on purpose, names it before it starts a broker', async () => {
    const dataDir = path.join(dir.path, `start-bi-native-port-${tag}`);
    const o = await run('start', { BI_NATIVE_PORT: String(busy()), BI_PORT: '0', QUERY_PORT: '0', INGEST_PORT: '0', SINK_PORT: '0', TRACKHOUSE_DATA_DIR: dataDir });
    expectCleanFailure(o, new RegExp(`BI_NATIVE_PORT=${busy()} is already in use`));
    expect(existsSync(path.join(dataDir, 'kafka'))).toBe(false);
  });

  it('sink on a busy SINK_PORT names SINK_PORT', async () => {
    const o = await run('sink', {
      ...(uniqueTopicEnv('startup') as Record<string, string>),
      KAFKA_BROKERS: kafkaBrokers().join(','),
      SINK_PORT: String(busy()),
      SINK_WORKERS: '1',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, `sink-port-${tag}`),
    });
    expectCleanFailure(o, new RegExp(`SINK_PORT=${busy()} is already in use`));
  });
});

it('start with several of its ports taken (a second trackhouse on another data dir) names every one, before it starts a broker', async () => {
  // Named one at a time, a user set INGEST_PORT, started again, met QUERY_PORT, and so on.
  const dataDir = path.join(dir.path, 'start-ports-taken');
  const o = await run('start', { INGEST_PORT: String(busyPort), QUERY_PORT: String(uwsBusyPort), SINK_PORT: '0', BI_PORT: 'off', BI_NATIVE_PORT: 'off', TRACKHOUSE_DATA_DIR: dataDir });
  expectCleanFailure(o, new RegExp(`INGEST_PORT=${busyPort} is already in use`), new RegExp(`QUERY_PORT=${uwsBusyPort} is in use too: give it a free port as well`));
  expect(existsSync(path.join(dataDir, 'kafka'))).toBe(false);
});

describe('dependencies that do not answer', () => {
  it('ingest with an unreachable KAFKA_BROKERS names KAFKA_BROKERS and the address it tried', async () => {
    const o = await run('ingest', {
      KAFKA_BROKERS: `127.0.0.1:${closedPort}`,
      TRACKHOUSE_WRITE_KEYS: 'k:s',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, 'kafka'),
    });
    expectCleanFailure(o, new RegExp(`could not reach Kafka at 127\\.0\\.0\\.1:${closedPort} \\(KAFKA_BROKERS\\)`), /ECONNREFUSED/);
  });

  it('migrate with an unreachable CLICKHOUSE_URL names CLICKHOUSE_URL', async () => {
    const o = await run('migrate', { CLICKHOUSE_URL: `http://127.0.0.1:${closedPort}`, TRACKHOUSE_DATA_DIR: path.join(dir.path, 'migrate') });
    expectCleanFailure(o, new RegExp(`could not reach ClickHouse at http://127\\.0\\.0\\.1:${closedPort} \\(CLICKHOUSE_URL\\)`));
  });

  it('query with an unreachable CLICKHOUSE_URL names CLICKHOUSE_URL before it listens', async () => {
    const o = await run('query', {
      CLICKHOUSE_URL: `http://127.0.0.1:${closedPort}`,
      QUERY_PORT: '0',
      TRACKHOUSE_READ_KEYS: 'k',
      TRACKHOUSE_DATA_DIR: path.join(dir.path, 'query-ch'),
    });
    expectCleanFailure(o, /could not reach ClickHouse at .* \(CLICKHOUSE_URL\)/);
  });
});

describe('an alert rules file with a webhook URL that does not parse', () => {
  // The README's rule, its URL given a port over 65535: a bare "TypeError: Invalid URL" stack
  // (exit 1) before, the URL quoted whole in it (a chat hook's path is its credential).
  const rules = () => {
    const file = path.join(dir.path, 'bad-url.yaml');
    writeFileSync(
      file,
      `rules:
  - name: big-spender
    measure: sum
    property: total
    filter: { type: track, event: Order Completed }
    group_by: user
    window: { type: tumbling, size: 1d }
    condition: { above: 1000 }
    webhook: { url: "https://hooks.example.com:99999/T0/SECRETPATH", secret: at-least-16-characters }
`,
    );
    return file;
  };

  it.each(['alerts', 'query', 'start'])('%s names TRACKHOUSE_ALERTS, the rule and webhook.url, before it reaches anything', async (command) => {
    const o = await run(command, {
      TRACKHOUSE_ALERTS: rules(),
      STREAM_PORT: '0',
      QUERY_PORT: '0',
      INGEST_PORT: '0',
      SINK_PORT: '0',
      BI_PORT: 'off',
      BI_NATIVE_PORT: 'off',
      TRACKHOUSE_READ_KEYS: 'k',
      KAFKA_BROKERS: `127.0.0.1:${closedPort}`,
      CLICKHOUSE_URL: `http://127.0.0.1:${closedPort}`,
      TRACKHOUSE_DATA_DIR: path.join(dir.path, `bad-url-${command}`),
    });
    expectCleanFailure(o, /TRACKHOUSE_ALERTS/, /rule "big-spender" \(#1\): webhook\.url: expected an http:\/\/ or https:\/\/ URL/);
    expect(o.stderr).not.toContain('SECRETPATH');
  });
});
