// TLS in transit: the ingest edge and the query API over HTTPS with a certificate made by openssl
// for this run (a CA and two server certificates it signed), checked by clients that verify it
// (Node's https with `ca`, curl --cacert). Events go in through /v1/batch over HTTPS and come back
// through /v1/users/{id}/events over HTTPS; SIGHUP swaps the certificate of a running
// `trackhouse ingest` while a keep-alive connection stays open; HTTP and HTTPS on ports of their own.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, tempDir, uniqueTopicEnv } from '../support/env.js';
import { READ_KEY, startPipeline, type ApiEvent } from './pipeline-support.js';
import { startHarness } from './query-helpers.js';

const MAIN = path.resolve('dist/cli/main.js');
const WRITE_AUTH = `Basic ${Buffer.from('test-write-key:').toString('base64')}`;
const OPENSSL = spawnSync('openssl', ['version']).status === 0;
const CURL = spawnSync('curl', ['--version']).status === 0;
if (!OPENSSL) console.warn('tls.test.ts: SKIPPED, the openssl command is missing (apt-get install openssl): it makes the test certificates');

interface Certs {
  dir: string;
  ca: Buffer;
  /** The files the server is given (TLS_CERT_FILE, TLS_KEY_FILE); tests copy a leaf over them. */
  certFile: string;
  keyFile: string;
  leaf(n: 1 | 2): { cert: string; key: string };
}

