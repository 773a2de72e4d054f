// HEAD on the ingest and query servers, on one keep-alive connection as clients reuse it: every
// GET route answers HEAD with the status and headers GET gets (Content-Length: the length of GET's
// body; auth and parameter errors alike) and no body, so the next answer on the connection is read
// intact (uWS would send the body, which a client then takes for the next answer's start). Each
// 405 lists HEAD in Allow where GET is allowed (and OPTIONS on the query port's API routes: CORS
// preflights, test/integration/query-cors.test.ts).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { paramError } from '../../src/stream/index.js';
import { exchange, type RawAnswer, type RawRequest } from '../support/raw-http.js';
import { BASIC, startTestIngest, WRITE_KEY, type TestIngest } from './ingest-support.js';
import { ADMIN_KEY, insertRows, READ_KEY, startWholePort, type Harness } from './query-helpers.js';

let ingest: TestIngest;
let query: Harness;

beforeAll(async () => {
  ingest = await startTestIngest();
  // The stream's answers: one at once, one later (as the hosted stream's thread does).
  query = await startWholePort((route, q) => {
    if (q.includes('bad')) throw paramError('bad', 'unknown parameter "bad"');
    return route === 'volume' ? '{"rows":[],"caught_up":true}' : Promise.resolve('{"rules":[],"notifications":[]}');
  });
  await insertRows(query.ch, [
    { event_id: 'e1', user_id: 'alice', timestamp: Date.UTC(2026, 0, 2), properties: '{"plan":"pro"}' },
    { event_id: 'e2', user_id: 'alice', timestamp: Date.UTC(2026, 0, 3) },
    { event_id: 'e3', user_id: 'a/b %c é', timestamp: Date.UTC(2026, 0, 3) },
  ]);
});

afterAll(async () => {
  await query?.close();
  await ingest?.close();
});

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const read = bearer(READ_KEY);

/** The headers a HEAD answer must repeat: all of GET's but Date (the clock moves). */
function comparable(a: RawAnswer): Record<string, string> {
  const { date: _date, ...rest } = a.headers;
  return rest;
}

/** GET, HEAD, GET of `path` on one connection: HEAD has GET's status and headers and no body, and the connection stays usable. */
async function expectHeadLikeGet(port: number, path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const get: RawRequest = { method: 'GET', path, headers };
  const [first, head, again] = await exchange(port, [get, { ...get, method: 'HEAD' }, get]);
  expect(head!.body, `HEAD ${path}`).toBe('');
  expect(head!.status, `HEAD ${path}`).toBe(first!.status);
  expect(comparable(head!), `HEAD ${path}`).toEqual(comparable(first!));
  expect(Number(head!.headers['content-length']), `HEAD ${path}`).toBe(first!.bodyBytes.length);
  expect(again!.body, `GET ${path} after the HEAD`).toBe(first!.body);
  return first!;
}

it('query: every GET route answers HEAD with its GET status and headers, no body, for answers, auth errors and bad parameters', async () => {
  const port = query.server.port;
  const cases: [string, Record<string, string>, number][] = [
    ['/v1/users/alice/events', read, 200],
    ['/v1/users/alice/events?limit=1', read, 200],
    ['/v1/users/alice/events?limit=zz', read, 400],
    ['/v1/users/alice/events', {}, 401],
    ['/v1/users/alice/events', bearer('wrong'), 401],
    ['/v1/rollups/daily?by=event', read, 200],
    ['/v1/rollups/daily?by=nothing', read, 400],
    [`/graphql?query=${encodeURIComponent('{ user(id: "alice") { events(first: 1) { edges { node { event } } } } }')}`, read, 200],
    ['/graphql', read, 400],
    ['/graphql?query=%7B__typename%7D', {}, 401],
    [`/graphql?extensions=${encodeURIComponent('{"persistedQuery":{"version":1,"sha256Hash":"00"}}')}`, read, 200],
    ['/v1/volume', read, 200],
    ['/v1/volume?bad=1', read, 400],
    ['/v1/alerts', read, 200],
    ['/v1/alerts', {}, 401],
    ['/v1/regulations/reg_1', bearer(ADMIN_KEY), 200],
    ['/v1/regulations/reg_2', bearer(ADMIN_KEY), 404],
    ['/v1/regulations/reg_1', read, 401],
    ['/regulations/reg_1', bearer(ADMIN_KEY), 200],
    ['/regulations/reg_2', bearer(ADMIN_KEY), 404],
    ['/v1/regulations/%ZZ', bearer(ADMIN_KEY), 400],
    ['/regulations/%ZZ', bearer(ADMIN_KEY), 400],
    ['/v1/audit?limit=5', bearer(ADMIN_KEY), 200],
    ['/v1/audit?limit=0', bearer(ADMIN_KEY), 400],
    ['/v1/pipeline', {}, 401],
    ['/dashboard', {}, 200],
    ['/healthz', {}, 200],
    ['/metrics', {}, 200],
  ];
  for (const [path, headers, status] of cases) {
    const get = await expectHeadLikeGet(port, path, headers);
    expect(get.status, `GET ${path}`).toBe(status);
  }
});

