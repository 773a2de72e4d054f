// The ingest and query ports as third-party clients use them: `Expect: 100-continue` (curl for
// large bodies, .NET, Java) is answered with 100 Continue before the body is sent, so the client
// does not wait for its timeout; chunked request bodies are read whole; several requests on one
// connection, pipelined ones included when each is answered at once; a compressed body on the
// query API's POSTs is refused with 415 rather than read as broken JSON.
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Regulation } from '../../src/erasure/index.js';
import { adminRoutes, type AdminDeps } from '../../src/regulations/index.js';
import { exchange, readAnswer, type RawAnswer } from '../support/raw-http.js';
import { BASIC, startTestIngest, type TestIngest } from './ingest-support.js';
import { READ_KEY, startHarness, type Harness } from './query-helpers.js';

const ADMIN_KEY = 'test-admin-key';

let ingest: TestIngest;
let query: Harness;

beforeAll(async () => {
  ingest = await startTestIngest();
  const submit = async (type: Regulation['type'], userIds: string[], actor: string): Promise<Regulation> => ({
    id: 'reg_1',
    type,
    status: 'finished',
    actor,
    userKeys: userIds,
    createdAt: 0,
    finishedAt: 0,
    counts: null,
    error: null,
  });
  query = await startHarness({
    graphql: true,
    routes: [adminRoutes({ adminKeys: new Map([[ADMIN_KEY, 'tester']]), timeoutMs: 10_000, deps: () => ({ executor: { submit } }) as unknown as AdminDeps })],
  });
});

afterAll(async () => {
  await query?.close();
  await ingest?.close();
});

/**
 * Sends a request's head with `Expect: 100-continue`, its body only once the server says
 * 100 Continue (as curl, .NET and Java clients do), and resolves with every answer: the interim
 * one first. A server that does not answer 100 leaves the promise pending (the test times out).
 */
function expectContinue(port: number, head: string, body: Buffer): Promise<RawAnswer[]> {
  return new Promise((resolve, reject) => {
    const answers: RawAnswer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${head}Expect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (let got = readAnswer(buf, false); got !== null; got = readAnswer(buf, false)) {
        answers.push(got.answer);
        buf = got.rest;
        if (got.answer.status === 100) socket.write(body);
        else {
          socket.end();
          return resolve(answers);
        }
      }
    });
    socket.on('error', reject);
    socket.on('end', () => reject(new Error(`the connection ended after ${answers.length} answers`)));
  });
}

const batch = Buffer.from(JSON.stringify({ batch: Array.from({ length: 20 }, (_, i) => ({ type: 'track', event: `e${i}`, userId: 'expect-user', properties: { pad: 'x'.repeat(100) } })) }));

it('ingest: a POST with Expect: 100-continue gets 100 Continue, then its answer once the body is sent', async () => {
  const answers = await expectContinue(ingest.handle.port, `POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${BASIC}\r\nContent-Type: application/json\r\n`, batch);
  expect(answers.map((a) => a.status)).toEqual([100, 200]);
  expect(JSON.parse(answers[1]!.body)).toEqual({ success: true });
});

it('query: POST /graphql and POST /v1/regulations with Expect: 100-continue get 100 Continue, then their answers', async () => {
  const graphql = Buffer.from(JSON.stringify({ query: '{ user(id: "nobody") { events(first: 1) { edges { node { event } } } } }' }));
  const g = await expectContinue(query.server.port, `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${READ_KEY}\r\nContent-Type: application/json\r\n`, graphql);
  expect(g.map((a) => a.status)).toEqual([100, 200]);
  expect(JSON.parse(g[1]!.body)).toEqual({ data: { user: { events: { edges: [] } } } });
  const regulation = Buffer.from(JSON.stringify({ type: 'suppress', user_ids: ['u1'] }));
  const r = await expectContinue(query.server.port, `POST /v1/regulations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\n`, regulation);
  expect(r.map((a) => a.status)).toEqual([100, 201]);
});

