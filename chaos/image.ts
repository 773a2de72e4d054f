// npm run image-smoke: builds the image (Dockerfile) with a real Docker engine and starts each
// command in it as the Kubernetes manifests run it: read-only root filesystem, uid 1000, no
// capabilities, no privilege escalation, a tmpfs at /tmp. Against a Kafka broker and a ClickHouse
// HTTP endpoint that this script runs on loopback (--network host: the containers reach nothing
// else). One event goes in through the containerized ingest and comes back out of the
// containerized query API; every container must stop with exit 0 on SIGTERM.
//
// Settings: DOCKER_HOST (the engine), TRACKHOUSE_NODE_IMAGE (the Dockerfile's NODE_IMAGE build
// argument, for a machine without access to Docker Hub), TRACKHOUSE_IMAGE_KEEP=1 (keep the image).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/localkafka/index.js';
import { answers } from './lib/procs.js';
import { prepareJars, READ_KEY, ROOT, SuiteBroker, SuiteClickHouse, WRITE_KEY, Workspace } from './lib/topology.js';

const TAG = `trackhouse:smoke-${randomBytes(3).toString('hex')}`;
const say = (msg: string) => process.stdout.write(`${msg}\n`);

/**
 * Runs the docker CLI without blocking this process: the ClickHouse fault proxy the containers
 * talk to runs in this process's event loop.
 */
function docker(args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-1_000_000)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-1_000_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 && !opts.allowFail) reject(new Error(`docker ${args.join(' ')} exited ${code}:\n${out.slice(-3000)}`));
      else resolve({ code: code ?? -1, out });
    });
  });
}

