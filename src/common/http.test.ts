// The operational routes every server shares, on the wire: HEAD answers with GET's status and
// headers and no body (a body would be read as the next answer on a keep-alive connection), other
// methods get 405 naming the allowed ones, and unknown paths a JSON 404 instead of a closed socket;
// and the one reading of Bearer and Basic credentials.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exchange, type RawRequest } from '../../test/support/raw-http.js';
import { createRegistry } from './metrics.js';
import { acceptsGzip, basicCredentials, bearerToken, startOpsServer, type OpsServer } from './http.js';

let server: OpsServer;
let ready = true;

beforeAll(async () => {
  const options = {
    registry: createRegistry('ops-test', false),
    checks: [{ name: 'dependency', check: async () => (ready ? undefined : Promise.reject(new Error('down'))) }],
    host: '127.0.0.1',
    port: 0,
    portVariable: 'SINK_PORT',
  };
  server = await startOpsServer(options);
});

afterAll(() => server?.close());

const get = (path: string): RawRequest => ({ method: 'GET', path });
const head = (path: string): RawRequest => ({ method: 'HEAD', path });

it('answers HEAD on /healthz, /readyz and /metrics as GET, with the length and without the body', async () => {
  const answers = await exchange(server.port, [
    get('/healthz'),
    head('/healthz'),
    get('/readyz'),
    head('/readyz'),
    get('/metrics'),
    head('/metrics'),
    get('/healthz'),
  ]);
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200, 200]);
  for (const i of [0, 2, 4]) {
    const [full, bodyless] = [answers[i]!, answers[i + 1]!];
    expect(bodyless.body).toBe('');
    expect(bodyless.headers['content-length']).toBe(String(Buffer.byteLength(full.body)));
    expect(bodyless.headers['content-type']).toBe(full.headers['content-type']);
  }
  expect(JSON.parse(answers[0]!.body)).toEqual({ status: 'ok' });
  expect(answers[6]!.body).toBe('{"status":"ok"}');
});

it('answers HEAD /readyz with 503 while a dependency is down', async () => {
  ready = false;
  try {
    const [full, bodyless] = await exchange(server.port, [get('/readyz'), head('/readyz')]);
    expect(full!.status).toBe(503);
    expect(JSON.parse(full!.body)).toMatchObject({ ready: false, checks: { dependency: 'down' } });
    expect(bodyless!.status).toBe(503);
    expect(bodyless!.body).toBe('');
  } finally {
    ready = true;
  }
});

it('answers other methods on the operational paths with 405 and Allow: GET, HEAD', async () => {
  const answers = await exchange(server.port, [
    { method: 'POST', path: '/healthz', body: '{}' },
    { method: 'DELETE', path: '/metrics' },
    { method: 'PUT', path: '/readyz', body: 'x' },
    get('/healthz'),
  ]);
  expect(answers.map((a) => a.status)).toEqual([405, 405, 405, 200]);
  for (const a of answers.slice(0, 3)) {
    expect(a.headers.allow).toBe('GET, HEAD');
    expect(JSON.parse(a.body)).toEqual({ error: 'method_not_allowed', message: 'only GET and HEAD are supported here' });
  }
});

it('answers unknown paths with a JSON 404, and HEAD of one without a body', async () => {
  const answers = await exchange(server.port, [get('/nope'), head('/nope'), { method: 'POST', path: '/v1/track', body: '{}' }, get('/healthz')]);
  expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 200]);
  expect(JSON.parse(answers[0]!.body)).toEqual({ error: 'not_found', message: 'no route for GET /nope' });
  expect(answers[1]!.body).toBe('');
  // The body HEAD leaves out is the one GET gets (RFC 9110 9.3.2: GET's header fields).
  expect(answers[1]!.headers['content-length']).toBe(String(Buffer.byteLength(answers[0]!.body)));
  expect(JSON.parse(answers[2]!.body)).toEqual({ error: 'not_found', message: 'no route for POST /v1/track' });
});

it('says X-Content-Type-Options: nosniff on every answer: 200, 503, 405, 404 and the metrics text', async () => {
  ready = false;
  try {
    const answers = await exchange(server.port, [get('/healthz'), get('/readyz'), get('/metrics'), { method: 'POST', path: '/healthz', body: '{}' }, get('/nope')]);
    expect(answers.map((a) => [a.status, a.headers['x-content-type-options']])).toEqual([
      [200, 'nosniff'],
      [503, 'nosniff'],
      [200, 'nosniff'],
      [405, 'nosniff'],
      [404, 'nosniff'],
    ]);
  } finally {
    ready = true;
  }
});

it('reads a Bearer token and Basic credentials as every server here takes them', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  expect(['Bearer k', 'bearer  k ', 'BEARER k'].map(bearerToken)).toEqual(['k', 'k', 'k']);
  expect(['', 'Bearer', 'Bearer a b', 'Basic k', 'Token k'].map(bearerToken)).toEqual([null, null, null, null, null]);
  expect(basicCredentials(`Basic ${b64('key:')}`)).toEqual({ user: 'key', password: '' });
  expect(basicCredentials(` basic  ${b64('me:se:cret')} `)).toEqual({ user: 'me', password: 'se:cret' });
  expect(basicCredentials(`Basic ${b64('key')}`)).toEqual({ user: 'key', password: null });
  expect(Buffer.from('??>:').toString('base64url')).toBe('Pz8-Og');
  expect(basicCredentials('Basic Pz8-Og')).toEqual({ user: '??>', password: '' });
  expect(['', 'Basic', 'Basic !!', 'Bearer k'].map(basicCredentials)).toEqual([null, null, null, null]);
});

it('acceptsGzip takes gzip (or *) listed with a q above 0, whatever the case and spacing', () => {
  for (const h of ['gzip', 'gzip, deflate, br', 'br;q=1.0, GZIP;q=0.5', '*', 'x-gzip', 'deflate, *;q=0.1']) expect(acceptsGzip(h), h).toBe(true);
  for (const h of ['', 'identity', 'br, deflate', 'gzip;q=0', 'gzip; q=0.000', '*;q=0', 'gzip;q=0, *']) expect(acceptsGzip(h), h).toBe(false);
});
