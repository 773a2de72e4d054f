// HEAD on the ingest and query servers, on one keep-alive connection as clients reuse it: every
// answer to HEAD has a GET's status and headers and no body, so the next answer on the connection
// is read intact (uWS would send the body, which a client then takes for the next answer's start).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exchange, type RawRequest } from '../support/raw-http.js';
import { startTestIngest, type TestIngest } from './ingest-support.js';
import { READ_KEY, startHarness, type Harness } from './query-helpers.js';

let ingest: TestIngest;
let query: Harness;

beforeAll(async () => {
  ingest = await startTestIngest();
  query = await startHarness();
});

afterAll(async () => {
  await query?.close();
  await ingest?.close();
});

const head = (path: string, headers?: Record<string, string>): RawRequest => ({ method: 'HEAD', path, headers });
const healthz: RawRequest = { method: 'GET', path: '/healthz' };

it('ingest: HEAD of an API path is a bodyless 405, of an unknown path a bodyless 404, of /healthz a bodyless 200', async () => {
  const answers = await exchange(ingest.handle.port, [head('/v1/track'), head('/v1/batch/'), head('/nope'), head('/healthz'), head('/readyz'), healthz]);
  expect(answers.map((a) => a.status)).toEqual([405, 405, 404, 200, 200, 200]);
  expect(answers.slice(0, 5).map((a) => a.body)).toEqual(['', '', '', '', '']);
  expect(answers[0]!.headers.allow).toBe('POST, OPTIONS');
  expect(Number(answers[0]!.headers['content-length'])).toBeGreaterThan(0);
  expect(answers[3]!.headers['content-length']).toBe('15');
  expect(answers[5]!.body).toBe('{"status":"ok"}');
});

it('query: HEAD of an API path is a bodyless 405 (Allow: GET), of an unknown path a bodyless 404, of /metrics a bodyless 200', async () => {
  const auth = { Authorization: `Bearer ${READ_KEY}` };
  const answers = await exchange(query.server.port, [
    head('/v1/users/alice/events', auth),
    head('/v1/rollups/daily?by=event', auth),
    head('/v1/nothing', auth),
    head('/metrics'),
    healthz,
  ]);
  expect(answers.map((a) => a.status)).toEqual([405, 405, 404, 200, 200]);
  expect(answers.slice(0, 4).map((a) => a.body)).toEqual(['', '', '', '']);
  expect(answers[0]!.headers.allow).toBe('GET');
  expect(answers[0]!.headers['cache-control']).toBe('no-store');
  expect(Number(answers[3]!.headers['content-length'])).toBeGreaterThan(0);
  expect(answers[4]!.body).toBe('{"status":"ok"}');
});

it('both: other methods on /healthz, /readyz and /metrics get 405 with Allow: GET, HEAD', async () => {
  for (const port of [ingest.handle.port, query.server.port]) {
    const answers = await exchange(port, [
      { method: 'POST', path: '/healthz', body: '{}' },
      { method: 'DELETE', path: '/readyz' },
      { method: 'PUT', path: '/metrics', body: '' },
      healthz,
    ]);
    expect(answers.map((a) => a.status)).toEqual([405, 405, 405, 200]);
    for (const a of answers.slice(0, 3)) {
      expect(a.headers.allow).toBe('GET, HEAD');
      expect(JSON.parse(a.body)).toMatchObject({ error: 'method_not_allowed' });
    }
  }
});