it('query: HEAD of an unknown path is a bodyless 404 with its GET headers; other methods get 405 with Allow listing HEAD beside GET', async () => {
  const port = query.server.port;
  expect((await expectHeadLikeGet(port, '/v1/nothing', read)).status).toBe(404);
  const allowed: [string, string, string][] = [
    ['POST', '/v1/users/alice/events', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/v1/rollups/daily', 'GET, HEAD, OPTIONS'],
    ['PUT', '/graphql', 'GET, HEAD, POST, OPTIONS'],
    ['POST', '/v1/volume', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/v1/alerts', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/v1/regulations/reg_1', 'GET, HEAD, OPTIONS'],
    ['POST', '/v1/audit', 'GET, HEAD, OPTIONS'],
    ['GET', '/v1/regulations', 'POST, OPTIONS'],
    ['GET', '/regulations', 'POST, OPTIONS'],
    ['DELETE', '/regulations/reg_1', 'GET, HEAD, OPTIONS'],
    ['POST', '/v1/pipeline', 'GET, HEAD, OPTIONS'],
    ['POST', '/dashboard', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/healthz', 'GET, HEAD'],
  ];
  const answers = await exchange(port, allowed.map(([method, path]) => ({ method, path, headers: bearer(ADMIN_KEY), ...(method === 'GET' ? {} : { body: '' }) })));
  expect(answers.map((a) => [a.status, a.headers.allow])).toEqual(allowed.map(([, , allow]) => [405, allow]));
  for (const a of answers) expect(JSON.parse(a.body)).toMatchObject({ error: 'method_not_allowed' });
});

it('query: HEAD of a user id with /, %, a space and non-ASCII (percent-encoded) matches its GET', async () => {
  const get = await expectHeadLikeGet(query.server.port, `/v1/users/${encodeURIComponent('a/b %c é')}/events`, read);
  expect(JSON.parse(get.body).events.map((e: { event_id: string }) => e.event_id)).toEqual(['e3']);
});

it('ingest: its GET routes answer HEAD as GET, for known and unknown keys; 405s list HEAD where GET is allowed', async () => {
  const port = ingest.handle.port;
  const pixel = Buffer.from(JSON.stringify({ writeKey: WRITE_KEY, event: 'Opened', userId: 'head-user' })).toString('base64');
  for (const [path, status] of [
    [`/v1/projects/${WRITE_KEY}/settings`, 200],
    ['/v1/projects/nobody/settings', 200], // without Origin (not a page): settings for any key (edge.ts analyticsSettings)
    [`/array/${WRITE_KEY}/config`, 200],
    [`/array/${WRITE_KEY}/config.js`, 200],
    ['/array/nobody/config', 401],
    [`/analytics.js/v1/${WRITE_KEY}/analytics.min.js`, 200],
    ['/analytics.js/v1/nobody/analytics.min.js', 401],
    ['/analytics-next/bundles/standalone.js.map', 200],
    ['/analytics-next/bundles/nope.js', 404],
    ['/static/array.js', 200],
    ['/static/1/surveys.js', 200],
    ['/static/recorder.js', 404],
    [`/array/${WRITE_KEY}/array.js`, 200],
    ['/array/nobody/array.js', 401],
    ['/p.js', 200],
    [`/v1/pixel/track?data=${pixel}`, 200],
    ['/healthz', 200],
  ] as const) {
    const get = await expectHeadLikeGet(port, path);
    expect(get.status, `GET ${path}`).toBe(status);
  }
  const allowed: [string, string, string][] = [
    ['HEAD', '/v1/track', 'POST, OPTIONS'],
    ['POST', `/v1/projects/${WRITE_KEY}/settings`, 'GET, HEAD, OPTIONS'],
    ['PUT', `/array/${WRITE_KEY}/config`, 'GET, HEAD, OPTIONS'],
    ['POST', '/v1/pixel/track', 'GET, HEAD, OPTIONS'],
    ['PUT', '/e', 'GET, HEAD, POST, OPTIONS'],
    ['TRACE', '/flags', 'POST, OPTIONS'],
    ['GET', '/decide/', 'POST, OPTIONS'],
    ['PUT', '/readyz', 'GET, HEAD'],
  ];
  const answers = await exchange(port, allowed.map(([method, path]) => ({ method, path, ...(method === 'HEAD' ? {} : { body: '' }) })));
  expect(answers.map((a) => [a.status, a.headers.allow])).toEqual(allowed.map(([, , allow]) => [405, allow]));
  expect(answers[0]!.body).toBe('');
  const [notFound, preflight, flagsPreflight] = await exchange(port, [
    { method: 'HEAD', path: '/nope' },
    { method: 'OPTIONS', path: `/v1/projects/${WRITE_KEY}/settings`, headers: { Origin: 'https://site.example', 'Access-Control-Request-Method': 'GET' } },
    { method: 'OPTIONS', path: '/flags', headers: { Origin: 'https://site.example', 'Access-Control-Request-Method': 'POST' } },
  ]);
  expect([notFound!.status, notFound!.body]).toEqual([404, '']);
  expect([preflight!.status, preflight!.headers['access-control-allow-origin']]).toEqual([204, 'https://site.example']);
  expect([flagsPreflight!.status, flagsPreflight!.headers['access-control-allow-origin']]).toEqual([204, 'https://site.example']);
});

/** Each answer (status, X-Content-Type-Options as fetch joins repeated headers) of the requests. */
async function nosniffOf(base: string, requests: [string, RequestInit][]): Promise<[string, number, string | null][]> {
  const out: [string, number, string | null][] = [];
  for (const [path, init] of requests) {
    const res = await fetch(`${base}${path}`, init);
    await res.arrayBuffer();
    out.push([`${init.method ?? 'GET'} ${path}`, res.status, res.headers.get('x-content-type-options')]);
  }
  return out;
}

it('query: every answer with a body says X-Content-Type-Options: nosniff once (JSON answers and errors, GraphQL both paths, ops routes, dashboard)', async () => {
  const auth = { headers: read };
  const gql = (query: string): RequestInit => ({ method: 'POST', headers: { ...read, 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const answers = await nosniffOf(query.base, [
    ['/v1/users/alice/events', auth],
    ['/v1/users/alice/events?limit=zz', auth],
    ['/v1/users/alice/events', {}],
    ['/v1/rollups/daily?by=event', auth],
    ['/graphql', gql('{ user(id: "alice") { events(first: 1) { edges { node { event } } } } }')],
    ['/graphql', gql('{ __typename }')],
    ['/graphql', gql('{ nope }')],
    ['/graphql', { method: 'POST', headers: { ...read, 'content-type': 'application/json' }, body: '{' }],
    ['/graphql?query=%7B__typename%7D', {}],
    ['/v1/volume', auth],
    ['/v1/volume?bad=1', auth],
    ['/v1/alerts', auth],
    ['/v1/regulations/reg_1', { headers: bearer(ADMIN_KEY) }],
    ['/v1/pipeline', {}],
    ['/dashboard', {}],
    ['/v1/nothing', auth],
    ['/v1/users/alice/events', { method: 'POST', headers: read, body: '' }],
    ['/healthz', {}],
    ['/readyz', {}],
    ['/metrics', {}],
  ]);
  expect(answers.filter(([, , nosniff]) => nosniff !== 'nosniff')).toEqual([]);
  expect(new Set(answers.map(([, status]) => status))).toEqual(new Set([200, 400, 401, 404, 405]));
});

it('ingest: every answer with a body says X-Content-Type-Options: nosniff once, the fast 200 of a server SDK included', async () => {
  const json = { 'content-type': 'application/json' };
  const track = (extra: Record<string, string>, body = JSON.stringify({ event: 'Opened', userId: 'nosniff-user' })): RequestInit => ({
    method: 'POST',
    headers: { ...json, authorization: BASIC, ...extra },
    body,
  });
  const pixel = Buffer.from(JSON.stringify({ writeKey: WRITE_KEY, event: 'Opened', userId: 'nosniff-user' })).toString('base64');
  const answers = await nosniffOf(ingest.url, [
    ['/v1/track', track({})],
    ['/v1/track', track({ origin: 'https://site.example' })],
    ['/v1/track', track({}, '{')],
    ['/v1/track', { method: 'POST', headers: json, body: '{"event":"Opened","userId":"u"}' }],
    ['/v1/track', track({}, JSON.stringify({ event: 'Opened', userId: 'u', properties: { big: 'x'.repeat(40_000) } }))],
    [`/v1/pixel/track?data=${pixel}`, {}],
    [`/v1/projects/${WRITE_KEY}/settings`, {}],
    [`/analytics.js/v1/${WRITE_KEY}/analytics.min.js`, {}],
    ['/static/array.js', {}],
    ['/nope', {}],
    ['/v1/track', { method: 'PUT', body: '' }],
    ['/healthz', {}],
    ['/readyz', {}],
    ['/metrics', {}],
  ]);
  expect(answers.filter(([, , nosniff]) => nosniff !== 'nosniff')).toEqual([]);
  expect(answers.slice(0, 5).map(([, status]) => status)).toEqual([200, 200, 400, 401, 413]);
});
