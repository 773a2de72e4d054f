// npm run image-smoke: builds the image (Dockerfile) with a real Docker engine and starts each
// command in it as the Kubernetes manifests run it: read-only root filesystem, uid 1000, no
// capabilities, no privilege escalation, a tmpfs at /tmp (and for query's view and the stream
// store, where the manifests mount volumes). Against a Kafka broker and a ClickHouse HTTP endpoint
// that this script runs on loopback (--network host: the containers reach nothing else, which
// the script checks on every socket the long-running containers hold). One event goes in through
// the containerized ingest and comes back out of the containerized query API and alerts'
// live volume; every container must stop with exit 0 on SIGTERM.
//
// Settings: DOCKER (the docker CLI, default `docker`), DOCKER_HOST (the engine),
// TRACKHOUSE_NODE_IMAGE (the Dockerfile's NODE_IMAGE build argument, for a machine without access
// to Docker Hub: k8s/image/base-from-debootstrap.sh makes one), TRACKHOUSE_IMAGE_KEEP=1 (keep the
// image). k8s/image/smoke.sh runs the whole thing on a machine with no engine running.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/localkafka/index.js';
import { answers } from './lib/procs.js';
import { prepareJars, READ_KEY, ROOT, SuiteBroker, SuiteClickHouse, WRITE_KEY, Workspace } from './lib/topology.js';

const DOCKER = process.env.DOCKER ?? 'docker';
const TAG = `trackhouse:smoke-${randomBytes(3).toString('hex')}`;
const say = (msg: string) => process.stdout.write(`${msg}\n`);
const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

/**
 * Runs the docker CLI without blocking this process: the ClickHouse fault proxy the containers
 * talk to runs in this process's event loop.
 */
function docker(args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[?::1\]?|\[?::ffff:127\.\d+\.\d+\.\d+\]?|\*|0\.0\.0\.0|\[?::\]?)$/;

/**
 * Every TCP and UDP socket held by the process `pid` (a container's node, seen from the host: with
 * --network host it shares the host's network namespace), as [local, peer] address pairs.
 */
function socketsOf(pid: number): { local: string; peer: string; line: string }[] {
  const out = execFileSync('ss', ['-tuanpH'], { encoding: 'utf8' });
  const mine: { local: string; peer: string; line: string }[] = [];
  for (const line of out.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue;
    const f = line.trim().split(/\s+/);
    // Netid State Recv-Q Send-Q Local:Port Peer:Port Process
    const host = (hp: string) => hp.slice(0, hp.lastIndexOf(':')).replace(/%.*$/, '');
    mine.push({ local: host(f[4]!), peer: host(f[5]!), line });
  }
  return mine;
}

