// CORS and trailing slashes on the query port, on the wire (raw HTTP/1.1, as curl sends it): every
// route of the port (REST, GraphQL, the stream's, the admin routes, the dashboard, the schema
// registry) answers a preflight with 204 and the methods it takes, and every answer, errors
// included, carries Access-Control-Allow-Origin; QUERY_CORS_ORIGINS as `*` (the default), as a
// list of origins (echoed, Vary: Origin, others get nothing) and empty (off). A trailing slash
// answers the same bytes as the path without one; the ops routes stay as on every port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryRoutes } from '../../src/cli/components.js';
import { HttpError } from '../../src/common/errors.js';
import { exchange, type RawRequest } from '../support/raw-http.js';
import { tempDir, testConfig } from '../support/env.js';
import { bearer, corsOf, EXPOSED, expectAnyOriginOnEvery, GET_HEAD, headersBesidesDate, preflight, SITE, withSlash } from './cors-helpers.js';
import { ADMIN_KEY, insertRows, READ_KEY, startWholePort, type Harness } from './query-helpers.js';

const USER = 'a/b %c é';
const USER_PATH = `/v1/users/${encodeURIComponent(USER)}/events`;
const PAGE_QUERY = '{ user(id: "alice") { events(first: 2) { edges { node { eventId } } } } }';

let query: Harness;
const configDir = tempDir('trackhouse-cors-config-');

beforeAll(async () => {
  // The stream's answers: one at once, one later (as the hosted stream's thread), and a 503 for
  // `down` (not running yet).
  query = await startWholePort(
    (route, q) => {
      if (q.includes('down')) throw new HttpError('stream_unavailable', 'the stream processor is not running yet');
      return route === 'volume' ? '{"rows":[],"caught_up":true}' : Promise.resolve('{"rules":[],"notifications":[]}');
    },
    [registryRoutes(testConfig(configDir.path))],
  );
  await insertRows(query.ch, [
    { event_id: 'e1', user_id: 'alice', timestamp: Date.UTC(2026, 0, 2) },
    { event_id: 'e2', user_id: 'alice', timestamp: Date.UTC(2026, 0, 3) },
    { event_id: 'e3', user_id: USER, timestamp: Date.UTC(2026, 0, 3) },
  ]);
});

afterAll(async () => {
  await query?.close();
  configDir.remove();
});

const read = bearer(READ_KEY);
const admin = bearer(ADMIN_KEY);
const json = { 'Content-Type': 'application/json' };
const graphqlPost = (body: unknown, headers: Record<string, string> = read): RawRequest => ({ method: 'POST', path: '/graphql', headers: { ...headers, ...json }, body: JSON.stringify(body) });

/** Every route of the port and the methods it takes (its 405's Allow), with a method it does not take. */
const ROUTES: [path: string, methods: string, other: string][] = [
  ['/v1/users/alice/events', GET_HEAD, 'POST'],
  ['/v1/rollups/daily', GET_HEAD, 'DELETE'],
  ['/graphql', 'GET, HEAD, POST, OPTIONS', 'PUT'],
  ['/v1/volume', GET_HEAD, 'POST'],
  ['/v1/alerts', GET_HEAD, 'DELETE'],
  ['/v1/regulations', 'POST, OPTIONS', 'GET'],
  ['/v1/regulations/reg_1', GET_HEAD, 'DELETE'],
  ['/regulations', 'POST, OPTIONS', 'GET'],
  ['/regulations/reg_1', GET_HEAD, 'DELETE'],
  ['/v1/audit', GET_HEAD, 'POST'],
  ['/v1/pipeline', GET_HEAD, 'POST'],
  ['/dashboard', GET_HEAD, 'POST'],
  ['/dashboard/assets/build/app.js', GET_HEAD, 'POST'],
  // The registry's, path by path as Confluent's (src/registry/answers.ts registryMethods).
  ['/registry', GET_HEAD, 'POST'],
  ['/registry/subjects', GET_HEAD, 'PUT'],
  ['/registry/subjects/events-value', 'POST, DELETE, OPTIONS', 'GET'],
  ['/registry/subjects/events-value/versions', 'GET, HEAD, POST, OPTIONS', 'DELETE'],
  ['/registry/schemas/ids/1', GET_HEAD, 'PUT'],
  ['/registry/config', 'GET, HEAD, PUT, OPTIONS', 'PATCH'],
];