async function main(): Promise<void> {
  const engine = await docker(['version', '--format', '{{.Server.Version}}'], { allowFail: true });
  if (engine.code !== 0) {
    say(`image-smoke skipped: no Docker engine answers (docker version: ${engine.out.trim().split('\n').pop()})`);
    process.exitCode = 2;
    return;
  }
  say(`Docker engine ${engine.out.trim()}; building ${TAG}`);
  const buildArgs = process.env.TRACKHOUSE_NODE_IMAGE ? ['--build-arg', `NODE_IMAGE=${process.env.TRACKHOUSE_NODE_IMAGE}`] : [];
  const t0 = performance.now();
  await docker(['build', '--network', 'host', '-t', TAG, ...buildArgs, ROOT], { timeoutMs: 30 * 60_000 });
  say(`built in ${((performance.now() - t0) / 1000).toFixed(0)} s; size ${(await docker(['image', 'inspect', TAG, '--format', '{{.Size}}'])).out.trim()} bytes`);

  await prepareJars();
  const ws = new Workspace('image');
  const broker = new SuiteBroker(ws);
  const clickhouse = new SuiteClickHouse(ws);
  const containers: string[] = [];
  const results: { command: string; result: string }[] = [];
  try {
    await Promise.all([broker.start(), clickhouse.start()]);
    const ports = { ingest: await freePort(), query: await freePort(), sink: await freePort() };
    const env = {
      HOST: '127.0.0.1',
      KAFKA_BROKERS: broker.brokers,
      CLICKHOUSE_URL: clickhouse.url,
      TRACKHOUSE_WRITE_KEYS: `${WRITE_KEY}:image`,
      TRACKHOUSE_READ_KEYS: READ_KEY,
      INGEST_PORT: String(ports.ingest),
      QUERY_PORT: String(ports.query),
      SINK_PORT: String(ports.sink),
      SHUTDOWN_DRAIN_DELAY_MS: '1000',
    };
    // What the manifests' securityContext asks of the runtime.
    const hardened = ['--network', 'host', '--read-only', '--tmpfs', '/tmp:size=64m', '--user', '1000:1000', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const once = async (command: string[], expectCode: number, expectText: RegExp) => {
      const r = await docker(['run', '--rm', ...hardened, ...envArgs, TAG, ...command], { allowFail: true, timeoutMs: 180_000 });
      const ok = r.code === expectCode && expectText.test(r.out);
      results.push({ command: command.join(' '), result: `${ok ? 'ok' : 'UNEXPECTED'}: exit ${r.code}; ${r.out.trim().split('\n').slice(-1)[0]!.slice(0, 300)}` });
      if (!ok) throw new Error(`${command.join(' ')}: exit ${r.code} (expected ${expectCode}, ${expectText}):\n${r.out.slice(-3000)}`);
    };
    await once(['--help'], 0, /ingest[\s\S]*sink[\s\S]*query/);
    await once(['migrate'], 0, /migrations up to date/);
    // The all-in-one needs chDB and Java, which the production image leaves out: it must say so.
    {
      const r = await docker(['run', '--rm', ...hardened, TAG, 'start'], { allowFail: true, timeoutMs: 180_000 });
      results.push({ command: 'start (no KAFKA_BROKERS, no CLICKHOUSE_URL)', result: `exit ${r.code}; ${r.out.trim().split('\n').slice(-1)[0]!.slice(0, 300)}` });
      if (r.code !== 2) throw new Error(`start: expected exit 2 with a message, got ${r.code}:\n${r.out.slice(-2000)}`);
    }
    for (const role of ['sink', 'query', 'ingest'] as const) {
      const id = (await docker(['run', '-d', ...hardened, ...envArgs, TAG, role])).out.trim();
      containers.push(id);
      const deadline = Date.now() + 120_000;
      while (!(await answers(`http://127.0.0.1:${ports[role]}/readyz`))) {
        if (Date.now() > deadline) throw new Error(`${role} not ready in its container:\n${(await docker(['logs', id], { allowFail: true })).out.slice(-3000)}`);
        await sleep(500);
      }
      results.push({ command: role, result: `ok: /readyz 200 on ${ports[role]}` });
    }
    const user = `image-smoke-${randomBytes(3).toString('hex')}`;
    const sent = await fetch(`http://127.0.0.1:${ports.ingest}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
      body: JSON.stringify({ userId: user, event: 'Image Smoke', messageId: `${user}-1` }),
    });
    if (sent.status !== 200) throw new Error(`POST /v1/track through the container: ${sent.status} ${await sent.text()}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${ports.query}/v1/users/${user}/events`, { headers: { authorization: `Bearer ${READ_KEY}` } });
      const body = (await r.json()) as { events?: { event_id: string }[] };
      if (body.events?.some((e) => e.event_id === `${user}-1`)) break;
      if (Date.now() > deadline) throw new Error('the event sent through ingest never came back out of query');
      await sleep(500);
    }
    results.push({ command: 'ingest -> sink -> query', result: 'ok: one event in through the ingest container, back out of the query container' });
    await once(['replay', '--from', new Date(Date.now() - 3_600_000).toISOString()], 0, /"/);
    for (const [i, id] of containers.entries()) {
      const t = performance.now();
      await docker(['stop', '--time', '60', id], { timeoutMs: 90_000 });
      const code = (await docker(['inspect', id, '--format', '{{.State.ExitCode}}'])).out.trim();
      results.push({ command: `docker stop ${['sink', 'query', 'ingest'][i]}`, result: `exit ${code} after ${((performance.now() - t) / 1000).toFixed(1)} s` });
      if (code !== '0') throw new Error(`${['sink', 'query', 'ingest'][i]} exited ${code} on SIGTERM`);
    }
    say('\n| command (in the container) | result |\n| --- | --- |');
    for (const r of results) say(`| ${r.command} | ${r.result.replace(/\|/g, '\\|')} |`);
    say('\nimage-smoke passed');
  } catch (err) {
    for (const r of results) say(`  ${r.command}: ${r.result}`);
    say(`image-smoke FAILED: ${(err as Error).message}`);
    process.exitCode = 1;
  } finally {
    for (const id of containers) await docker(['rm', '-f', id], { allowFail: true });
    if (!process.env.TRACKHOUSE_IMAGE_KEEP) await docker(['rmi', TAG], { allowFail: true });
    await clickhouse.stop();
    await broker.stop();
    ws.dispose();
  }
}

await main();
