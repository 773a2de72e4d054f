// `trackhouse alerts` (its own process, on the run's real broker) answers a page of another origin
// as the query port does (query-cors.test.ts): preflights of /v1/volume and /v1/alerts, CORS
// headers on every answer, errors included, per QUERY_CORS_ORIGINS (`*`, the default, and a list
// of origins), the trailing-slash forms, and the ops routes as on every port: no CORS.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { loadConfig } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { exchange, type RawAnswer, type RawRequest } from '../support/raw-http.js';
import { tempDir } from '../support/env.js';
import { bearer, corsOf, EXPOSED, expectAnyOriginOnEvery, GET_HEAD, headersBesidesDate, preflight, SITE, withSlash } from './cors-helpers.js';
import { event, getJson, send, spawnAlerts, streamEnv, until, type AlertsChild } from './stream-helpers.js';

const read = bearer('test-read-key');
const OTHER_SITE = 'http://localhost:5173';
const FOREIGN = 'https://evil.example';

describe('trackhouse alerts from a page of another origin', () => {
  const dir = tempDir('trackhouse-stream-cors-');
  const children: AlertsChild[] = [];
  /** QUERY_CORS_ORIGINS unset (`*`), and a list of two origins. */
  let anyPort = 0;
  let listPort = 0;

  beforeAll(async () => {
    const env = streamEnv(dir.path);
    const config = loadConfig(env);
    const kafka = createKafka(config.kafka, silentLogger(), config.kafka.brokers);
    // Created once here, so the two processes starting together do not race to create them.
    await ensureTopics(kafka, config.kafka);
    const any = spawnAlerts(env);
    const list = spawnAlerts({ ...env, STREAM_DIR: path.join(dir.path, 'stream-list'), QUERY_CORS_ORIGINS: `${SITE},${OTHER_SITE}` });
    children.push(any, list);
    [anyPort, listPort] = await Promise.all([any.port, list.port]);
    // One event, so the 200s below carry what the stream counted from the broker.
    await send(kafka, config.kafka.topics.events, [event(Date.now(), { source: 'web' })]);
    for (const port of [anyPort, listPort]) {
      await until(`the event counted on port ${port}`, async () => (await getJson(`http://127.0.0.1:${port}/v1/volume?window=day`)).body.rows?.[0]?.events === 1);
    }
  });

  afterAll(async () => {
    for (const c of children) c.proc.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exit));
    dir.remove();
  });

  describe('QUERY_CORS_ORIGINS=* (the default)', () => {
    it('answers a preflight of /v1/volume and /v1/alerts, with and without a trailing slash: 204, any origin, GET, HEAD, OPTIONS (as the 405 lists them), the headers asked for, a max age', async () => {
      for (const p of ['/v1/volume', '/v1/volume/', '/v1/alerts', '/v1/alerts/']) {
        const [pre, refused] = await exchange(anyPort, [preflight(p), { method: 'POST', path: p, headers: read, body: '' }]);
        expect([pre!.status, pre!.body, pre!.headers.allow], `OPTIONS ${p}`).toEqual([204, '', GET_HEAD]);
        expect(corsOf(pre!), `OPTIONS ${p}`).toEqual({
          'access-control-allow-origin': '*',
          'access-control-expose-headers': EXPOSED,
          'access-control-allow-methods': GET_HEAD,
          'access-control-allow-headers': 'authorization, content-type',
          'access-control-max-age': '86400',
          vary: 'Access-Control-Request-Headers',
        });
        expect([refused!.status, refused!.headers.allow, refused!.headers['access-control-allow-origin']], `POST ${p}`).toEqual([405, GET_HEAD, '*']);
      }
    });

    it('puts Access-Control-Allow-Origin and the exposed headers on every answer, the 200s with the counted event and the 401s included', async () => {
      const cases: [RawRequest, number][] = [
        [{ method: 'GET', path: '/v1/volume?window=day', headers: { ...read, Origin: SITE } }, 200],
        [{ method: 'HEAD', path: '/v1/volume', headers: read }, 200],
        [{ method: 'GET', path: '/v1/alerts', headers: read }, 200],
        [{ method: 'GET', path: '/v1/volume', headers: { Origin: SITE } }, 401],
        [{ method: 'GET', path: '/v1/alerts', headers: bearer('wrong') }, 401],
        [{ method: 'GET', path: '/v1/volume?by=nothing', headers: read }, 400],
        [{ method: 'DELETE', path: '/v1/alerts', headers: read, body: '' }, 405],
        [{ method: 'GET', path: '/v1/nothing', headers: read }, 404],
      ];
      const answers = await exchange(anyPort, cases.map(([r]) => r));
      expectAnyOriginOnEvery(answers, cases, (a, what) => expect(a.headers['cache-control'], what).toBe('no-store'));
      expect(JSON.parse(answers[0]!.body).rows).toEqual([expect.objectContaining({ key: 'web', events: 1 })]);
      expect(JSON.parse(answers[3]!.body).error).toBe('unauthorized');
      expect(answers[4]!.headers['www-authenticate']).toContain('invalid_token');
      expect(JSON.parse(answers[7]!.body).message).toBe('no route for GET /v1/nothing');
    });

    it('lets a preflight for a path no route takes through, so the page reads the 404 that follows; a plain OPTIONS there is a 404', async () => {
      const [pre, plain] = await exchange(anyPort, [preflight('/v1/volumes'), { method: 'OPTIONS', path: '/v1/volumes' }]);
      expect([pre!.status, pre!.headers['access-control-allow-origin'], pre!.headers['access-control-allow-methods'], pre!.headers.allow]).toEqual([204, '*', 'GET', undefined]);
      expect([plain!.status, JSON.parse(plain!.body).error, plain!.headers['access-control-allow-origin']]).toEqual([404, 'not_found', '*']);
    });

    it('answers a trailing slash as the path without it: status, headers and body (the watermark aside, which moves)', async () => {
      const requests: RawRequest[] = [
        { method: 'GET', path: '/v1/volume?window=day', headers: read },
        { method: 'GET', path: '/v1/alerts', headers: read },
        { method: 'GET', path: '/v1/volume', headers: {} },
        { method: 'GET', path: '/v1/alerts?rule=none', headers: read },
        { method: 'POST', path: '/v1/volume', headers: read, body: '' },
      ];
      const plain = await exchange(anyPort, requests);
      const slashed = await exchange(anyPort, requests.map(withSlash));
      const body = (a: RawAnswer) => ({ ...JSON.parse(a.body), watermark: 'moves' });
      plain.forEach((a, i) => {
        const what = `${requests[i]!.method} ${requests[i]!.path} with a slash`;
        expect(slashed[i]!.status, what).toBe(a.status);
        expect(headersBesidesDate(slashed[i]!), what).toEqual(headersBesidesDate(a));
        expect(body(slashed[i]!), what).toEqual(body(a));
      });
      expect(plain.map((a) => a.status)).toEqual([200, 200, 401, 400, 405]);
      expect(JSON.parse(slashed[0]!.body).rows).toEqual([expect.objectContaining({ key: 'web', events: 1 })]);
    });

    it('leaves the ops routes as on every port: no CORS headers, OPTIONS 405, no trailing slash', async () => {
      const [health, ready, metrics, options, slash] = await exchange(anyPort, [
        { method: 'GET', path: '/healthz', headers: { Origin: SITE } },
        { method: 'GET', path: '/readyz', headers: { Origin: SITE } },
        { method: 'GET', path: '/metrics', headers: { Origin: SITE } },
        preflight('/metrics'),
        { method: 'GET', path: '/healthz/' },
      ]);
      expect([health!.status, corsOf(health!)]).toEqual([200, {}]);
      expect([ready!.status, corsOf(ready!)]).toEqual([200, {}]);
      expect([metrics!.status, corsOf(metrics!)]).toEqual([200, {}]);
      expect(metrics!.body).toContain('trackhouse_stream_records_total');
      expect([options!.status, options!.headers.allow, corsOf(options!)]).toEqual([405, 'GET, HEAD', {}]);
      expect(slash!.status).toBe(404);
    });
  });

  describe('QUERY_CORS_ORIGINS as a list of origins', () => {
    it('echoes a listed origin with Vary: Origin on a 200 and a 401; another origin, or none, gets no Allow-Origin (Vary all the same)', async () => {
      const [listed, second, refused, foreign, none] = await exchange(listPort, [
        { method: 'GET', path: '/v1/volume?window=day', headers: { ...read, Origin: SITE } },
        { method: 'GET', path: '/v1/alerts/', headers: { ...read, Origin: OTHER_SITE } },
        { method: 'GET', path: '/v1/alerts', headers: { Origin: SITE } },
        { method: 'GET', path: '/v1/volume?window=day', headers: { ...read, Origin: FOREIGN } },
        { method: 'GET', path: '/v1/volume', headers: read },
      ]);
      expect([listed!.status, corsOf(listed!)]).toEqual([200, { 'access-control-allow-origin': SITE, 'access-control-expose-headers': EXPOSED, vary: 'Origin' }]);
      expect(JSON.parse(listed!.body).rows).toEqual([expect.objectContaining({ key: 'web', events: 1 })]);
      expect([second!.status, second!.headers['access-control-allow-origin']]).toEqual([200, OTHER_SITE]);
      expect([refused!.status, corsOf(refused!)]).toEqual([401, { 'access-control-allow-origin': SITE, 'access-control-expose-headers': EXPOSED, vary: 'Origin' }]);
      // The answer is there (a server cannot tell a browser from curl); the browser keeps it from the page.
      expect([foreign!.status, corsOf(foreign!)]).toEqual([200, { vary: 'Origin' }]);
      expect([none!.status, corsOf(none!)]).toEqual([200, { vary: 'Origin' }]);
    });

    it("answers a listed origin's preflight, and another's without any Access-Control-Allow-* (the browser then refuses)", async () => {
      const [listed, foreign, unknownPath] = await exchange(listPort, [preflight('/v1/alerts/'), preflight('/v1/volume', 'GET', FOREIGN), preflight('/nothing', 'GET', FOREIGN)]);
      expect([listed!.status, listed!.headers['access-control-allow-origin'], listed!.headers['access-control-allow-methods']]).toEqual([204, SITE, GET_HEAD]);
      expect([foreign!.status, foreign!.headers.allow, corsOf(foreign!)]).toEqual([204, GET_HEAD, { vary: 'Origin' }]);
      expect([unknownPath!.status, corsOf(unknownPath!)]).toEqual([404, { vary: 'Origin' }]);
    });
  });
});