const dir = tempDir('trackhouse-tls-');
afterAll(() => dir.remove());

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir.path, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A CA, two server certificates it signed for localhost and 127.0.0.1, the first one in place. */
function makeCerts(): Certs {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=trackhouse test CA']);
  writeFileSync(path.join(dir.path, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const n of [1, 2]) {
    openssl(['req', ...ec, '-keyout', `leaf${n}.key`, '-out', `leaf${n}.csr`, '-subj', '/CN=localhost']);
    openssl(['x509', '-req', '-in', `leaf${n}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(1000 + n), '-days', '2', '-extfile', 'san.cnf', '-out', `leaf${n}.crt`]);
  }
  const leaf = (n: 1 | 2) => ({ cert: path.join(dir.path, `leaf${n}.crt`), key: path.join(dir.path, `leaf${n}.key`) });
  const certs: Certs = {
    dir: dir.path,
    ca: readFileSync(path.join(dir.path, 'ca.crt')),
    certFile: path.join(dir.path, 'server.crt'),
    keyFile: path.join(dir.path, 'server.key'),
    leaf,
  };
  use(certs, 1);
  return certs;
}

/** Puts leaf `n` where the server reads its files. */
function use(certs: Certs, n: 1 | 2): void {
  copyFileSync(certs.leaf(n).key, certs.keyFile);
  copyFileSync(certs.leaf(n).cert, certs.certFile);
}

/** The serial number of leaf `n`, as Node's getPeerCertificate() shows it. */
const SERIAL = { 1: (1001).toString(16).toUpperCase().padStart(4, '0'), 2: (1002).toString(16).toUpperCase().padStart(4, '0') };

interface Answer {
  status: number;
  body: string;
  /** Serial number of the certificate the server showed. */
  serial: string;
  socket: TLSSocket;
}

/** One HTTPS request, verified against the test CA (`agent`: a keep-alive agent to reuse its connection). */
function httpsCall(port: number, ca: Buffer, method: string, urlPath: string, headers: Record<string, string>, body?: string, agent?: https.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path: urlPath, headers, ca, agent: agent ?? false }, (res) => {
      const socket = res.socket as TLSSocket;
      const serial = socket.getPeerCertificate().serialNumber;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), serial, socket }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function batchBody(userId: string, n: number): string {
  const batch = Array.from({ length: n }, (_, i) => ({ type: 'track', userId, event: 'TLS Checked', messageId: randomUUID(), properties: { i } }));
  return JSON.stringify({ batch });
}

const postBatch = (port: number, ca: Buffer, userId: string, n: number, agent?: https.Agent) =>
  httpsCall(port, ca, 'POST', '/v1/batch', { 'content-type': 'application/json', authorization: WRITE_AUTH }, batchBody(userId, n), agent);

/** A user's events through the query API over HTTPS, once at least `count` are visible. */
async function eventsOver(port: number, ca: Buffer, userId: string, count: number): Promise<ApiEvent[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const a = await httpsCall(port, ca, 'GET', `/v1/users/${userId}/events?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`, { authorization: `Bearer ${READ_KEY}` });
    if (a.status !== 200) throw new Error(`query API answered ${a.status}: ${a.body}`);
    const events = (JSON.parse(a.body) as { events: ApiEvent[] }).events;
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Plain HTTP GET; resolves with the status, or the error's code. */
function httpStatus(port: number, urlPath: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe.skipIf(!OPENSSL)('TLS in transit', () => {
  let certs: Certs;
  beforeAll(() => {
    certs = makeCerts();
  });

  it('takes a batch over HTTPS on every ingest thread and serves it back over HTTPS, to clients that verify the certificate', async () => {
    use(certs, 1);
    const p = await startPipeline({ TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile, INGEST_THREADS: '2' });
    try {
      const ingestPort = p.ingest.handle.port;
      const queryPort = p.query.port;
      expect(p.ingest.handle.tlsPort).toBeNull();
      // Several connections, so both threads' SO_REUSEPORT sockets answer some: each has TLS.
      const acks = await Promise.all(Array.from({ length: 8 }, (_, i) => postBatch(ingestPort, certs.ca, 'tls-user', 5)));
      expect(acks.map((a) => a.status)).toEqual(Array(8).fill(200));
      expect(acks.every((a) => a.serial === SERIAL[1])).toBe(true);
      const events = await eventsOver(queryPort, certs.ca, 'tls-user', 40);
      expect(events).toHaveLength(40);
      expect(new Set(events.map((e) => e.event))).toEqual(new Set(['TLS Checked']));
      // Plain HTTP on an HTTPS port gets no answer.
      expect(typeof (await httpStatus(ingestPort, '/healthz'))).toBe('string');
      expect(typeof (await httpStatus(queryPort, '/healthz'))).toBe('string');
      // A client that does not trust the CA refuses the server.
      await expect(httpsCall(queryPort, Buffer.from(''), 'GET', '/healthz', {})).rejects.toThrow(/certificate/i);

      // The query API swaps its certificate too: the open keep-alive connection stays, new ones get the new one.
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const health = (a?: https.Agent) => httpsCall(queryPort, certs.ca, 'GET', '/healthz', {}, undefined, a);
        const before = await health(agent);
        use(certs, 2);
        await p.query.reloadTls();
        const sameConnection = await health(agent);
        const fresh = await health();
        expect([before.status, sameConnection.status, fresh.status]).toEqual([200, 200, 200]);
        expect(sameConnection.socket).toBe(before.socket);
        expect(sameConnection.serial).toBe(SERIAL[1]);
        expect(fresh.serial).toBe(SERIAL[2]);
        expect((await eventsOver(queryPort, certs.ca, 'tls-user', 40)).length).toBe(40);
      } finally {
        agent.destroy();
      }

      if (!CURL) {
        console.warn('tls.test.ts: curl is missing, its --cacert check is skipped');
        return;
      }
      const curl = spawnSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(certs.dir, 'ca.crt'), '-u', 'test-write-key:', '-H', 'content-type: application/json', '--data', batchBody('tls-curl', 3), `https://localhost:${ingestPort}/v1/batch`], { encoding: 'utf8' });
      expect(curl.stderr).toBe('');
      expect(curl.stdout).toBe('200');
      expect(await eventsOver(queryPort, certs.ca, 'tls-curl', 3)).toHaveLength(3);
    } finally {
      await p.close();
    }
  });

  it('serves HTTP and HTTPS on ports of their own when INGEST_TLS_PORT and QUERY_TLS_PORT are set', async () => {
    use(certs, 1);
    const p = await startPipeline({ TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile, INGEST_TLS_PORT: '0', QUERY_TLS_PORT: '0' });
    try {
      const ingest = p.ingest.handle;
      const query = p.query;
      expect(ingest.tlsPort).toEqual(expect.any(Number));
      expect(query.tlsPort).toEqual(expect.any(Number));
      expect(ingest.tlsPort).not.toBe(ingest.port);
      expect(query.tlsPort).not.toBe(query.port);
      // In over HTTPS, out over plain HTTP, and the other way round.
      expect((await postBatch(ingest.tlsPort!, certs.ca, 'tls-both-a', 4)).status).toBe(200);
      expect(await p.eventsOf('tls-both-a', 4)).toHaveLength(4);
      const plain = await fetch(`http://127.0.0.1:${ingest.port}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: WRITE_AUTH }, body: batchBody('tls-both-b', 3) });
      expect(plain.status).toBe(200);
      expect(await eventsOver(query.tlsPort!, certs.ca, 'tls-both-b', 3)).toHaveLength(3);
      // Each port speaks one protocol.
      expect(await httpStatus(ingest.port, '/healthz')).toBe(200);
      expect(await httpStatus(query.port, '/healthz')).toBe(200);
      expect(typeof (await httpStatus(ingest.tlsPort!, '/healthz'))).toBe('string');
      await expect(httpsCall(ingest.port, certs.ca, 'GET', '/healthz', {})).rejects.toThrow();
    } finally {
      await p.close();
    }
  });

  it('serves GraphQL on the HTTP and the HTTPS port and after a reload, with one fast-page metric registered for all of them', async () => {
    use(certs, 1);
    // The routes are added to each app: the plain port's, the HTTPS port's, each reloaded
    // certificate's; a metric registered per app threw at the second. No view here: the pages are
    // executed, so the metric's value (0) says nothing; graphql-clients.test.ts counts fast pages.
    const h = await startHarness({ graphql: true, env: { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile, QUERY_TLS_PORT: '0' } });
    try {
      const tlsPort = h.server.tlsPort!;
      const body = JSON.stringify({ query: '{ user(id: "tls-gql") { events(first: 5) { edges { cursor } } } }' });
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${READ_KEY}` };
      const plain = await fetch(`${h.base}/graphql`, { method: 'POST', headers, body });
      expect([plain.status, await plain.json()]).toEqual([200, { data: { user: { events: { edges: [] } } } }]);
      const before = await httpsCall(tlsPort, certs.ca, 'POST', '/graphql', headers, body);
      expect([before.status, before.serial]).toEqual([200, SERIAL[1]]);
      use(certs, 2);
      await h.server.reloadTls();
      const after = await httpsCall(tlsPort, certs.ca, 'POST', '/graphql', headers, body);
      expect([after.status, after.serial, JSON.parse(after.body)]).toEqual([200, SERIAL[2], { data: { user: { events: { edges: [] } } } }]);
      const metric = (await h.registry.metrics()).split('\n').filter((l) => l.startsWith('trackhouse_graphql_fast_pages_total'));
      expect(metric).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  describe('trackhouse ingest on SIGHUP', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
    });

    it('serves the new certificate to new connections, keeps open keep-alive connections, and keeps the old one when the new files are bad', async () => {
      if (!existsSync(MAIN)) throw new Error('dist/cli/main.js is missing: run npm run build first (npm test does)');
      use(certs, 1);
      const proc = spawn(process.execPath, [MAIN, 'ingest'], {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          LOG_LEVEL: 'info',
          HOST: '127.0.0.1',
          INGEST_PORT: '0',
          INGEST_THREADS: '2',
          KAFKA_BROKERS: kafkaBrokers().join(','),
          KAFKA_PARTITIONS: '3',
          TRACKHOUSE_WRITE_KEYS: 'test-write-key:test',
          TLS_CERT_FILE: certs.certFile,
          TLS_KEY_FILE: certs.keyFile,
          ...uniqueTopicEnv('tls'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      const lines: Record<string, unknown>[] = [];
      let out = '';
      let pending = '';
      const waiters: { test: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        pending += d.toString();
        const parts = pending.split('\n');
        pending = parts.pop()!;
        for (const text of parts) {
          let line: Record<string, unknown>;
          try {
            line = JSON.parse(text) as Record<string, unknown>;
          } catch {
            continue;
          }
          lines.push(line);
          for (const w of waiters.splice(0)) (w.test(line) ? w.resolve(line) : waiters.push(w));
        }
      });
      proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      /** The next log line (from now on, or already seen after `from`) matching `test`. */
      const logLine = (test: (l: Record<string, unknown>) => boolean, from = 0) =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const seen = lines.slice(from).find(test);
          if (seen) return resolve(seen);
          waiters.push({ test, resolve });
          void exited.then((code) => reject(new Error(`trackhouse ingest exited (${code}):\n${out}`)));
        });

      const listening = await logLine((l) => l['msg'] === 'ingest listening');
      expect(String(listening['url'])).toMatch(/^https:/);
      const port = Number(new URL(String(listening['url'])).port);

      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const first = await postBatch(port, certs.ca, 'tls-hup', 2, agent);
        expect(first.status).toBe(200);
        expect(first.serial).toBe(SERIAL[1]);

        use(certs, 2);
        let mark = lines.length;
        proc.kill('SIGHUP');
        await logLine((l) => l['msg'] === 'reloaded' && l['part'] === 'ingest', mark);
        const kept = await postBatch(port, certs.ca, 'tls-hup', 2, agent);
        expect(kept.status).toBe(200);
        expect(kept.socket).toBe(first.socket);
        expect(kept.serial).toBe(SERIAL[1]);
        // Several new connections, so both threads answer some: each thread has the new certificate.
        const fresh = await Promise.all(Array.from({ length: 8 }, () => postBatch(port, certs.ca, 'tls-hup', 1)));
        expect(fresh.map((a) => [a.status, a.serial])).toEqual(Array(8).fill([200, SERIAL[2]]));

        // A broken certificate file: the reload fails, says which setting, and nothing changes.
        writeFileSync(certs.certFile, 'not a certificate\n');
        mark = lines.length;
        proc.kill('SIGHUP');
        const failed = await logLine((l) => l['msg'] === 'reload failed: the part keeps its previous certificate', mark);
        expect(JSON.stringify(failed['err'])).toContain('TLS_CERT_FILE');
        const after = await postBatch(port, certs.ca, 'tls-hup', 1);
        expect([after.status, after.serial]).toEqual([200, SERIAL[2]]);
        const stillKept = await postBatch(port, certs.ca, 'tls-hup', 1, agent);
        expect(stillKept.socket).toBe(first.socket);
        expect(stillKept.status).toBe(200);
      } finally {
        agent.destroy();
      }
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    });
  });
});