it('ingest: a chunked body (several chunks, gzip or not) is read whole; keep-alive carries the next requests', async () => {
  const chunked = (b: Buffer, size: number) => {
    const parts: Buffer[] = [];
    for (let i = 0; i < b.length; i += size) {
      const c = b.subarray(i, i + size);
      parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
    }
    return Buffer.concat([...parts, Buffer.from('0\r\n\r\n')]);
  };
  const answers = await new Promise<RawAnswer[]>((resolve, reject) => {
    const got: RawAnswer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    const request = (gz: boolean) =>
      Buffer.concat([
        Buffer.from(`POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${BASIC}\r\nTransfer-Encoding: chunked\r\n${gz ? 'Content-Encoding: gzip\r\n' : ''}\r\n`),
        chunked(gz ? gzipSync(batch) : batch, 700),
      ]);
    const requests = [request(false), request(true), Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')];
    const socket = net.connect(ingest.handle.port, '127.0.0.1', () => socket.write(requests[0]!));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (let a = readAnswer(buf, false); a !== null; a = readAnswer(buf, false)) {
        got.push(a.answer);
        buf = a.rest;
        if (got.length === requests.length) {
          socket.end();
          return resolve(got);
        }
        socket.write(requests[got.length]!);
      }
    });
    socket.on('error', reject);
    socket.on('end', () => reject(new Error(`the connection ended after ${got.length} answers`)));
  });
  expect(answers.map((a) => [a.status, a.body])).toEqual([
    [200, '{"success":true}'],
    [200, '{"success":true}'],
    [200, '{"status":"ok"}'],
  ]);
});

it('query: requests pipelined in one write are each answered, in order, HEAD included', async () => {
  // Answers given within their handler (uWS closes a connection whose next request arrives while
  // an answer is pending: pages from ClickHouse, as in this harness without a view, are).
  const requests: [string, string][] = [
    ['GET', '/healthz'],
    ['HEAD', '/healthz'],
    ['GET', '/v1/users/nobody/events'],
    ['HEAD', '/v1/users/nobody/events'],
    ['GET', '/nothing'],
  ];
  const answers = await new Promise<RawAnswer[]>((resolve, reject) => {
    const got: RawAnswer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    const head = () => requests[got.length]![0] === 'HEAD';
    const socket = net.connect(query.server.port, '127.0.0.1', () => socket.write(requests.map(([m, p]) => `${m} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).join('')));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (let a = readAnswer(buf, head()); a !== null; a = readAnswer(buf, head())) {
        got.push(a.answer);
        buf = a.rest;
        if (got.length === requests.length) {
          socket.end();
          return resolve(got);
        }
      }
    });
    socket.on('error', reject);
    socket.on('end', () => reject(new Error(`the connection ended after ${got.length} answers`)));
  });
  expect(answers.map((a) => a.status)).toEqual([200, 200, 401, 401, 404]);
  expect(answers.map((a) => a.body === '')).toEqual([false, true, false, true, false]);
  expect(answers[3]!.headers['content-length']).toBe(answers[2]!.headers['content-length']);
  expect(answers[3]!.headers['www-authenticate']).toBe(answers[2]!.headers['www-authenticate']);
});

it('query: a compressed body on a POST is refused with 415 (after the key is checked), and the connection serves the next request', async () => {
  const gz = gzipSync(JSON.stringify({ query: '{ __typename }' }));
  const answers = await exchange(query.server.port, [
    { method: 'POST', path: '/graphql', headers: { Authorization: `Bearer ${READ_KEY}`, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body: gz },
    { method: 'POST', path: '/graphql', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body: gz },
    { method: 'POST', path: '/v1/regulations', headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Encoding': 'gzip' }, body: gzipSync('{"type":"suppress","user_ids":["u1"]}') },
    { method: 'POST', path: '/graphql', headers: { Authorization: `Bearer ${READ_KEY}`, 'Content-Type': 'application/json', 'Content-Encoding': 'identity' }, body: JSON.stringify({ query: '{ __typename }' }) },
  ]);
  expect(answers.map((a) => [a.status, JSON.parse(a.body).error ?? null])).toEqual([
    [415, 'unsupported_encoding'],
    [401, 'unauthorized'],
    [415, 'unsupported_encoding'],
    [200, null],
  ]);
});