async function main(): Promise<void> {
  const engine = await docker(['version', '--format', '{{.Server.Version}}'], { allowFail: true });
  if (engine.code !== 0) {
    say(`image-smoke skipped: no Docker engine answers (docker version: ${engine.out.trim().split('\n').pop()})`);
    process.exitCode = 2;
    return;
  }
  const networks = (await docker(['network', 'ls', '--format', '{{.Name}}/{{.Driver}}'])).out.trim().split('\n');
  say(`Docker engine ${engine.out.trim()}; networks: ${networks.join(', ')}; building ${TAG}`);
  const buildArgs = process.env.TRACKHOUSE_NODE_IMAGE ? ['--build-arg', `NODE_IMAGE=${process.env.TRACKHOUSE_NODE_IMAGE}`] : [];
  const t0 = performance.now();
  await docker(['build', '--network', 'host', '-t', TAG, ...buildArgs, ROOT], { timeoutMs: 30 * 60_000 });
  const size = Number((await docker(['image', 'inspect', TAG, '--format', '{{.Size}}'])).out.trim());
  say(`built in ${secs(t0)}; image size ${(size / 1e6).toFixed(0)} MB (${size} bytes)`);

  await prepareJars();
  const ws = new Workspace('image');
  const broker = new SuiteBroker(ws);
  const clickhouse = new SuiteClickHouse(ws);
  const containers: { role: string; id: string; port: number }[] = [];
  const results: { command: string; result: string }[] = [];
  try {
    await Promise.all([broker.start(), clickhouse.start()]);
    const ports = { ingest: await freePort(), query: await freePort(), sink: await freePort(), alerts: await freePort() };
    const env = {
      HOST: '127.0.0.1',
      KAFKA_BROKERS: broker.brokers,
      CLICKHOUSE_URL: clickhouse.url,
      TRACKHOUSE_WRITE_KEYS: `${WRITE_KEY}:image`,
      TRACKHOUSE_READ_KEYS: READ_KEY,
      INGEST_PORT: String(ports.ingest),
      QUERY_PORT: String(ports.query),
      SINK_PORT: String(ports.sink),
      STREAM_PORT: String(ports.alerts),
      SHUTDOWN_DRAIN_DELAY_MS: '1000',
    };
    say(`broker ${broker.brokers}, ClickHouse over HTTP ${clickhouse.url} (chDB, on the host)`);
    // What the manifests' securityContext asks of the runtime.
    const hardened = ['--network', 'host', '--read-only', '--tmpfs', '/tmp:size=64m', '--user', '1000:1000', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    // Where the manifests mount volumes: query's view (/data), the stream store, the rules ConfigMap.
    const rules = ['-v', `${path.join(ROOT, 'k8s', 'base', 'alerts-rules.yaml')}:/etc/trackhouse/alerts.yaml:ro`, '-e', 'TRACKHOUSE_ALERTS=/etc/trackhouse/alerts.yaml'];
    const stream = ['--tmpfs', '/var/lib/trackhouse:size=256m,uid=1000,gid=1000', '-e', 'STREAM_DIR=/var/lib/trackhouse/stream', ...rules];
    const volumes: Record<string, string[]> = {
      sink: [],
      ingest: [],
      // The stream component runs apart (components/alerts): query without it, as that overlay sets.
      query: ['--tmpfs', '/data:size=256m,uid=1000,gid=1000', '-e', 'TRACKHOUSE_DATA_DIR=/data', '-e', 'QUERY_STREAM=off'],
      alerts: stream,
    };
    const once = async (command: string[], expectCode: number, expectText: RegExp) => {
      const t = performance.now();
      const r = await docker(['run', '--rm', ...hardened, ...envArgs, TAG, ...command], { allowFail: true, timeoutMs: 180_000 });
      const ok = r.code === expectCode && expectText.test(r.out);
      const said = r.out.split('\n').find((l) => expectText.test(l)) ?? r.out.trim().split('\n').slice(-1)[0]!;
      results.push({ command: command.join(' '), result: `${ok ? 'ok' : 'UNEXPECTED'}: exit ${r.code} in ${secs(t)}; ${said.slice(0, 300)}` });
      if (!ok) throw new Error(`${command.join(' ')}: exit ${r.code} (expected ${expectCode}, ${expectText}):\n${r.out.slice(-3000)}`);
    };
    await once(['--help'], 0, /Usage: trackhouse/);
    await once(['migrate'], 0, /migrations up to date/);
    // The all-in-one needs a writable data dir, chDB and Java; the production image has none of
    // them (read-only root filesystem): it must say so, exit 2, no stack trace. The image listens
    // on 0.0.0.0, so without keys it first refuses the published dev keys; the other cases set them.
    const keys = ['-e', `TRACKHOUSE_WRITE_KEYS=${WRITE_KEY}:image`, '-e', `TRACKHOUSE_READ_KEYS=${READ_KEY}`, '-e', 'TRACKHOUSE_ADMIN_KEYS=image-admin-key:image'];
    for (const [what, extra, says] of [
      ['start (the image\'s HOST=0.0.0.0, no keys)', [], /^trackhouse: HOST=0\.0\.0\.0 is reachable from other machines, and TRACKHOUSE_WRITE_KEYS, TRACKHOUSE_READ_KEYS, TRACKHOUSE_ADMIN_KEYS are unset/m],
      ['start (keys set; read-only /app: no data dir)', keys, /cannot use \/app\/\.trackhouse as the data dir .*TRACKHOUSE_DATA_DIR/],
      ['start (keys set; TRACKHOUSE_DATA_DIR=/tmp/th, no KAFKA_BROKERS, no CLICKHOUSE_URL)', [...keys, '-e', 'TRACKHOUSE_DATA_DIR=/tmp/th'], /^trackhouse: java was not found/m],
    ] as const) {
      const r = await docker(['run', '--rm', ...hardened, ...extra, TAG, 'start'], { allowFail: true, timeoutMs: 180_000 });
      const ok = r.code === 2 && says.test(r.out) && !/^\s+at /m.test(r.out);
      const said = r.out.split('\n').find((l) => l.startsWith('trackhouse: ')) ?? r.out.trim().split('\n').slice(-1)[0]!;
      results.push({ command: what, result: `${ok ? 'ok' : 'UNEXPECTED'}: exit ${r.code}; ${said.slice(0, 300)}` });
      if (!ok) throw new Error(`${what}: expected exit 2 with a message, got ${r.code}:\n${r.out.slice(-2000)}`);
    }
    for (const role of ['sink', 'query', 'alerts', 'ingest'] as const) {
      const t = performance.now();
      const id = (await docker(['run', '-d', '--name', `${TAG.replace(/[:]/g, '-')}-${role}`, ...hardened, ...volumes[role]!, ...envArgs, TAG, role])).out.trim();
      containers.push({ role, id, port: ports[role] });
      const deadline = Date.now() + 120_000;
      const urls = [`http://127.0.0.1:${ports[role]}/healthz`, `http://127.0.0.1:${ports[role]}/readyz`];
      while (!(await answers(urls[0]!)) || !(await answers(urls[1]!))) {
        if (Date.now() > deadline) throw new Error(`${role} not ready in its container:\n${(await docker(['logs', id], { allowFail: true })).out.slice(-3000)}`);
        await sleep(500);
      }
      results.push({ command: role, result: `ok: /healthz and /readyz 200 on 127.0.0.1:${ports[role]} ${secs(t)} after docker run` });
    }
    const user = `image-smoke-${randomBytes(3).toString('hex')}`;
    const sent = await fetch(`http://127.0.0.1:${ports.ingest}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
      body: JSON.stringify({ userId: user, event: 'Image Smoke', messageId: `${user}-1` }),
    });
    if (sent.status !== 200) throw new Error(`POST /v1/track through the container: ${sent.status} ${await sent.text()}`);
    const tSent = performance.now();
    const auth = { authorization: `Bearer ${READ_KEY}` };
    for (const [what, url, found] of [
      ['query: GET /v1/users/{id}/events', `http://127.0.0.1:${ports.query}/v1/users/${user}/events`, (b: unknown) => (b as { events?: { event_id: string }[] }).events?.some((e) => e.event_id === `${user}-1`) === true],
      ['alerts: GET /v1/volume?by=event', `http://127.0.0.1:${ports.alerts}/v1/volume?by=event&window=minute`, (b: unknown) => (b as { rows?: { key: string; events: number }[] }).rows?.some((r) => r.key === 'Image Smoke' && r.events >= 1) === true],
    ] as const) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await fetch(url, { headers: auth });
        const body = (await r.json()) as unknown;
        if (r.status === 200 && found(body)) break;
        if (Date.now() > deadline) throw new Error(`the event sent through ingest never showed in ${what}: ${r.status} ${JSON.stringify(body).slice(0, 500)}`);
        await sleep(500);
      }
      results.push({ command: `ingest -> ${what}`, result: `ok: POST /v1/track 200, then the event there ${secs(tSent)} later` });
    }
    await once(['replay', '--from', new Date(Date.now() - 3_600_000).toISOString()], 0, /"limitedBy"/);

    // Loopback only: every socket each long-running container's process holds (seen from the host,
    // whose network namespace --network host shares) has a loopback or unbound peer.
    const offLoopback: string[] = [];
    let sockets = 0;
    for (const c of containers) {
      const pid = Number((await docker(['inspect', c.id, '--format', '{{.State.Pid}}'])).out.trim());
      for (const s of socketsOf(pid)) {
        sockets++;
        if (!LOOPBACK.test(s.local) || !LOOPBACK.test(s.peer)) offLoopback.push(`${c.role}: ${s.line.trim()}`);
      }
    }
    const hostAddrs = execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' });
    const docker0 = /\bdocker0\b|\b172\.(1[6-9]|2\d|3[01])\./.test(hostAddrs);
    results.push({
      command: 'network',
      result: `${offLoopback.length === 0 && !docker0 ? 'ok' : 'UNEXPECTED'}: ${sockets} sockets of the 4 running containers, ${offLoopback.length} with a non-loopback address; host has ${docker0 ? 'a' : 'no'} docker0/172.16.0.0/12 address; engine networks ${networks.join(', ')}`,
    });
    if (offLoopback.length > 0) throw new Error(`sockets off loopback:\n${offLoopback.join('\n')}`);
    if (docker0) throw new Error(`the host has a docker0 or 172.16.0.0/12 address:\n${hostAddrs}`);

    for (const c of [...containers].reverse()) {
      const t = performance.now();
      await docker(['stop', '--time', '60', c.id], { timeoutMs: 90_000 });
      const code = (await docker(['inspect', c.id, '--format', '{{.State.ExitCode}}'])).out.trim();
      results.push({ command: `docker stop ${c.role}`, result: `${code === '0' ? 'ok' : 'UNEXPECTED'}: exit ${code} after ${secs(t)}` });
      if (code !== '0') throw new Error(`${c.role} exited ${code} on SIGTERM:\n${(await docker(['logs', c.id], { allowFail: true })).out.slice(-3000)}`);
    }
    say('\n| command (in the container) | result |\n| --- | --- |');
    for (const r of results) say(`| ${r.command} | ${r.result.replace(/\|/g, '\\|')} |`);
    say('\nimage-smoke passed');
  } catch (err) {
    for (const r of results) say(`  ${r.command}: ${r.result}`);
    say(`image-smoke FAILED: ${(err as Error).message}`);
    process.exitCode = 1;
  } finally {
    for (const c of containers) await docker(['rm', '-f', c.id], { allowFail: true });
    if (!process.env.TRACKHOUSE_IMAGE_KEEP) await docker(['rmi', TAG], { allowFail: true });
    await clickhouse.stop();
    await broker.stop();
    ws.dispose();
  }
}

await main();