describe('QUERY_CORS_ORIGINS=* (the default)', () => {
  it('answers a preflight on every route, with and without a trailing slash: 204, any origin, its methods (as its 405 lists them), the headers asked for, a max age, no credentials', async () => {
    const port = query.server.port;
    for (const [path, methods, other] of ROUTES) {
      for (const p of path.includes('/assets/') ? [path] : [path, `${path}/`]) {
        const [pre, refused] = await exchange(port, [preflight(p, methods.split(', ')[0]), { method: other, path: p, headers: admin, ...(other === 'GET' ? {} : { body: '' }) }]);
        expect([pre!.status, pre!.body], `OPTIONS ${p}`).toEqual([204, '']);
        expect(corsOf(pre!), `OPTIONS ${p}`).toEqual({
          'access-control-allow-origin': '*',
          'access-control-expose-headers': EXPOSED,
          'access-control-allow-methods': methods,
          'access-control-allow-headers': 'authorization, content-type',
          'access-control-max-age': '86400',
          vary: 'Access-Control-Request-Headers',
        });
        expect(pre!.headers.allow, `OPTIONS ${p}`).toBe(methods);
        expect([refused!.status, refused!.headers.allow], `${other} ${p}`).toEqual([405, methods]);
        expect(refused!.headers['access-control-allow-origin'], `${other} ${p}`).toBe('*');
      }
    }
  });

  it('allows Authorization and Content-Type when a preflight names no headers, and never allows credentials', async () => {
    const [pre] = await exchange(query.server.port, [preflight('/graphql', 'POST', SITE, '')]);
    expect(pre!.status).toBe(204);
    expect(pre!.headers['access-control-allow-headers']).toBe('Authorization, Content-Type');
    expect(pre!.headers.vary).toBeUndefined();
    expect(pre!.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('puts Access-Control-Allow-Origin and the exposed headers on every answer, errors included, so a page reads them', async () => {
    const cases: [RawRequest, number][] = [
      [{ method: 'GET', path: '/v1/users/alice/events', headers: read }, 200],
      [{ method: 'GET', path: '/v1/users/alice/events', headers: { Origin: SITE } }, 401],
      [{ method: 'GET', path: '/v1/users/alice/events', headers: bearer('wrong') }, 401],
      [{ method: 'GET', path: '/v1/users/alice/events?limit=zz', headers: read }, 400],
      [{ method: 'HEAD', path: '/v1/users/alice/events', headers: read }, 200],
      [{ method: 'POST', path: '/v1/users/alice/events', headers: read, body: '' }, 405],
      [{ method: 'GET', path: '/v1/rollups/daily?by=event', headers: read }, 200],
      [{ method: 'GET', path: '/v1/rollups/daily?by=nothing', headers: read }, 400],
      [graphqlPost({ query: PAGE_QUERY }), 200],
      [graphqlPost({ query: '{ user(id: "alice") { nothing } }' }, { ...read, Accept: 'application/graphql-response+json' }), 400],
      [graphqlPost({ query: PAGE_QUERY }, {}), 401],
      [{ method: 'GET', path: `/graphql?query=${encodeURIComponent(PAGE_QUERY)}`, headers: read }, 200],
      [{ method: 'GET', path: '/v1/volume', headers: read }, 200],
      [{ method: 'GET', path: '/v1/volume?down=1', headers: read }, 503],
      [{ method: 'GET', path: '/v1/alerts', headers: read }, 200],
      [{ method: 'GET', path: '/v1/regulations/reg_1', headers: admin }, 200],
      [{ method: 'GET', path: '/v1/regulations/reg_2', headers: admin }, 404],
      [{ method: 'POST', path: '/v1/regulations', headers: read, body: '{}' }, 401],
      [{ method: 'GET', path: '/v1/audit?limit=5', headers: admin }, 200],
      [{ method: 'GET', path: '/v1/pipeline', headers: {} }, 401],
      [{ method: 'GET', path: '/dashboard', headers: {} }, 200],
      [{ method: 'GET', path: '/dashboard/assets/old-build/app.js', headers: {} }, 404],
      [{ method: 'GET', path: '/registry/subjects', headers: read }, 200],
      [{ method: 'GET', path: '/registry/subjects', headers: {} }, 401],
      [{ method: 'GET', path: '/v1/nothing', headers: read }, 404],
    ];
    const answers = await exchange(query.server.port, cases.map(([r]) => r));
    expectAnyOriginOnEvery(answers, cases, (a, what) => expect(a.headers.vary ?? '', what).not.toContain('Origin'));
    // What the exposed headers are there for.
    const retry = answers[cases.findIndex(([, s]) => s === 503)]!;
    expect(retry.headers['retry-after']).toBe('1');
    expect(answers[2]!.headers['www-authenticate']).toContain('invalid_token');
  });

  it('lets a preflight for a path no route takes through, so the page reads the 404 that follows; a plain OPTIONS there is a 404', async () => {
    const [pre, plain, missing] = await exchange(query.server.port, [
      preflight('/v1/user/alice/events', 'GET'),
      { method: 'OPTIONS', path: '/v1/user/alice/events' },
      { method: 'GET', path: '/v1/user/alice/events', headers: { ...read, Origin: SITE } },
    ]);
    expect([pre!.status, pre!.headers['access-control-allow-origin'], pre!.headers['access-control-allow-methods'], pre!.headers.allow]).toEqual([204, '*', 'GET', undefined]);
    expect([plain!.status, JSON.parse(plain!.body).error, plain!.headers['access-control-allow-origin']]).toEqual([404, 'not_found', '*']);
    expect([missing!.status, JSON.parse(missing!.body).message, missing!.headers['access-control-allow-origin']]).toEqual([404, 'no route for GET /v1/user/alice/events', '*']);
  });

  it('answers an event sent to the query port by mistake with a 404 that names the ingest port', async () => {
    // A new user's mix-up: `npm start` prints both ports, and curl to the query one got only
    // "no route for POST /v1/track", which does not say where events go.
    const event = JSON.stringify({ userId: 'u', event: 'e' });
    const answers = await exchange(query.server.port, [
      { method: 'POST', path: '/v1/track', headers: json, body: event },
      { method: 'POST', path: '/v1/batch/', headers: json, body: '{"batch":[]}' },
      { method: 'POST', path: '/api/s/s2s/track', headers: json, body: event },
      { method: 'GET', path: '/v1/tracks' },
    ]);
    const hint = ': this is the query port; events go to the ingest port (INGEST_PORT, 8080 unless set)';
    expect(answers.map((a) => [a.status, JSON.parse(a.body).message])).toEqual([
      [404, `no route for POST /v1/track${hint}`],
      [404, `no route for POST /v1/batch/${hint}`],
      [404, `no route for POST /api/s/s2s/track${hint}`],
      [404, 'no route for GET /v1/tracks'],
    ]);
  });

  it('leaves the ops routes as on every port: no CORS headers, OPTIONS 405, no trailing slash', async () => {
    const [health, options, slash] = await exchange(query.server.port, [
      { method: 'GET', path: '/healthz', headers: { Origin: SITE } },
      preflight('/metrics'),
      { method: 'GET', path: '/healthz/' },
    ]);
    expect([health!.status, corsOf(health!)]).toEqual([200, {}]);
    expect([options!.status, options!.headers.allow, corsOf(options!)]).toEqual([405, 'GET, HEAD', {}]);
    expect(slash!.status).toBe(404);
  });
});

describe('a trailing slash', () => {
  it('answers the same status, headers and bytes as the path without it, on every route', async () => {
    const requests: RawRequest[] = [
      { method: 'GET', path: '/v1/users/alice/events?limit=1', headers: read },
      { method: 'GET', path: `${USER_PATH}`, headers: read },
      { method: 'GET', path: '/v1/users/alice/events', headers: {} },
      { method: 'HEAD', path: '/v1/users/alice/events', headers: read },
      { method: 'GET', path: '/v1/rollups/daily?by=event', headers: read },
      { method: 'GET', path: `/graphql?query=${encodeURIComponent(PAGE_QUERY)}`, headers: read },
      graphqlPost({ query: PAGE_QUERY }),
      { method: 'GET', path: '/v1/volume', headers: read },
      { method: 'GET', path: '/v1/alerts', headers: read },
      { method: 'GET', path: '/v1/regulations/reg_1', headers: admin },
      { method: 'GET', path: '/v1/audit?limit=5', headers: admin },
      { method: 'GET', path: '/v1/pipeline', headers: {} },
      { method: 'GET', path: '/dashboard', headers: {} },
      { method: 'GET', path: '/registry/subjects', headers: read },
      { method: 'DELETE', path: '/v1/users/alice/events', headers: read, body: '' },
    ];
    const slashed = requests.map(withSlash);
    const plain = await exchange(query.server.port, requests);
    const slashAnswers = await exchange(query.server.port, slashed);
    plain.forEach((a, i) => {
      const what = `${slashed[i]!.method} ${slashed[i]!.path}`;
      expect(slashAnswers[i]!.status, what).toBe(a.status);
      expect(headersBesidesDate(slashAnswers[i]!), what).toEqual(headersBesidesDate(a));
      expect(slashAnswers[i]!.bodyBytes.equals(a.bodyBytes), what).toBe(true);
    });
    expect(plain.map((a) => a.status)).toEqual([200, 200, 401, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200, 200, 405]);
    expect(JSON.parse(slashAnswers[1]!.body).events.map((e: { event_id: string }) => e.event_id)).toEqual(['e3']);
  });

  it('keeps the user path as it is: an empty user id or a second slash is no route; an encoded slash is part of the id', async () => {
    const [empty, emptySlash, twice, encoded] = await exchange(query.server.port, [
      { method: 'GET', path: '/v1/users//events', headers: read },
      { method: 'GET', path: '/v1/users//events/', headers: read },
      { method: 'GET', path: '/v1/users/alice/events//', headers: read },
      { method: 'GET', path: `/v1/users/${encodeURIComponent('alice/')}/events/`, headers: read },
    ]);
    expect([empty!.status, emptySlash!.status, twice!.status]).toEqual([404, 404, 404]);
    // 'alice/' is another user than alice: none of hers.
    expect([encoded!.status, encoded!.body]).toEqual([200, '{"events":[],"next_cursor":null}']);
  });
});

describe('QUERY_CORS_ORIGINS as a list of origins', () => {
  const LIST = `${SITE},http://localhost:5173`;

  it('echoes a listed origin with Vary: Origin; another origin, or none, gets no Allow-Origin (Vary all the same)', async () => {
    const other = await query.another({ env: { QUERY_CORS_ORIGINS: LIST } });
    const path = '/v1/users/alice/events';
    const [listed, second, unlisted, none, refused] = await exchange(other.server.port, [
      { method: 'GET', path, headers: { ...read, Origin: SITE } },
      { method: 'GET', path, headers: { ...read, Origin: 'http://localhost:5173' } },
      { method: 'GET', path, headers: { ...read, Origin: 'https://evil.example' } },
      { method: 'GET', path, headers: read },
      { method: 'GET', path, headers: { Origin: SITE } },
    ]);
    expect([listed!.status, corsOf(listed!)]).toEqual([200, { 'access-control-allow-origin': SITE, 'access-control-expose-headers': EXPOSED, vary: 'Origin' }]);
    expect(second!.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect([unlisted!.status, corsOf(unlisted!)]).toEqual([200, { vary: 'Origin' }]);
    expect([none!.status, corsOf(none!)]).toEqual([200, { vary: 'Origin' }]);
    expect([refused!.status, refused!.headers['access-control-allow-origin']]).toEqual([401, SITE]);
  });

  it('answers a listed origin\'s preflight, and another\'s without any Access-Control-Allow-* (the browser then refuses)', async () => {
    const other = await query.another({ env: { QUERY_CORS_ORIGINS: LIST } });
    const [listed, unlisted, unknownPath] = await exchange(other.server.port, [
      preflight('/v1/users/alice/events/'),
      preflight('/v1/users/alice/events', 'GET', 'https://evil.example'),
      preflight('/nothing', 'GET', 'https://evil.example'),
    ]);
    expect([listed!.status, listed!.headers['access-control-allow-origin'], listed!.headers['access-control-allow-methods']]).toEqual([204, SITE, GET_HEAD]);
    expect([unlisted!.status, unlisted!.headers.allow, corsOf(unlisted!)]).toEqual([204, GET_HEAD, { vary: 'Origin' }]);
    expect([unknownPath!.status, corsOf(unknownPath!)]).toEqual([404, { vary: 'Origin' }]);
  });
});

describe('QUERY_CORS_ORIGINS empty (CORS off)', () => {
  it('sends no CORS header on any answer; OPTIONS on a route is 204 with Allow only, on no route 404', async () => {
    const other = await query.another({ env: { QUERY_CORS_ORIGINS: '' } });
    const answers = await exchange(other.server.port, [
      { method: 'GET', path: '/v1/users/alice/events', headers: { ...read, Origin: SITE } },
      { method: 'GET', path: '/v1/users/alice/events/', headers: { Origin: SITE } },
      { method: 'GET', path: '/v1/nothing', headers: { Origin: SITE } },
      preflight('/v1/rollups/daily/'),
      preflight('/v1/nothing'),
    ]);
    expect(answers.map((a) => [a.status, corsOf(a)])).toEqual([
      [200, {}],
      [401, {}],
      [404, {}],
      [204, {}],
      [404, {}],
    ]);
    expect(answers[3]!.headers.allow).toBe(GET_HEAD);
  });
});
